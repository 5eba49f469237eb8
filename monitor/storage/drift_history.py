"""Reading one stored drift run in full (``driftmon drift show``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.storage.schema import DriftMetric, DriftRun, ModelVersion

__all__ = ["DriftRunDetail", "drift_run_detail"]


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
