"""A real Alertmanager 0.25 on loopback: push, read back, see its webhook fire and resolve."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support import SERVICE_MISSING, Receiver, free_port

from monitor.alerting.rules import Transition
from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.jobs.alerts import queue_resends, write_transitions
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.storage import alerts as alerts_store
from monitor.storage.engine import Database
from monitor.storage.migrate import upgrade

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    if BINARY is None:
        pytest.skip(f"{SERVICE_MISSING} Alertmanager (apt-get install prometheus-alertmanager)")
    port = free_port()
    (tmp_path / "am.yml").write_text(f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {receiver.url}
        send_resolved: true
""")
    proc = subprocess.Popen(
        [
            BINARY,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("alertmanager did not start")
            time.sleep(0.1)  # waiting for a separate process to listen
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for(receiver: Receiver, status: str, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for body in receiver.bodies():
            if body.get("status") == status:
                return body
        time.sleep(0.1)  # Alertmanager notifies on its own timers
    raise AssertionError(f"no {status} webhook from Alertmanager; got {receiver.bodies()}")


def test_push_fire_and_resolve_through_alertmanager(
    tmp_path: Path, alertmanager: str, receiver: Receiver
) -> None:
    (tmp_path / "c.toml").write_text(f"""
[database]
url = "sqlite:///{tmp_path / "a.db"}"
[[alerts.sinks]]
name = "am"
kind = "alertmanager"
url = "{alertmanager}"
""")
    settings = load_settings(tmp_path / "c.toml")
    db = Database(settings.database.url)
    upgrade(db)
    clock = FixedClock(datetime.now(UTC))  # Alertmanager judges startsAt/endsAt in real time
    ctx = JobContext(settings=settings, db=db, clock=clock)
    labels = {
        "model": "prod",
        "model_version": "v1",
        "alertname": "EmbeddingQueryDrift",
        "severity": "warning",
    }
    firing = Transition(
        rule="EmbeddingQueryDrift",
        fingerprint="fp1",
        labels=labels,
        severity="warning",
        state="firing",
        streak=2,
        value=1.0,
        summary="Query drift on prod (v1)",
        result_id=1,
        existing=None,
        notify="firing",
        description="two runs",
    )
    try:
        with db.transaction() as s:
            write_transitions(s, [firing], settings.alerts.sinks, clock.now())
        assert run_job(ctx, "deliver").items == 1
        alerts = httpx.get(alertmanager + "/api/v2/alerts", timeout=5).json()
        (am_alert,) = [a for a in alerts if a["labels"]["alertname"] == "EmbeddingQueryDrift"]
        assert am_alert["labels"]["model_version"] == "v1"
        assert am_alert["annotations"]["summary"] == "Query drift on prod (v1)"
        assert am_alert["status"]["state"] == "active"
        fired = _wait_for(receiver, "firing")
        assert fired["alerts"][0]["labels"]["model"] == "prod"  # type: ignore[index]

        # a firing alert is re-sent to Alertmanager every minute (the alerts job does this)
        with db.transaction() as s:
            assert queue_resends(s, settings.alerts.sinks, timedelta(hours=4), clock.now()) == 0
        clock.advance(timedelta(seconds=61))
        with db.transaction() as s:
            assert queue_resends(s, settings.alerts.sinks, timedelta(hours=4), clock.now()) == 1
        assert run_job(ctx, "deliver").items == 1

        with db.read() as s:
            (record,) = alerts_store.active_alerts(s)
        resolved = Transition(
            rule=record.rule,
            fingerprint="fp1",
            labels=labels,
            severity="warning",
            state="resolved",
            streak=0,
            value=0.0,
            summary=record.summary,
            result_id=2,
            existing=record,
            notify="resolved",
        )
        clock.set(datetime.now(UTC))
        with db.transaction() as s:
            write_transitions(s, [resolved], settings.alerts.sinks, clock.now())
        assert run_job(ctx, "deliver").items == 1
        done = _wait_for(receiver, "resolved")
        assert done["alerts"][0]["labels"]["alertname"] == "EmbeddingQueryDrift"  # type: ignore[index]
    finally:
        ctx.close()
        db.dispose()
