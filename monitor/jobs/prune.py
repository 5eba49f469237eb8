"""The prune job: deletes rows older than ``[retention]`` allows, in bounded batches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from monitor.config import Duration, Pinned, Settings
from monitor.jobs.context import JobContext
from monitor.storage.retention import PrunePlan, prune

__all__ = ["prune_job", "prune_plan"]


def _cutoff(now: datetime, keep: Duration) -> datetime | None:
    """``now - keep``; None for ``"0s"`` (keep forever)."""
    return None if keep.delta <= timedelta(0) else now - keep.delta


def prune_plan(settings: Settings, now: datetime) -> PrunePlan:
    """What to delete at ``now``; samples of the drift reference and current window stay.

    A rolling reference is kept relative to the newest stored window, which the
    prune reads in each batch's transaction (a backfill of old records that
    arrives mid-prune is its newest window, not past retention).
    """
    r = settings.retention
    keep: tuple[tuple[datetime, datetime], ...] = ()
    recent: timedelta | None = None
    ref = settings.drift.reference
    if isinstance(ref, Pinned):
        keep = ((ref.start, ref.end),)
    else:
        recent = ref.span.delta
    return PrunePlan(
        drift_runs=_cutoff(now, r.drift_runs),
        canary_runs=_cutoff(now, r.canary_runs),
        samples=_cutoff(now, r.samples),
        job_runs=_cutoff(now, r.job_runs),
        deliveries=_cutoff(now, r.deliveries),
        resolved_alerts=_cutoff(now, r.resolved_alerts),
        batch=r.batch_size,
        max_rows=r.max_rows_per_run,
        keep_windows=keep,
        keep_before_newest=recent,
    )


def prune_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    """Delete old rows; the details count the rows deleted per table."""
    counts = prune(ctx.db, prune_plan(ctx.settings, ctx.clock.now()))
    return sum(counts.values()), {"deleted": counts}
