"""Which job a log line belongs to: a context variable and the filter that stamps it."""

from __future__ import annotations

import logging
from contextvars import ContextVar

__all__ = ["CURRENT_JOB", "JobLogFilter"]

#: (job name, job_runs id) while a job runs in this thread
CURRENT_JOB: ContextVar[tuple[str, int] | None] = ContextVar("driftmon_job", default=None)


class JobLogFilter(logging.Filter):
    """Adds ``job`` and ``run_id`` to every record logged while a job runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT_JOB.get()
        if current is not None and not hasattr(record, "job"):
            record.job, record.run_id = current
        return True
