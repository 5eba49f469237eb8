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
    stop_heartbeat = threading.Event()
    claimed: int | None
    try:
        if slot is None:
            with ctx.db.transaction() as s:
                claimed = job_runs_store.start_job_run(s, job, ctx.replica, ctx.clock.now())
        else:
            now = ctx.clock.now()
            claimed = job_runs_store.claim_slot(ctx.db, job, ctx.replica, now, slot, now + lease)
    except MonitorError as exc:  # no database, no run: /readyz says why
        log.error("job %s not started: %s", job, exc)
        return JobOutcome(job=job, status="failed", items=0, message=str(exc))
    if slot is not None:
        if claimed is None:
            log.debug("job %s: slot %s already claimed", job, slot.isoformat())
            return JobOutcome(job=job, status="claimed_elsewhere", items=0)
        threading.Thread(
            target=_heartbeat,
            args=(ctx, claimed, lease, stop_heartbeat),
            name=f"driftmon-lease-{job}",
            daemon=True,
        ).start()
    assert claimed is not None
    run_id = claimed
    token = CURRENT_JOB.set((job, run_id))
    started = time.perf_counter()
    status: JobStatus = "ok"
    message, items = "", 0
    details: dict[str, Any] = {}
    try:
        items, details = fn(ctx, model)
    except (Skip, InsufficientDataError) as exc:
        status, message = "skipped", str(exc)
    except MonitorError as exc:
        status, message = "failed", str(exc)
    except Exception as exc:  # a job's bug must not stop the other jobs
        status, message = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        log.exception("job %s crashed", job)
    finally:
        stop_heartbeat.set()
    try:
        try:
            with ctx.db.transaction() as s:
                job_runs_store.finish_job_run(
                    s, run_id, status, ctx.clock.now(), items=items, error=message or None
                )
        except MonitorError as exc:  # the row stays 'running' until its lease lapses
            log.error("job %s: could not record its outcome: %s", job, exc)
        log.info(
            "job %s %s in %.2fs (%d items)%s",
            job,
            status,
            time.perf_counter() - started,
            items,
            f": {message}" if message else "",
        )
    finally:
        CURRENT_JOB.reset(token)
    return JobOutcome(job=job, status=status, items=items, message=message, details=details)


def _heartbeat(ctx: JobContext, run_id: int, lease: timedelta, stop: threading.Event) -> None:
    while not stop.wait(lease.total_seconds() / 3):
        try:
            with ctx.db.transaction() as s:
                job_runs_store.extend_lease(s, run_id, ctx.clock.now() + lease)
        except MonitorError as exc:  # the database is away; the lease will lapse
            log.warning("could not renew the lease of run %d: %s", run_id, exc)
