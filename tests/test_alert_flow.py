"""Alerts end to end: silences, acknowledgements, an outage with a restart, the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from support import Receiver
from test_jobs import _hours, _settings

from monitor.clock import FixedClock
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.storage import alerts as alerts_store
from monitor.storage.engine import Database


def _drifted(tmp_path: Path, db: Database, clock: FixedClock, url: str) -> JobContext:
    ctx = JobContext(
        settings=_settings(tmp_path, db.url, url), db=db, clock=clock, environ={"HOOK_SECRET": "k"}
    )
    _hours(tmp_path / "q.jsonl", clock, 4, 0.0, seed=4)
    _hours(tmp_path / "q.jsonl", clock, 1, 0.5, seed=5)
    run_job(ctx, "sample")
    return ctx


def test_silence_mutes_until_it_ends(
    tmp_path: Path, db: Database, clock: FixedClock, receiver: Receiver
) -> None:
    ctx = _drifted(tmp_path, db, clock, receiver.url)
    with db.transaction() as s:
        alerts_store.add_silence(
            s,
            {"alertname": "Drift"},
            clock.now(),
            clock.now() + timedelta(hours=1),
            "test",
            "deploying",
        )
    run_job(ctx, "drift")
    run_job(ctx, "deliver")
    assert receiver.requests == []
    with db.read() as s:
        assert [a.state for a in alerts_store.active_alerts(s)] == ["firing"]
    clock.advance(timedelta(hours=1, seconds=1))
    run_job(ctx, "alerts")
    run_job(ctx, "deliver")
    assert [b["alert"]["name"] for b in receiver.bodies()] == ["Drift"]  # type: ignore[index]


def test_acknowledged_alert_is_not_renotified_but_resolves(
    tmp_path: Path, db: Database, clock: FixedClock, receiver: Receiver
) -> None:
    ctx = _drifted(tmp_path, db, clock, receiver.url)
    run_job(ctx, "drift")
    run_job(ctx, "deliver")
    assert len(receiver.requests) == 1
    with db.transaction() as s:
        (alert,) = alerts_store.active_alerts(s)
        alerts_store.acknowledge(s, alert.id, "oncall", clock.now())
    clock.advance(timedelta(hours=5))  # past alerts.renotify (4h)
    run_job(ctx, "alerts")
    run_job(ctx, "deliver")
    assert len(receiver.requests) == 1
    _hours(tmp_path / "q.jsonl", clock, 1, 0.0, seed=9)
    run_job(ctx, "sample")
    run_job(ctx, "drift")
    run_job(ctx, "deliver")
    assert [b["event"] for b in receiver.bodies()] == ["firing", "resolved"]


def test_outage_and_restart_lose_nothing_and_send_nothing_twice(
    tmp_path: Path, db: Database, clock: FixedClock, receiver: Receiver
) -> None:
    ctx = _drifted(tmp_path, db, clock, receiver.url)
    receiver.server.stop()  # the receiver is down while the alert fires and resolves
    run_job(ctx, "drift")
    run_job(ctx, "deliver")
    _hours(tmp_path / "q.jsonl", clock, 1, 0.0, seed=9)
    run_job(ctx, "sample")
    run_job(ctx, "drift")
    for _ in range(3):
        clock.advance(timedelta(minutes=30))
        run_job(ctx, "deliver")
    ctx.close()
    # the agent restarts against the same database; the receiver comes back
    back = Receiver()
    back.server.start()
    try:
        settings = _settings(tmp_path, db.url, back.url)
        restarted = JobContext(
            settings=settings, db=Database(db.url), clock=clock, environ={"HOOK_SECRET": "k"}
        )
        clock.advance(timedelta(hours=2))
        run_job(restarted, "deliver")
        run_job(restarted, "deliver")
        restarted.db.dispose()
    finally:
        back.server.stop()
    events = [(b["alert"]["name"], b["event"]) for b in back.bodies()]  # type: ignore[index]
    assert events == [("Drift", "firing"), ("Drift", "resolved")]
    ids = [r.headers["webhook-id"] for r in back.requests]
    assert len(set(ids)) == 2, "each delivery once, each with its own idempotency key"


def test_cli_silence_ack_list_and_test_sink(
    tmp_path: Path, db: Database, clock: FixedClock, receiver: Receiver
) -> None:
    ctx = _drifted(tmp_path, db, clock, receiver.url)
    run_job(ctx, "drift")
    cfg = str(tmp_path / "d.toml")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "alerts", *args, "-c", cfg],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOOK_SECRET": "k"},
        )

    listed = cli("list")
    assert listed.returncode == 0 and "firing" in listed.stdout and "Drift" in listed.stdout
    with db.read() as s:
        (alert,) = alerts_store.active_alerts(s)
    acked = cli("ack", alert.fingerprint[:8], "--by", "jane")
    assert acked.returncode == 0 and "acknowledged by jane" in acked.stdout
    silenced = cli("silence", "--match", "model=m", "--for", "30m", "--comment", "deploy")
    assert silenced.returncode == 0 and silenced.stdout.startswith("silence ")
    sid = silenced.stdout.split()[1]
    assert "model=m until" in cli("list").stdout
    assert cli("unsilence", sid).returncode == 0
    bad = cli("unsilence", sid)
    assert bad.returncode == 2 and "no active silence" in bad.stderr
    assert cli("silence", "--match", "oops").returncode == 2
    tested = cli("test", "--sink", "hook")
    assert tested.returncode == 0, tested.stderr
    assert receiver.bodies()[-1]["event"] == "test"
    assert cli("test", "--sink", "nope").stderr.startswith("driftmon: error: no sink named")
