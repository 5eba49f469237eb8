"""The one list of job names, in the order a full cycle runs them, and their schedules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal, get_args

from monitor.config import Settings, parse_schedule

__all__ = ["JOB_NAMES", "JobName", "job_interval", "job_schedule"]

#: every job of the agent; ``[schedule]`` has one key per job, of the same name
JobName = Literal["sample", "canary", "drift", "alerts", "deliver"]
JOB_NAMES: tuple[JobName, ...] = get_args(JobName)


def job_schedule(settings: Settings, job: str) -> str:
    """The job's ``[schedule]`` value: an interval or ``cron:<crontab>``."""
    spec: str = getattr(settings.schedule, job)
    return spec


def job_interval(
    settings: Settings, job: str, cron_periods: Mapping[str, timedelta] | None = None
) -> timedelta:
    """The job's interval; for a cron schedule, the period the scheduler measured (else a day)."""
    kind, arg = parse_schedule(job_schedule(settings, job))
    if kind == "interval":
        assert isinstance(arg, timedelta)
        return arg
    return (cron_periods or {}).get(job, timedelta(days=1))
