"""Scheduled executions are claimed once per (job, slot); leases expire; the scheduler's options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from monitor.scheduler import build_scheduler, schedule_period
from monitor.storage import job_runs as job_runs_store
from monitor.storage.engine import Database
from monitor.storage.schema import JobRun

T = datetime(2026, 3, 2, 12, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def test_a_slot_is_claimed_once_and_a_live_lease_blocks_the_next(db: Database) -> None:
    with db.transaction() as s:
        first = job_runs_store.claim_job_run(s, "drift", "a", T, T, T + LEASE)
    with db.transaction() as s:
        assert job_runs_store.claim_job_run(s, "drift", "b", T, T, T + LEASE) is None, "same slot"
        nxt = T + timedelta(minutes=1)
        assert (
            job_runs_store.claim_job_run(s, "drift", "b", T + timedelta(seconds=5), nxt, T + LEASE)
            is None
        ), "first run still holds its lease"
        assert job_runs_store.claim_job_run(s, "sample", "b", T, T, T + LEASE) is not None, (
            "other job"
        )
    assert first is not None
    with db.transaction() as s:
        job_runs_store.finish_job_run(s, first, "ok", T + timedelta(seconds=10))
    with db.transaction() as s:
        assert (
            job_runs_store.claim_job_run(
                s,
                "drift",
                "b",
                T + timedelta(minutes=1),
                T + timedelta(minutes=1),
                T + timedelta(minutes=2),
            )
            is not None
        )


def test_an_expired_lease_is_abandoned_and_the_next_slot_runs_elsewhere(db: Database) -> None:
    with db.transaction() as s:
        dead = job_runs_store.claim_job_run(s, "canary", "a", T, T, T + LEASE)
        job_runs_store.extend_lease(s, dead, T + LEASE)  # type: ignore[arg-type]
    later = T + LEASE + timedelta(seconds=1)
    with db.transaction() as s:
        survivor = job_runs_store.claim_job_run(
            s, "canary", "b", later, T + timedelta(minutes=1), later + LEASE
        )
    assert survivor is not None
    with db.read() as s:
        rows = {r.replica: r.status for r in s.scalars(select(JobRun))}
    assert rows == {"a": "abandoned", "b": "running"}


def test_scheduler_jobs_triggers_and_options() -> None:
    specs = [("sample", "30s"), ("drift", "cron:*/15 * * * *")]
    sched = build_scheduler(
        specs,
        lambda name: None,
        misfire_grace=timedelta(minutes=5),
        jitter=timedelta(seconds=3),
        first_run=T,
    )
    sched.start(paused=True)
    try:
        jobs = {j.id: j for j in sched.get_jobs()}
        assert set(jobs) == {"sample", "drift"}
        for job in jobs.values():
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 300)
        assert "interval[0:00:30]" in str(jobs["sample"].trigger)
        assert "cron[" in str(jobs["drift"].trigger)
        assert jobs["sample"].trigger.jitter == 3
    finally:
        sched.shutdown(wait=False)
    assert schedule_period("drift", "cron:*/15 * * * *", T) == timedelta(minutes=15)
    assert schedule_period("sample", "30s", T) == timedelta(seconds=30)
