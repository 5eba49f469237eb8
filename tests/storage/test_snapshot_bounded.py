"""/metrics and status read the newest rows per key, not the history: a year costs no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert

from monitor.storage.engine import Database
from monitor.storage.schema import Base, DriftMetric, DriftRun, JobRun, ModelVersion
from monitor.storage.snapshot import load_snapshot

HOURS = 365 * 24
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _year(db: Database) -> None:
    with db.transaction() as s:
        ids = []
        for name in ("a", "b"):
            mv = ModelVersion(
                model_name=name, version="v1", provider="hash", model_id="h", dimensions=4,
                config_hash=name, config={}, created_at=NOW, last_seen_at=NOW,
            )  # fmt: skip
            s.add(mv)
            s.flush()
            ids.append(mv.id)
        at = [NOW - timedelta(hours=h) for h in range(HOURS, 0, -1)]
        s.execute(
            insert(DriftRun),
            [
                dict(
                    model_version_id=mv_id, created_at=t, window_start=t, window_end=t,
                    reference_start=t, reference_end=t, n_ref=1, n_cur=1, verdict="no_drift",
                    alpha=0.01, seed=0, policy="",
                )
                for mv_id in ids
                for t in at
            ],
        )  # fmt: skip
        s.execute(
            insert(DriftMetric),
            [dict(run_id=i, test="mmd", drift=False) for i in range(1, 2 * HOURS + 1)],
        )
        s.execute(
            insert(JobRun),
            [
                dict(job=job, replica="r", started_at=t, finished_at=t, status=status, items=0)
                for job, status in (("sample", "ok"), ("drift", "failed"))
                for t in at
            ],
        )


def test_a_year_of_history_reads_a_bounded_number_of_rows(db: Database) -> None:
    _year(db)
    statements: list[str] = []
    loaded: list[object] = []

    def on_statement(*args: Any) -> None:
        statements.append(args[2])

    def on_load(target: object, _context: object) -> None:
        loaded.append(target)

    event.listen(db.engine, "before_cursor_execute", on_statement)
    event.listen(Base, "load", on_load, propagate=True)
    try:
        snap = load_snapshot(db)
    finally:
        event.remove(Base, "load", on_load)
        event.remove(db.engine, "before_cursor_execute", on_statement)
    newest = NOW - timedelta(hours=1)
    assert sorted(r.model for r in snap.drift_runs) == ["a", "b"]
    assert all(r.created_at == newest and "mmd" in r.tests for r in snap.drift_runs)
    jobs = {j.job: j for j in snap.jobs}
    assert jobs["drift"].failures == HOURS and jobs["drift"].last_started_at == newest
    assert jobs["sample"].last_success_at == newest
    # before the fix every drift run of the year was loaded: 17,520 objects
    assert len(loaded) <= 20, len(loaded)
    assert len(statements) <= 20, statements
