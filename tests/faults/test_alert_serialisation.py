"""Alert evaluation is serialised: a canary commit between an evaluator's reads never flaps.

Three jobs evaluate alerts. The test pauses the alerts job right after it read
the signals and lets the canary job commit a changed run (and its own
evaluation) at that moment; every transition must be notified exactly once.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, text
from support import Receiver, postgres_schema_url
from test_alert_flow import _drifted
from test_jobs import _hours

from monitor.alerting.rules import Transition
from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.demo_data import canary_set
from monitor.domain import AlertRecord, Signal
from monitor.jobs import alerts as alerts_job
from monitor.jobs.context import JobContext, Resources
from monitor.jobs.runner import run_job
from monitor.providers import build_provider
from monitor.storage import job_runs as ops
from monitor.storage.engine import Database
from monitor.storage.migrate import upgrade
from monitor.storage.schema import AlertDelivery


def _ctx(tmp_path: Path, db: Database, clock: FixedClock) -> JobContext:
    items, qrels = canary_set(np.random.default_rng(5), per_topic=3)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (tmp_path / "c.qrels").write_text("\n".join(qrels) + "\n")
    (tmp_path / "d.toml").write_text(f"""
[database]
url = "{db.url}"
[[models]]
name = "prod"
dimensions = 64
[[canary_sets]]
name = "core"
path = "c.jsonl"
qrels = "c.qrels"
[[alerts.rules]]
name = "ModelChanged"
signal = "canary_changed"
severity = "critical"
[[alerts.sinks]]
name = "hook"
url = "http://127.0.0.1:9/never-sent"
""")
    return JobContext(settings=load_settings(tmp_path / "d.toml"), db=db, clock=clock)


def _events(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(AlertDelivery.event).order_by(AlertDelivery.id)).all())


def _lock_waiters(db: Database) -> int:
    key = ops.advisory_key("alerts") & 0xFFFFFFFFFFFFFFFF
    with db.read() as s:
        return int(
            s.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND classid::bigint = :hi AND objid::bigint = :lo"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
            )
            or 0
        )


@pytest.fixture
def pg_db() -> Iterator[Database]:
    """PostgreSQL only: SQLite runs one writer at a time, so there is nothing to interleave."""
    for url in postgres_schema_url():
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


@pytest.mark.postgres
def test_a_canary_commit_between_an_evaluators_reads_notifies_once(
    tmp_path: Path, pg_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pg_db
    ctx = _ctx(tmp_path, db, clock)
    assert run_job(ctx, "canary").details["prod/core"]["verdict"] == "unchanged"
    changed = dataclasses.replace(ctx, replica="canary", resources=Resources())
    model = ctx.settings.model("prod")
    changed.providers["prod"] = build_provider(dataclasses.replace(model, variant="rotated"))
    canary_done = threading.Event()
    outcome: dict[str, Any] = {}

    def canary() -> None:
        outcome["canary"] = run_job(changed, "canary")
        canary_done.set()

    real = alerts_job.collect_signals

    def read_then_let_the_canary_commit(*args: Any, **kw: Any) -> list[Signal]:
        signals = real(*args, **kw)
        if "thread" not in outcome:  # only the paused evaluator, not the canary's own
            outcome["thread"] = threading.Thread(target=canary)
            outcome["thread"].start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # committed (no lock), or waiting for ours
                if canary_done.is_set() or _lock_waiters(db) > 0:
                    break
                time.sleep(0.05)
        return signals

    monkeypatch.setattr(alerts_job, "collect_signals", read_then_let_the_canary_commit)
    assert run_job(ctx, "alerts").status == "ok"
    outcome["thread"].join(timeout=120)
    monkeypatch.setattr(alerts_job, "collect_signals", real)
    assert outcome["canary"].details["prod/core"]["verdict"] == "changed"
    run_job(ctx, "alerts")  # a later evaluation finds nothing new
    assert _events(db) == ["firing"]


def _transition(state: str, severity: str, version: str) -> Transition:
    existing = AlertRecord(  # type: ignore[call-arg]
        **{f.name: None for f in dataclasses.fields(AlertRecord)}
    )
    existing = dataclasses.replace(existing, value=1.0, summary="fired", state="firing")
    return Transition(
        rule="R",
        fingerprint="f",
        labels={"model": "prod", "model_version": version},
        severity=severity,
        state=state,
        streak=0,
        value=0.0,
        summary="recovered",
        result_id=1,
        existing=existing,
        notify="resolved",
    )


def test_a_critical_alert_does_not_resolve_while_its_version_is_changed() -> None:
    changed = Signal("canary_changed", {"model": "prod", "model_version": "v1"}, 1.0, 1)
    kept = [
        _transition("resolved", "critical", "v2"),  # another version: resolves
        _transition("resolved", "warning", "v1"),  # not critical: resolves
    ]
    held = _transition("resolved", "critical", "v1")
    assert alerts_job._hold_critical([held, *kept], [changed]) == kept


def test_a_resolved_alert_keeps_the_summary_and_value_that_fired_it(
    tmp_path: Path, db: Database, clock: FixedClock, receiver: Receiver
) -> None:
    ctx = _drifted(tmp_path, db, clock, receiver.url)
    try:
        run_job(ctx, "drift")
        _hours(tmp_path / "q.jsonl", clock, 1, 0.0, seed=9)  # the drift goes away
        run_job(ctx, "sample")
        run_job(ctx, "drift")
        run_job(ctx, "deliver")
    finally:
        ctx.close()  # the webhook client's connection to the receiver
    fired, resolved = (b["alert"] for b in receiver.bodies())
    assert resolved["status"] == "resolved"  # type: ignore[index]
    assert (resolved["summary"], resolved["value"]) == (fired["summary"], fired["value"])  # type: ignore[index]
