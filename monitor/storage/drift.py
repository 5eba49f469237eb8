"""Drift runs and their per-test metrics.

Callers own the transaction; functions return domain records, never ORM rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.domain import DriftRunRecord
from monitor.storage.schema import (
    DriftMetric,
    DriftRun,
    ModelVersion,
)

__all__ = [
    "DriftRunDetail",
    "drift_run_detail",
    "drift_run_exists",
    "latest_drift_runs",
    "save_drift_run",
]


def save_drift_run(session: Session, *, metrics: Sequence[dict[str, Any]], **values: Any) -> int:
    run = DriftRun(**values)
    session.add(run)
    session.flush()
    session.add_all(DriftMetric(run_id=run.id, **m) for m in metrics)
    session.flush()
    return run.id


def drift_run_exists(session: Session, mv_id: int, window_start: datetime, n_cur: int) -> bool:
    return (
        session.scalar(
            select(DriftRun.id)
            .where(
                DriftRun.model_version_id == mv_id,
                DriftRun.window_start == window_start,
                DriftRun.n_cur == n_cur,
            )
            .limit(1)
        )
        is not None
    )


def latest_drift_runs(session: Session, limit_per_version: int = 1) -> list[DriftRunRecord]:
    """The newest drift runs per active model version, newest first, with their tests."""
    runs = session.execute(
        select(DriftRun, ModelVersion.model_name, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == DriftRun.model_version_id)
        .where(ModelVersion.active.is_(True))
        .order_by(DriftRun.created_at.desc(), DriftRun.id.desc())
    ).all()
    picked: list[tuple[DriftRun, str, str]] = []
    counts: dict[int, int] = {}
    for run, model, version in runs:
        if counts.get(run.model_version_id, 0) < limit_per_version:
            counts[run.model_version_id] = counts.get(run.model_version_id, 0) + 1
            picked.append((run, model, version))
    ids = [r.id for r, _, _ in picked]
    tests: dict[int, dict[str, dict[str, Any]]] = {i: {} for i in ids}
    if ids:
        for m in session.scalars(select(DriftMetric).where(DriftMetric.run_id.in_(ids))):
            tests[m.run_id][m.test] = {
                "statistic": m.statistic,
                "p_value": m.p_value,
                "threshold": m.threshold,
                "effect": m.effect,
                "drift": m.drift,
            }
    return [
        DriftRunRecord(
            id=r.id,
            model=model,
            version=version,
            created_at=as_utc(r.created_at),
            window_start=as_utc(r.window_start),
            verdict=r.verdict,
            n_ref=r.n_ref,
            n_cur=r.n_cur,
            tests=tests[r.id],
            explanation=r.explanation,
        )
        for r, model, version in picked
    ]


@dataclass(frozen=True)
class DriftRunDetail:
    """A drift run with its windows, policy, every test's outcome and the explanation."""

    id: int
    model: str
    version: str
    created_at: datetime
    window_start: datetime
    window_end: datetime
    reference_start: datetime
    reference_end: datetime
    n_ref: int
    n_cur: int
    verdict: str
    alpha: float
    seed: int
    policy: str
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    explanation: dict[str, Any] | None = None


def drift_run_detail(session: Session, run_id: int | None = None) -> DriftRunDetail | None:
    """The run ``run_id``, or the newest run of any model when it is None."""
    q = select(DriftRun, ModelVersion.model_name, ModelVersion.version).join(
        ModelVersion, ModelVersion.id == DriftRun.model_version_id
    )
    q = (
        q.where(DriftRun.id == run_id)
        if run_id is not None
        else q.order_by(DriftRun.created_at.desc(), DriftRun.id.desc())
    )
    row = session.execute(q.limit(1)).first()
    if row is None:
        return None
    run, model, version = row
    tests = {
        m.test: {
            "statistic": m.statistic,
            "p_value": m.p_value,
            "threshold": m.threshold,
            "effect": m.effect,
            "drift": m.drift,
        }
        for m in session.scalars(
            select(DriftMetric).where(DriftMetric.run_id == run.id).order_by(DriftMetric.id)
        )
    }
    return DriftRunDetail(
        id=run.id,
        model=model,
        version=version,
        created_at=as_utc(run.created_at),
        window_start=as_utc(run.window_start),
        window_end=as_utc(run.window_end),
        reference_start=as_utc(run.reference_start),
        reference_end=as_utc(run.reference_end),
        n_ref=run.n_ref,
        n_cur=run.n_cur,
        verdict=run.verdict,
        alpha=run.alpha,
        seed=run.seed,
        policy=run.policy,
        tests=tests,
        explanation=run.explanation,
    )
