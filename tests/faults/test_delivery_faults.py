"""Delivery under faults: a hanging sink delays no other; two workers never double-send."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fault_helpers import DRIFTMON, write_config
from sqlalchemy import func, select

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.server import HttpServer, Request, Response
from monitor.storage import alerts as ops
from monitor.storage.engine import Database
from monitor.storage.schema import AlertDelivery


class _Hang:
    """Accepts connections and never answers; counts the ones open now."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.open = 0
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.open += 1
            self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while conn.recv(4096):
                pass
        self.open -= 1
        conn.close()


def _queue(db: Database, sinks: list[str], n: int, now: datetime) -> None:
    with db.transaction() as s:
        alert_id = ops.save_alert(
            s,
            None,
            now,
            rule="R",
            fingerprint="f",
            labels={},
            severity="warning",
            state="firing",
            streak=1,
            value=1.0,
            summary="s",
            started_at=now,
        )
        for i in range(n):
            for sink in sinks:
                ops.add_delivery(
                    s,
                    alert_id=alert_id,
                    sink=sink,
                    event="firing",
                    idempotency_key=f"msg_{sink}_{i}",
                    payload={"n": i},
                    now=now,
                )


def test_a_hanging_sink_delays_no_other_sink(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    hang = _Hang()
    seen_while_hanging: list[bool] = []

    def good(_req: Request) -> Response:
        deadline = time.monotonic() + 20  # wait for the hanging sink to be mid-request
        while hang.open == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_while_hanging.append(hang.open > 0)
        return Response(204, b"")

    server = HttpServer("127.0.0.1:0", {"/hook": good})
    server.start()
    try:
        (tmp_path / "d.toml").write_text(f"""
[database]
url = "{db.url}"
[[alerts.sinks]]
name = "hang"
url = "{hang.url}"
timeout = "8s"
[[alerts.sinks]]
name = "good"
url = "{server.url}/hook"
""")
        ctx = JobContext(settings=load_settings(tmp_path / "d.toml"), db=db, clock=clock)
        _queue(db, ["hang", "good"], 3, clock.now())
        out = run_job(ctx, "deliver")
        assert out.status == "ok", out.message
        assert out.details == {"sent": 3, "failed": 1, "dead": 0}
        assert seen_while_hanging == [True, True, True]  # sent beside the hang, not after it
        assert hang.accepted == 1  # one timeout per run, not one per delivery
    finally:
        server.stop()
        hang.sock.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_deliver_workers_never_send_a_webhook_id_twice(tmp_path: Path, db: Database) -> None:
    """Two ``run-once deliver`` processes at once (on SQLite the claim is serialised too)."""
    ids: list[str] = []
    lock = threading.Lock()

    def slow(req: Request) -> Response:
        time.sleep(0.2)  # a slow receiver keeps both workers busy at once
        with lock:
            ids.append(req.headers.get("webhook-id", ""))
        return Response(204, b"")

    server = HttpServer("127.0.0.1:0", {"/hook": slow})
    server.start()
    n = 40
    try:
        cfg = write_config(
            tmp_path, db.url, f'[[alerts.sinks]]\nname = "hook"\nurl = "{server.url}/hook"\n'
        )
        _queue(db, ["hook"], n, datetime.now(UTC))
        procs = [
            subprocess.Popen(
                [DRIFTMON, "run-once", "deliver", "-c", str(cfg)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        errs = [p.communicate(timeout=300)[1].decode() for p in procs]
        assert all("Traceback" not in e for e in errs), errs
    finally:
        server.stop()
    dupes = {k: v for k, v in Counter(ids).items() if v > 1}
    assert dupes == {} and len(ids) == n
    with db.read() as s:
        assert s.scalar(select(func.count()).where(AlertDelivery.delivered_at.is_(None))) == 0
