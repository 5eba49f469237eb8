"""The only APScheduler import: one job per agent job, on an interval or a cron trigger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import parse_schedule
from monitor.errors import ConfigError

__all__ = ["JobSpec", "build_scheduler", "make_trigger", "reschedule", "schedule_period"]

log = logging.getLogger("driftmon.scheduler")
UTC = ZoneInfo("UTC")

JobSpec = tuple[str, str]  # (job name, schedule: "5m" or "cron:*/5 * * * *")


def make_trigger(name: str, spec: str, *, jitter: timedelta, start: datetime) -> Any:
    """The APScheduler trigger of one job; a bad crontab is a ConfigError naming the key."""
    kind, arg = parse_schedule(spec)
    jit = int(jitter.total_seconds()) or None
    if kind == "interval":
        return IntervalTrigger(
            seconds=arg.total_seconds(), start_date=start + arg, jitter=jit, timezone=UTC
        )
    try:
        return _cron(arg, jit)
    except ValueError as exc:
        raise ConfigError(f"schedule.{name}: {exc}") from None


def _cron(expr: str, jitter: int | None) -> CronTrigger:
    minute, hour, day, month, dow = expr.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=dow, jitter=jitter, timezone=UTC
    )


def schedule_period(name: str, spec: str, now: datetime) -> timedelta:
    """How long between two runs (for a cron schedule: its next two fire times)."""
    kind, arg = parse_schedule(spec)
    if kind == "interval":
        return arg  # type: ignore[no-any-return]
    trigger = make_trigger(name, spec, jitter=timedelta(0), start=now)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    return second - first if first and second else timedelta(days=1)


def build_scheduler(
    jobs: Iterable[JobSpec],
    run: Callable[[str], object],
    *,
    misfire_grace: timedelta,
    jitter: timedelta,
    first_run: datetime,
    workers: int = 4,
) -> BackgroundScheduler:
    """A scheduler running ``run(name)`` on each job's trigger, coalescing, one at a time.

    An interval job first runs one interval after ``first_run``: the app runs one
    full cycle itself at start, in order, so the first metrics do not wait for a timer.
    """
    sched = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(workers)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(misfire_grace.total_seconds()) or 1,
        },
        timezone=UTC,
    )
    for name, spec in jobs:
        sched.add_job(
            run,
            make_trigger(name, spec, jitter=jitter, start=first_run),
            args=[name],
            id=name,
            name=name,
            replace_existing=True,
        )

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


def reschedule(
    sched: BackgroundScheduler, jobs: Iterable[JobSpec], *, jitter: timedelta, now: datetime
) -> None:
    """Apply new schedules after a config reload."""
    for name, spec in jobs:
        sched.reschedule_job(name, trigger=make_trigger(name, spec, jitter=jitter, start=now))
