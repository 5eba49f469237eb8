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
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Cron, CronFields, Interval, Schedule

__all__ = ["JobSpec", "build_scheduler", "make_trigger", "reschedule", "schedule_period"]

log = logging.getLogger("driftmon.scheduler")
UTC = ZoneInfo("UTC")

JobSpec = tuple[str, Schedule]  # (job name, its parsed schedule)
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def make_trigger(name: str, spec: Schedule, *, jitter: timedelta, start: datetime) -> Any:
    """The APScheduler trigger of one job, built from the config's parsed schedule."""
    jit = int(jitter.total_seconds()) or None
    if isinstance(spec, Interval):
        every = spec.every.delta
        return IntervalTrigger(
            seconds=every.total_seconds(), start_date=start + every, jitter=jit, timezone=UTC
        )
    return _cron(spec.fields, jit)


def _cron(fields: CronFields, jitter: int | None) -> Any:
    """CronTrigger(s) of exactly the parsed field values (config's parser decides).

    APScheduler numbers weekdays from Monday and ANDs day with weekday, so weekdays
    are passed by name, and cron's "day OR weekday" becomes an OrTrigger.
    """

    def trigger(days: str, weekdays: str) -> CronTrigger:
        return CronTrigger(
            minute=",".join(map(str, fields.minutes)),
            hour=",".join(map(str, fields.hours)),
            day=days,
            month=",".join(map(str, fields.months)),
            day_of_week=weekdays,
            jitter=jitter,
            timezone=UTC,
        )

    days = "*" if fields.day_any else ",".join(map(str, fields.days))
    weekdays = "*" if fields.weekday_any else ",".join(_DAY_NAMES[d] for d in fields.weekdays)
    if fields.day_any or fields.weekday_any:
        return trigger(days, weekdays)
    return OrTrigger([trigger(days, "*"), trigger("*", weekdays)])


def schedule_period(name: str, spec: Schedule, now: datetime) -> timedelta:
    """How long between two runs (for a cron schedule: its next two fire times)."""
    if isinstance(spec, Interval):
        return spec.every.delta
    assert isinstance(spec, Cron)
    first = spec.next_fire(now)
    second = spec.next_fire(first) if first else None
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
