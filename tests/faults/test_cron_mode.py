"""Cron mode: ``run-once cycle`` every few minutes does not make fast jobs look stale."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fault_helpers import assert_clean, driftmon, write_config
from sqlalchemy import select

from monitor.storage import alerts as ops
from monitor.storage.engine import Database
from monitor.storage.schema import JobRun


def test_a_cycle_from_cron_raises_no_false_staleness(tmp_path: Path, db: Database) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text("".join(json.dumps({"query": f"q {i}"}) + "\n" for i in range(20)))
    cfg = write_config(
        tmp_path,
        db.url,
        f"""
        [[models]]
        name = "prod"
        dimensions = 32
        [[sources]]
        name = "log"
        path = "{log}"
        time_field = ""
        [schedule]
        deliver = "15s"
        alerts = "1m"
        """,
    )
    assert_clean(first := driftmon("run-once", "cycle", "-c", str(cfg)))
    assert first.returncode == 0, first.stdout + first.stderr
    with db.transaction() as s:  # as if cron started that cycle 5 minutes ago
        for run in s.scalars(select(JobRun)):
            run.started_at -= timedelta(minutes=5)
            if run.finished_at is not None:
                run.finished_at -= timedelta(minutes=5)
    assert_clean(second := driftmon("run-once", "cycle", "-c", str(cfg)))
    assert second.returncode == 0, second.stdout + second.stderr
    with db.read() as s:
        rules = [a.rule for a in ops.active_alerts(s)]
        runs = s.scalars(select(JobRun.status)).all()
    assert "DriftmonJobStale" not in rules, rules
    assert set(runs) <= {"ok", "skipped"}
