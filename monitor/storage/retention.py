"""Deleting old rows in bounded batches: the database side of the prune job.

Each batch is one short transaction: pick at most ``batch`` ids of rows past their
cutoff that nothing protects, delete their child rows, then the rows. Kept always:
pending and firing alerts, every row a pending or firing alert's ``last_result_id``
names, the newest run per key (so status and staleness alerts keep their last
value), running job runs, canary baselines, samples in ``keep_windows``, and
samples within ``keep_before_newest`` of the newest window. That last bound is read
in each batch's own transaction, so records stored while a prune runs are judged
against the windows that exist then, not against a plan made before they came.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, select

from monitor.clock import as_utc
from monitor.storage.engine import Database, Session
from monitor.storage.schema import (
    Alert,
    AlertDelivery,
    CanaryRun,
    DriftMetric,
    DriftRun,
    JobRun,
    QueryEmbedding,
    QuerySample,
    RetrievalMetric,
    SampleWindow,
)

__all__ = ["PrunePlan", "prune"]

#: order of the tables in the counts (children right after their parents)
TABLES = (
    "drift_runs",
    "drift_metrics",
    "canary_runs",
    "retrieval_metrics",
    "query_samples",
    "query_embeddings",
    "sample_windows",
    "job_runs",
    "alert_deliveries",
    "alerts",
)


@dataclass(frozen=True)
class PrunePlan:
    """Cutoffs per kind of row (None: keep forever) and the batch and run bounds."""

    drift_runs: datetime | None
    canary_runs: datetime | None
    samples: datetime | None
    job_runs: datetime | None
    deliveries: datetime | None
    resolved_alerts: datetime | None
    batch: int = 1000
    max_rows: int = 100_000
    #: [start, end) ranges of ``window_start`` whose samples are never deleted
    keep_windows: tuple[tuple[datetime, datetime], ...] = ()
    #: samples whose window starts less than this before the newest window stay
    keep_before_newest: timedelta | None = None


#: one batch: (session, at most n ids) -> {table: rows deleted}
_Batch = Callable[[Session, int], dict[str, int]]


def prune(db: Database, plan: PrunePlan) -> dict[str, int]:
    """Delete what ``plan`` allows, at most ``plan.max_rows`` rows; rows deleted per table."""
    counts = dict.fromkeys(TABLES, 0)
    budget = plan.max_rows
    with db.read() as s:
        keep = _kept_ids(s)
    for step in _steps(plan, keep):
        while budget > 0:
            with db.transaction() as s:
                done = step(s, min(plan.batch, budget))
            for table, n in done.items():
                counts[table] += n
            deleted = sum(done.values())
            budget -= deleted
            if deleted == 0:
                break
    return counts


def _kept_ids(s: Session) -> dict[str, list[int]]:
    """Ids of runs never deleted: those an active alert names, and the newest per key."""
    named = {
        int(i)
        for i in s.scalars(
            select(Alert.last_result_id).where(
                Alert.state.in_(("pending", "firing")), Alert.last_result_id.is_not(None)
            )
        )
        if i is not None
    }
    newest = {
        "drift_runs": select(func.max(DriftRun.id)).group_by(DriftRun.model_version_id),
        "canary_runs": select(func.max(CanaryRun.id)).group_by(
            CanaryRun.model_version_id, CanaryRun.set_id
        ),
        "job_runs": select(func.max(JobRun.id)).group_by(JobRun.job),
        "job_runs_ok": select(func.max(JobRun.id))
        .where(JobRun.status == "ok")
        .group_by(JobRun.job),
    }
    out = {name: named | {int(i) for i in s.scalars(q)} for name, q in newest.items()}
    out["job_runs"] |= out.pop("job_runs_ok")
    return {name: sorted(ids) for name, ids in out.items()}


def _steps(plan: PrunePlan, keep: dict[str, list[int]]) -> list[_Batch]:
    steps: list[_Batch] = []
    if plan.drift_runs is not None:
        steps.append(_drift_runs(plan.drift_runs, keep["drift_runs"]))
    if plan.canary_runs is not None:
        steps.append(_canary_runs(plan.canary_runs, keep["canary_runs"]))
    if plan.samples is not None:
        steps.append(_samples(plan.samples, plan.keep_windows, plan.keep_before_newest))
        steps.append(_windows(plan.samples, plan.keep_windows, plan.keep_before_newest))
    if plan.job_runs is not None:
        steps.append(_job_runs(plan.job_runs, keep["job_runs"]))
    if plan.deliveries is not None:
        steps.append(_deliveries(plan.deliveries))
    if plan.resolved_alerts is not None:
        steps.append(_alerts(plan.resolved_alerts))
    return steps


def _ids(s: Session, id_col: Any, n: int, *where: ColumnElement[bool]) -> list[int]:
    return list(s.scalars(select(id_col).where(*where).order_by(id_col).limit(n)))


def _with_children(
    s: Session, parent: Any, ids: Sequence[int], children: Sequence[tuple[str, Any]]
) -> dict[str, int]:
    """Delete the child rows of ``ids``, then the rows; rows deleted per table."""
    out: dict[str, int] = {}
    if not ids:
        return out
    for table, fk in children:
        out[table] = _rowcount(s.execute(delete(fk.table).where(fk.in_(ids))))
    out[parent.__tablename__] = _rowcount(s.execute(delete(parent).where(parent.id.in_(ids))))
    return out


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


def _drift_runs(cutoff: datetime, keep: list[int]) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        ids = _ids(
            s,
            DriftRun.id,
            n,
            DriftRun.created_at < cutoff,
            DriftRun.id.not_in(keep),
        )
        return _with_children(s, DriftRun, ids, [("drift_metrics", DriftMetric.run_id)])

    return step


def _canary_runs(cutoff: datetime, keep: list[int]) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        ids = _ids(
            s,
            CanaryRun.id,
            n,
            CanaryRun.created_at < cutoff,
            CanaryRun.id.not_in(keep),
        )
        return _with_children(
            s, CanaryRun, ids, [("retrieval_metrics", RetrievalMetric.canary_run_id)]
        )

    return step


def _outside(col: Any, keep: tuple[tuple[datetime, datetime], ...]) -> list[ColumnElement[bool]]:
    return [not_(and_(col >= a, col < b)) for a, b in keep]


def _sample_cutoff(s: Session, cutoff: datetime, recent: timedelta | None) -> datetime | None:
    """``cutoff``, moved back to keep ``recent`` before the newest window (None: no samples)."""
    if recent is None:
        return cutoff
    newest = s.scalar(select(func.max(SampleWindow.window_start)))
    if newest is None:
        return None
    return min(cutoff, as_utc(newest) - recent)


def _samples(
    cutoff: datetime, keep: tuple[tuple[datetime, datetime], ...], recent: timedelta | None
) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        bound = _sample_cutoff(s, cutoff, recent)
        if bound is None:
            return {}
        where = [QuerySample.window_start < bound, *_outside(QuerySample.window_start, keep)]
        ids = _ids(s, QuerySample.id, n, *where)
        return _with_children(s, QuerySample, ids, [("query_embeddings", QueryEmbedding.sample_id)])

    return step


def _windows(
    cutoff: datetime, keep: tuple[tuple[datetime, datetime], ...], recent: timedelta | None
) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        bound = _sample_cutoff(s, cutoff, recent)
        if bound is None:
            return {}
        ids = _ids(
            s,
            SampleWindow.id,
            n,
            SampleWindow.window_start < bound,
            *_outside(SampleWindow.window_start, keep),
            ~exists().where(QuerySample.window_id == SampleWindow.id),
        )
        return _with_children(s, SampleWindow, ids, [])

    return step


def _job_runs(cutoff: datetime, keep: list[int]) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        ids = _ids(
            s,
            JobRun.id,
            n,
            JobRun.started_at < cutoff,
            JobRun.status != "running",
            JobRun.id.not_in(keep),
        )
        return _with_children(s, JobRun, ids, [])

    return step


def _deliveries(cutoff: datetime) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        ids = _ids(
            s,
            AlertDelivery.id,
            n,
            or_(
                AlertDelivery.delivered_at < cutoff,
                and_(AlertDelivery.dead.is_(True), AlertDelivery.created_at < cutoff),
            ),
        )
        return _with_children(s, AlertDelivery, ids, [])

    return step


def _alerts(cutoff: datetime) -> _Batch:
    def step(s: Session, n: int) -> dict[str, int]:
        ids = _ids(s, Alert.id, n, Alert.state == "resolved", Alert.resolved_at < cutoff)
        return _with_children(s, Alert, ids, [("alert_deliveries", AlertDelivery.alert_id)])

    return step
