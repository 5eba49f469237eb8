"""Job bookkeeping under faults: a killed ``run-once`` is abandoned; failures log at ERROR."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from fault_helpers import DRIFTMON, assert_clean, driftmon, write_config
from sqlalchemy import select

from monitor.storage.engine import Database
from monitor.storage.schema import JobRun


def _statuses(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(JobRun.status).order_by(JobRun.id)).all())


def test_a_killed_run_once_is_abandoned_when_its_lease_lapses(tmp_path: Path, db: Database) -> None:
    log = tmp_path / "q.jsonl"
    with log.open("w") as fh:
        for i in range(20_000):
            fh.write(json.dumps({"query": f"query {i}", "ts": 1735725600 + i}) + "\n")
    cfg = write_config(
        tmp_path,
        db.url,
        f"""
        [agent]
        lease = "1s"
        [[sources]]
        name = "log"
        path = "{log}"
        [sampling]
        window = "1d"
        chunk_size = 100
        """,
    )
    proc = subprocess.Popen(
        [DRIFTMON, "run-once", "sample", "-c", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _statuses(db) != ["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert _statuses(db) == ["running"]
    done = driftmon("run-once", "sample", "-c", str(cfg), timeout=900)  # after the 1 s lease
    assert_clean(done)
    assert _statuses(db) == ["abandoned", "ok"]


def test_a_failed_job_is_logged_at_error_even_at_log_level_warning(
    tmp_path: Path, db: Database
) -> None:
    cfg = write_config(
        tmp_path,
        db.url,
        f"""
        [agent]
        log_level = "warning"
        [[sources]]
        name = "log"
        path = "{tmp_path / "missing" / "*.jsonl"}"
        """,
    )
    done = driftmon("run-once", "sample", "-c", str(cfg))
    assert_clean(done)
    lines = [ln for ln in done.stderr.splitlines() if "job sample failed" in ln]
    assert len(lines) == 1 and "ERROR" in lines[0] and "no file matches" in lines[0], done.stderr
