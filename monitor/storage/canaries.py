"""Query functions over a Session for model versions, canaries, samples and drift runs.

They return domain records or arrays, never ORM rows. Callers own the transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.domain import CanaryItemRecord, CanaryRunRecord
from monitor.storage.schema import (
    CanaryBaseline,
    CanaryBaselineVector,
    CanaryItem,
    CanaryQrel,
    CanaryRun,
    CanarySet,
    MigrateCheck,
    ModelVersion,
    RetrievalMetric,
)
from monitor.storage.vectors import decode_vectors, encode_vector

__all__ = [
    "canary_items",
    "changed_canary_sets",
    "current_baseline",
    "import_canary_set",
    "latest_canary_runs",
    "latest_canary_set",
    "retrieval_for_runs",
    "save_baseline",
    "save_canary_run",
    "save_migrate_check",
    "save_retrieval_metrics",
]


# --------------------------------------------------------------------------- canaries


def import_canary_set(
    session: Session,
    name: str,
    source_path: str,
    items: Sequence[tuple[str, str, str]],
    qrels: Sequence[tuple[str, str, int]],
    now: datetime,
) -> tuple[int, bool]:
    """Store a canary set version; returns (set id, created). Same content = same version."""
    digest = hashlib.sha256(json.dumps([list(items), list(qrels)]).encode()).hexdigest()
    existing = session.scalar(
        select(CanarySet.id).where(CanarySet.name == name, CanarySet.content_hash == digest)
    )
    if existing is not None:
        return existing, False
    cs = CanarySet(
        name=name, content_hash=digest, source_path=source_path, n_items=len(items), imported_at=now
    )
    session.add(cs)
    session.flush()
    session.add_all(
        CanaryItem(set_id=cs.id, item_key=key, kind=kind, text=text, position=i)
        for i, (key, kind, text) in enumerate(items)
    )
    session.add_all(
        CanaryQrel(set_id=cs.id, query_key=q, doc_key=d, relevance=r) for q, d, r in qrels
    )
    session.flush()
    return cs.id, True


def latest_canary_set(session: Session, name: str) -> int | None:
    return session.scalar(
        select(CanarySet.id)
        .where(CanarySet.name == name)
        .order_by(CanarySet.imported_at.desc(), CanarySet.id.desc())
        .limit(1)
    )


def canary_items(session: Session, set_id: int) -> list[CanaryItemRecord]:
    rows = session.scalars(
        select(CanaryItem).where(CanaryItem.set_id == set_id).order_by(CanaryItem.position)
    )
    return [CanaryItemRecord(id=r.id, key=r.item_key, kind=r.kind, text=r.text) for r in rows]


def current_baseline(
    session: Session, set_id: int, mv_id: int
) -> tuple[int, float, np.ndarray] | None:
    """(baseline id, noise floor, vectors in item order) or None when there is none."""
    bl = session.scalars(
        select(CanaryBaseline)
        .where(
            CanaryBaseline.set_id == set_id,
            CanaryBaseline.model_version_id == mv_id,
            CanaryBaseline.current.is_(True),
        )
        .order_by(CanaryBaseline.id.desc())
        .limit(1)
    ).first()
    if bl is None:
        return None
    rows = session.execute(
        select(CanaryBaselineVector.vector, CanaryBaselineVector.dtype, CanaryBaselineVector.dim)
        .join(CanaryItem, CanaryItem.id == CanaryBaselineVector.item_id)
        .where(CanaryBaselineVector.baseline_id == bl.id)
        .order_by(CanaryItem.position)
    ).all()
    return bl.id, bl.noise_floor, decode_vectors([(blob, dt, dim) for blob, dt, dim in rows])


def save_baseline(
    session: Session,
    set_id: int,
    mv_id: int,
    item_ids: Sequence[int],
    vectors: np.ndarray,
    noise_floor: float,
    now: datetime,
    *,
    reason: str = "first embedding",
    created_by: str = "agent",
) -> int:
    session.execute(
        update(CanaryBaseline)
        .where(CanaryBaseline.set_id == set_id, CanaryBaseline.model_version_id == mv_id)
        .values(current=False)
    )
    fingerprint = hashlib.sha256(
        np.ascontiguousarray(vectors, dtype="<f4").round(4).tobytes()
    ).hexdigest()
    bl = CanaryBaseline(
        set_id=set_id,
        model_version_id=mv_id,
        created_at=now,
        current=True,
        noise_floor=float(noise_floor),
        fingerprint=fingerprint,
        reason=reason,
        created_by=created_by,
    )
    session.add(bl)
    session.flush()
    for item_id, vec in zip(item_ids, vectors, strict=True):
        blob, dtype, dim = encode_vector(vec)
        session.add(
            CanaryBaselineVector(
                baseline_id=bl.id, item_id=item_id, dtype=dtype, dim=dim, vector=blob
            )
        )
    mv = session.get(ModelVersion, mv_id)
    if mv is not None and mv.fingerprint is None:
        mv.fingerprint = fingerprint[:16]
    session.flush()
    return bl.id


def save_canary_run(session: Session, **values: Any) -> int:
    run = CanaryRun(**values)
    session.add(run)
    session.flush()
    return run.id


def latest_canary_runs(session: Session, limit_per_key: int = 1) -> list[CanaryRunRecord]:
    """The newest canary runs per (model version, canary set name), newest first."""
    rows = session.execute(
        select(CanaryRun, ModelVersion.model_name, ModelVersion.version, CanarySet.name)
        .join(ModelVersion, ModelVersion.id == CanaryRun.model_version_id)
        .join(CanarySet, CanarySet.id == CanaryRun.set_id)
        .where(ModelVersion.active.is_(True))
        .order_by(CanaryRun.created_at.desc(), CanaryRun.id.desc())
    ).all()
    picked: list[tuple[CanaryRun, str, str, str]] = []
    counts: dict[tuple[str, str, str], int] = {}
    for run, model, version, set_name in rows:
        key = (model, version, set_name)
        if counts.get(key, 0) >= limit_per_key:
            continue
        counts[key] = counts.get(key, 0) + 1
        picked.append((run, model, version, set_name))
    quality = retrieval_for_runs(session, [r.id for r, _, _, _ in picked])
    out: list[CanaryRunRecord] = []
    for run, model, version, set_name in picked:
        out.append(
            CanaryRunRecord(
                id=run.id,
                model=model,
                version=version,
                canary_set=set_name,
                created_at=as_utc(run.created_at),
                verdict=run.verdict,
                min_cosine=run.min_cosine,
                mean_cosine=run.mean_cosine,
                p01_cosine=run.p01_cosine,
                share_below=run.share_below,
                norm_ratio=run.norm_ratio,
                tolerance=run.tolerance,
                retrieval=quality.get(run.id, {}),
            )
        )
    return out


# --------------------------------------------------------------------------- sources


# --------------------------------------------------------------------------- drift


# --------------------------------------------------------------------------- retrieval


def save_retrieval_metrics(
    session: Session, run_id: int, rows: Iterable[tuple[str, int, float]]
) -> None:
    """Store (metric, dims, value) rows of one canary run."""
    session.add_all(
        RetrievalMetric(canary_run_id=run_id, metric=m, dims=d, value=v) for m, d, v in rows
    )
    session.flush()


def retrieval_for_runs(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """run id -> {metric: value} at each run's full dimension (the largest ``dims``)."""
    out: dict[int, dict[str, float]] = {}
    if not run_ids:
        return out
    rows = session.execute(
        select(
            RetrievalMetric.canary_run_id,
            RetrievalMetric.metric,
            RetrievalMetric.dims,
            RetrievalMetric.value,
        ).where(RetrievalMetric.canary_run_id.in_(run_ids))
    ).all()
    full: dict[int, int] = {}
    for run_id, _, dims, _ in rows:
        full[run_id] = max(full.get(run_id, 0), dims)
    for run_id, metric, dims, value in rows:
        if dims == full[run_id]:
            out.setdefault(run_id, {})[metric] = value
    return out


def save_migrate_check(session: Session, **values: Any) -> int:
    check = MigrateCheck(**values)
    session.add(check)
    session.flush()
    return check.id


def changed_canary_sets(session: Session, mv_id: int) -> list[str]:
    """Canary sets whose latest run for this model version says ``changed``."""
    runs = session.execute(
        select(CanaryRun.verdict, CanarySet.name)
        .join(CanarySet, CanarySet.id == CanaryRun.set_id)
        .where(CanaryRun.model_version_id == mv_id)
        .order_by(CanaryRun.created_at.desc(), CanaryRun.id.desc())
    ).all()
    latest: dict[str, str] = {}
    for verdict, name in runs:
        latest.setdefault(name, verdict)
    return sorted(name for name, verdict in latest.items() if verdict == "changed")
