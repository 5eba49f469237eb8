"""The only APScheduler import: one interval job per agent job, with sane defaults."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

__all__ = ["JobSpec", "build_scheduler"]

log = logging.getLogger("driftmon.scheduler")

JobSpec = tuple[str, timedelta]  # (job name, interval)


def build_scheduler(jobs: Iterable[JobSpec], run: Callable[[str], object], *,
                    misfire_grace: timedelta, jitter: timedelta, first_run: datetime,
                    workers: int = 4) -> BackgroundScheduler:
    """A scheduler running ``run(name)`` every interval, coalescing, one instance per job.

    Every job first runs at ``first_run + interval``: the app runs one full cycle
    itself at start, in order, so the first metrics do not wait for a timer.
    """
    sched = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(workers)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(misfire_grace.total_seconds()) or 1},
        timezone=ZoneInfo("UTC"),
    )
    for name, interval in jobs:
        sched.add_job(run, "interval", args=[name], id=name, name=name,
                      seconds=interval.total_seconds(),
                      jitter=int(jitter.total_seconds()) or None,
                      next_run_time=first_run + interval, replace_existing=True)

    def on_event(event: object) -> None:
        job_id = getattr(event, "job_id", "?")
        code = getattr(event, "code", 0)
        if code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run time", job_id, extra={"job": job_id})
        elif code == EVENT_JOB_MAX_INSTANCES:
            log.warning("job %s still running; this run skipped", job_id, extra={"job": job_id})
        else:
            log.error("job %s raised", job_id, extra={"job": job_id})

    sched.add_listener(on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    return sched
