"""The jobs end to end on both databases: a fixed clock, the hash embedder, a real receiver."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from monitor.clock import FixedClock
from monitor.config import Settings, load_settings
from monitor.demo_data import canary_set, queries, write_queries
from monitor.errors import ProviderError
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.providers import build_provider
from monitor.storage.engine import Database
from monitor.storage.schema import (
    AlertDelivery,
    CanaryRun,
    DriftMetric,
    DriftRun,
    JobRun,
    QueryEmbedding,
    QuerySample,
)

HOUR = timedelta(hours=1)


def _settings(tmp_path: Path, url: str, hook: str, **drift: str) -> Settings:
    rng = np.random.default_rng(5)
    items, qrels = canary_set(rng, per_topic=3)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (tmp_path / "c.qrels").write_text("\n".join(qrels) + "\n")
    extra = "".join(f'{k} = "{v}"\n' for k, v in drift.items())
    (tmp_path / "d.toml").write_text(f"""
[database]
url = "{url}"
[[models]]
name = "m"
dimensions = 128
[[canary_sets]]
name = "core"
path = "c.jsonl"
qrels = "c.qrels"
[[sources]]
name = "log"
path = "q.jsonl"
[sampling]
max_per_window = 150
[drift]
reference = "rolling:4h"
permutations = 200
{extra}
[[alerts.rules]]
name = "Drift"
signal = "drift"
for_runs = 1
[[alerts.rules]]
name = "ModelChanged"
signal = "canary_changed"
severity = "critical"
[[alerts.sinks]]
name = "hook"
url = "{hook}"
secret_env = "HOOK_SECRET"
""")
    return load_settings(tmp_path / "d.toml")


def _hours(path: Path, clock: FixedClock, n: int, share: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        write_queries(path, queries(150, rng, drift_share=share), clock.now(), HOUR)
        clock.advance(HOUR)


def _count(db: Database, table: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_full_cycle_detects_drift_and_model_change_and_delivers(
    tmp_path: Path, db: Database, clock: FixedClock, receiver
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path, db.url, receiver.url)
    ctx = JobContext(
        settings=settings, db=db, clock=clock, replica="test", environ={"HOOK_SECRET": "s3cret"}
    )
    qfile = tmp_path / "q.jsonl"
    _hours(qfile, clock, 5, 0.0, seed=1)
    for job in ("sample", "canary", "drift", "alerts", "deliver"):
        assert run_job(ctx, job).status == "ok", job
    with db.read() as s:
        (run,) = s.scalars(select(DriftRun)).all()
        assert (run.verdict, run.n_cur, run.n_ref) == ("no_drift", 150, 600)
        assert s.scalar(select(func.count()).select_from(DriftMetric)) >= 1
        # repeated queries share one embedding call but each sample has its vector
        assert s.scalar(select(func.count()).select_from(QueryEmbedding)) == 750
        assert s.scalar(select(func.count()).select_from(QuerySample)) == 750
    assert receiver.requests == []

    _hours(qfile, clock, 1, 0.4, seed=2)
    run_job(ctx, "sample")
    drift = run_job(ctx, "drift")
    assert drift.details["m"]["verdict"] == "drift"
    assert run_job(ctx, "deliver").items == 1
    (firing,) = receiver.bodies()
    assert firing["event"] == "firing" and firing["alert"]["name"] == "Drift"  # type: ignore[index]
    assert firing["version"] == 1

    # a silent model change: same settings, different vectors from the endpoint
    model = settings.models[0]
    ctx.providers["m"] = build_provider(dataclasses.replace(model, variant="other"))
    canary = run_job(ctx, "canary")
    assert canary.details["m/core"]["verdict"] == "changed"
    run_job(ctx, "deliver")
    names = [(b["alert"]["name"], b["event"]) for b in receiver.bodies()]  # type: ignore[index]
    assert ("ModelChanged", "firing") in names
    assert _count(db, AlertDelivery) == len(receiver.requests)

    # drift runs stop mixing vectors from before and after the change...
    _hours(qfile, clock, 1, 0.0, seed=3)
    run_job(ctx, "sample")
    suspended = run_job(ctx, "drift").details["m"]
    assert suspended["verdict"] == "suspended" and "rebaseline" in suspended["reason"]
    # ...until the baseline is retaken; cached query vectors are dropped with it
    from monitor.jobs.canary import rebaseline

    out = rebaseline(ctx, "m", "core", reason="index rebuilt", by="test")
    assert out["dropped_query_vectors"] == 900
    assert run_job(ctx, "canary").details["m/core"]["verdict"] == "unchanged"
    assert run_job(ctx, "drift").details["m"]["verdict"] in ("drift", "no_drift")


def test_drift_run_is_not_repeated_without_new_data(
    tmp_path: Path, db: Database, clock: FixedClock, receiver
) -> None:  # type: ignore[no-untyped-def]
    ctx = JobContext(settings=_settings(tmp_path, db.url, receiver.url), db=db, clock=clock)
    _hours(tmp_path / "q.jsonl", clock, 3, 0.0, seed=3)
    run_job(ctx, "sample")
    run_job(ctx, "drift")
    again = run_job(ctx, "drift")
    assert again.details["m"] == {"verdict": "unchanged input, not re-run"}
    assert _count(db, DriftRun) == 1


def test_a_failing_provider_leaves_no_partial_rows(
    tmp_path: Path, db: Database, clock: FixedClock, receiver
) -> None:  # type: ignore[no-untyped-def]
    ctx = JobContext(settings=_settings(tmp_path, db.url, receiver.url), db=db, clock=clock)
    assert run_job(ctx, "canary").status == "ok"  # baseline and first run

    class Broken:
        dimension = 128
        calls = 0

        def embed(self, texts, kind):  # type: ignore[no-untyped-def]
            Broken.calls += 1
            if Broken.calls == 2:  # queries embedded, documents fail
                raise ProviderError("endpoint returned HTTP 503")
            return build_provider(ctx.settings.models[0]).embed(texts, kind)

        def close(self) -> None:
            pass

    ctx.providers["m"] = Broken()  # type: ignore[assignment]
    before = _count(db, CanaryRun)
    outcome = run_job(ctx, "canary")
    assert outcome.status == "failed" and "HTTP 503" in outcome.message
    assert _count(db, CanaryRun) == before
    with db.read() as s:
        last = s.scalars(select(JobRun).order_by(JobRun.id.desc())).first()
        assert last is not None and (last.status, last.error) == ("failed", outcome.message)


def test_insufficient_data_is_stored_not_alarmed(
    tmp_path: Path, db: Database, clock: FixedClock, receiver
) -> None:  # type: ignore[no-untyped-def]
    ctx = JobContext(settings=_settings(tmp_path, db.url, receiver.url), db=db, clock=clock)
    rng = np.random.default_rng(0)
    write_queries(tmp_path / "q.jsonl", queries(20, rng), clock.now(), HOUR)
    clock.advance(HOUR)
    write_queries(tmp_path / "q.jsonl", queries(20, rng, drift_share=1.0), clock.now(), HOUR)
    run_job(ctx, "sample")
    out = run_job(ctx, "drift")
    assert out.details["m"]["verdict"] == "insufficient_data"
    run_job(ctx, "alerts")
    run_job(ctx, "deliver")
    assert receiver.requests == []


def test_outbox_survives_a_receiver_outage(
    tmp_path: Path, db: Database, clock: FixedClock, receiver
) -> None:  # type: ignore[no-untyped-def]
    """At-least-once: a 503 and a refused connection are retried; the id never changes."""
    ctx = JobContext(
        settings=_settings(tmp_path, db.url, receiver.url),
        db=db,
        clock=clock,
        environ={"HOOK_SECRET": "k"},
    )
    _hours(tmp_path / "q.jsonl", clock, 4, 0.0, seed=4)
    _hours(tmp_path / "q.jsonl", clock, 1, 0.5, seed=5)
    run_job(ctx, "sample")
    run_job(ctx, "drift")
    receiver.script = [(503, {"Retry-After": "60"})]
    assert run_job(ctx, "deliver").details == {"sent": 0, "failed": 1, "dead": 0}
    assert run_job(ctx, "deliver").items == 0, "not due before Retry-After"
    clock.advance(timedelta(seconds=61))
    assert run_job(ctx, "deliver").items == 1
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and len(ids) == 1
    assert run_job(ctx, "deliver").items == 0, "delivered once"


@pytest.mark.parametrize(
    "status,dead",
    [pytest.param(404, True, id="4xx-is-final"), pytest.param(500, False, id="5xx-retries")],
)
def test_client_errors_are_dead_server_errors_retry(
    tmp_path: Path, db: Database, clock: FixedClock, receiver, status: int, dead: bool
) -> None:  # type: ignore[no-untyped-def]
    ctx = JobContext(
        settings=_settings(tmp_path, db.url, receiver.url),
        db=db,
        clock=clock,
        environ={"HOOK_SECRET": "k"},
    )
    _hours(tmp_path / "q.jsonl", clock, 4, 0.0, seed=4)
    _hours(tmp_path / "q.jsonl", clock, 1, 0.5, seed=5)
    run_job(ctx, "sample")
    run_job(ctx, "drift")
    receiver.script = [(status, {})]
    assert run_job(ctx, "deliver").details["dead"] == int(dead)


def test_a_missing_query_file_fails_the_job_with_its_name(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    ctx = JobContext(
        settings=_settings(tmp_path, db.url, "http://127.0.0.1:9/x"), db=db, clock=clock
    )
    out = run_job(ctx, "sample")
    assert out.status == "failed"
    assert out.message == f"source 'log': no file matches {tmp_path / 'q.jsonl'}"
