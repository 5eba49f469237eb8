"""Running one job: claim its slot, renew the lease while it runs, record its outcome.

Each job does its network I/O (embedding calls) before it opens its write
transaction, and writes all it learned in that one transaction, so a failure
leaves nothing half-written. Alerts caused by a result are evaluated and queued
for delivery in the same transaction as the result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from monitor.config import parse_duration
from monitor.errors import MonitorError
from monitor.jobs import alerts, canary, deliver, drift, sample
from monitor.jobs.context import JobContext, Skip
from monitor.jobs.registry import JOB_NAMES
from monitor.logctx import CURRENT_JOB
from monitor.stats import InsufficientDataError
from monitor.storage import job_runs as job_runs_store

__all__ = ["JOBS", "JobFn", "JobOutcome", "JobStatus", "run_job"]

log = logging.getLogger("driftmon.jobs")

#: what a run ends as; ``claimed_elsewhere``: another replica runs this slot
JobStatus = Literal["ok", "failed", "skipped", "claimed_elsewhere"]

#: a job: (context, only this model or None) -> (items done, details for the CLI)
JobFn = Callable[[JobContext, str | None], tuple[int, dict[str, Any]]]

JOBS: dict[str, JobFn] = {
    "sample": sample.sample_job,
    "canary": canary.canary_job,
    "drift": drift.drift_job,
    "alerts": alerts.alerts_job,
    "deliver": deliver.deliver_job,
}
assert tuple(JOBS) == JOB_NAMES


@dataclass(frozen=True)
class JobOutcome:
    job: str
    status: JobStatus
    items: int
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def run_job(
    ctx: JobContext, job: str, *, model: str | None = None, slot: datetime | None = None
) -> JobOutcome:
    """Run one job, recording it in ``job_runs``; never raises for a job's own failure.

    A scheduled run passes its ``slot`` (the start of its interval): it runs only if
    it can claim (job, slot) — so among replicas sharing PostgreSQL each scheduled
    execution runs once — and it renews its lease while it runs, so a replica that
    dies mid-job frees the job within one lease.
    """
    fn = JOBS[job]
    lease = parse_duration(ctx.settings.agent.lease)
    try:
        run_id = _claim(ctx, job, slot, lease)
    except MonitorError as exc:  # no database, no run: /readyz says why
        log.error("job %s not started: %s", job, exc)
        return JobOutcome(job=job, status="failed", items=0, message=str(exc))
    if run_id is None:
        log.debug("job %s: slot %s already claimed", job, slot)
        return JobOutcome(job=job, status="claimed_elsewhere", items=0)
    stop_heartbeat = threading.Event()
    if slot is not None:
        threading.Thread(
            target=_heartbeat,
            args=(ctx, run_id, lease, stop_heartbeat),
            name=f"driftmon-lease-{job}",
            daemon=True,
        ).start()
    token = CURRENT_JOB.set((job, run_id))
    started = time.perf_counter()
    try:
        outcome = _call(fn, ctx, job, model)
    finally:
        stop_heartbeat.set()
    try:
        _record(ctx, run_id, outcome, time.perf_counter() - started)
    finally:
        CURRENT_JOB.reset(token)
    return outcome


def _claim(ctx: JobContext, job: str, slot: datetime | None, lease: timedelta) -> int | None:
    """The new run's id; None when another replica has this slot."""
    if slot is None:
        with ctx.db.transaction() as s:
            return job_runs_store.start_job_run(s, job, ctx.replica, ctx.clock.now())
    now = ctx.clock.now()
    return job_runs_store.claim_slot(ctx.db, job, ctx.replica, now, slot, now + lease)


def _call(fn: JobFn, ctx: JobContext, job: str, model: str | None) -> JobOutcome:
    """The job's own outcome: ok, skipped (nothing to do, too little data) or failed."""
    try:
        items, details = fn(ctx, model)
    except (Skip, InsufficientDataError) as exc:
        return JobOutcome(job=job, status="skipped", items=0, message=str(exc))
    except MonitorError as exc:
        return JobOutcome(job=job, status="failed", items=0, message=str(exc))
    except Exception as exc:  # a job's bug must not stop the other jobs
        log.exception("job %s crashed", job)
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        return JobOutcome(
            job=job, status="failed", items=0, message=f"{type(exc).__name__}: {first}"
        )
    return JobOutcome(job=job, status="ok", items=items, details=details)


def _record(ctx: JobContext, run_id: int, outcome: JobOutcome, seconds: float) -> None:
    try:
        with ctx.db.transaction() as s:
            job_runs_store.finish_job_run(
                s,
                run_id,
                outcome.status,
                ctx.clock.now(),
                items=outcome.items,
                error=outcome.message or None,
            )
    except MonitorError as exc:  # the row stays 'running' until its lease lapses
        log.error("job %s: could not record its outcome: %s", outcome.job, exc)
    log.info(
        "job %s %s in %.2fs (%d items)%s",
        outcome.job,
        outcome.status,
        seconds,
        outcome.items,
        f": {outcome.message}" if outcome.message else "",
    )


def _heartbeat(ctx: JobContext, run_id: int, lease: timedelta, stop: threading.Event) -> None:
    while not stop.wait(lease.total_seconds() / 3):
        try:
            with ctx.db.transaction() as s:
                job_runs_store.extend_lease(s, run_id, ctx.clock.now() + lease)
        except MonitorError as exc:  # the database is away; the lease will lapse
            log.warning("could not renew the lease of run %d: %s", run_id, exc)
