"""The one list of job names, in the order a full cycle runs them, and their schedules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal, get_args

from monitor.config import Interval, Schedule, Settings

__all__ = ["JOB_NAMES", "JobName", "job_interval", "job_schedule"]

#: every job of the agent; ``[schedule]`` has one key per job, of the same name
JobName = Literal["sample", "canary", "drift", "alerts", "deliver", "prune"]
JOB_NAMES: tuple[JobName, ...] = get_args(JobName)


def job_schedule(settings: Settings, job: str) -> Schedule:
    """The job's ``[schedule]`` value: an Interval or a Cron."""
    spec: Schedule = getattr(settings.schedule, job)
    return spec


def job_interval(
    settings: Settings, job: str, cron_periods: Mapping[str, timedelta] | None = None
) -> timedelta:
    """The job's interval; for a cron schedule, the period the scheduler measured (else a day).

    ``cron_periods`` may also hold the period at which an outside cron runs
    ``run-once`` (:func:`monitor.jobs.runner.observed_periods`); an interval job is
    then measured against the longer of the two.
    """
    schedule = job_schedule(settings, job)
    if isinstance(schedule, Interval):
        every = schedule.every.delta
        return max(every, (cron_periods or {}).get(job, every))
    return (cron_periods or {}).get(job, timedelta(days=1))
