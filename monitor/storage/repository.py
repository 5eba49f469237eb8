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
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.domain import CanaryItemRecord, CanaryRunRecord, DriftRunRecord, ModelVersionRef
from monitor.storage.schema import (
    CanaryBaseline,
    CanaryBaselineVector,
    CanaryItem,
    CanaryQrel,
    CanaryRun,
    CanarySet,
    DriftMetric,
    DriftRun,
    MigrateCheck,
    ModelVersion,
    QueryEmbedding,
    QuerySample,
    RetrievalMetric,
    SourceCounter,
)
from monitor.storage.vectors import decode_vector, decode_vectors, encode_vector

__all__ = [
    "canary_items",
    "changed_canary_sets",
    "current_baseline",
    "drop_query_embeddings",
    "embeddings_by_hash",
    "ensure_model_version",
    "import_canary_set",
    "latest_canary_runs",
    "latest_canary_set",
    "latest_drift_runs",
    "samples_missing_embeddings",
    "save_baseline",
    "save_canary_run",
    "save_drift_run",
    "retrieval_for_runs",
    "save_migrate_check",
    "save_query_embeddings",
    "save_retrieval_metrics",
    "window_embeddings",
]

_IDENTITY_KEYS = (
    "provider",
    "model",
    "base_url",
    "dimensions",
    "query_prefix",
    "document_prefix",
    "normalize",
    "seed",
)


def _ref(mv: ModelVersion) -> ModelVersionRef:
    return ModelVersionRef(
        id=mv.id,
        model=mv.model_name,
        version=mv.version,
        provider=mv.provider,
        model_id=mv.model_id,
        dimensions=mv.dimensions,
        fingerprint=mv.fingerprint,
    )


def config_identity(settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The hash of what makes a model version: settings that change the vectors."""
    ident = {k: settings.get(k) for k in _IDENTITY_KEYS}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    return digest, ident


def ensure_model_version(
    session: Session, name: str, settings: dict[str, Any], now: datetime
) -> ModelVersionRef:
    """The model version for this configuration of model ``name``, created if new.

    An INSERT ... ON CONFLICT DO NOTHING, so concurrent creators (ingest requests,
    jobs, replicas) all end with the same row instead of a unique violation.
    """
    digest, ident = config_identity(settings)
    active = bool(settings.get("active", True))  # an evaluated candidate is not monitored
    table = ModelVersion.__table__
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert_(table)  # type: ignore[arg-type]
        .values(
            model_name=name,
            version="v" + digest[:8],
            provider=ident["provider"],
            model_id=str(ident["model"]),
            dimensions=int(ident["dimensions"]),
            config_hash=digest,
            config=ident,
            active=active,
            created_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_nothing()
    )
    mv = session.scalars(
        select(ModelVersion).where(
            ModelVersion.model_name == name, ModelVersion.config_hash == digest
        )
    ).one()
    mv.last_seen_at = now
    mv.active = active
    return _ref(mv)


def active_model_versions(session: Session) -> list[ModelVersionRef]:
    rows = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.active.is_(True))
        .order_by(ModelVersion.model_name, ModelVersion.id)
    )
    return [_ref(mv) for mv in rows]


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
    return bl.id, bl.noise_floor, decode_vectors([tuple(r) for r in rows])


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


def source_counters(session: Session) -> list[tuple[str, str, int]]:
    return [
        tuple(r)
        for r in session.execute(  # type: ignore[misc]
            select(SourceCounter.source, SourceCounter.counter, SourceCounter.value).order_by(
                SourceCounter.source, SourceCounter.counter
            )
        ).all()
    ]


def samples_missing_embeddings(
    session: Session, mv_id: int, since: datetime, until: datetime
) -> list[tuple[int, str, str | None]]:
    """(sample id, text hash, text) of samples in [since, until) this version has not embedded."""
    q = (
        select(QuerySample.id, QuerySample.text_hash, QuerySample.text)
        .outerjoin(
            QueryEmbedding,
            and_(
                QueryEmbedding.sample_id == QuerySample.id, QueryEmbedding.model_version_id == mv_id
            ),
        )
        .where(
            QueryEmbedding.sample_id.is_(None),
            QuerySample.window_start >= since,
            QuerySample.window_start < until,
        )
        .order_by(QuerySample.id)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(q).all()]


def embeddings_by_hash(
    session: Session, mv_id: int, hashes: Sequence[str]
) -> dict[str, np.ndarray]:
    """Vectors this version already made for these text hashes: the query-embedding cache."""
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), 500):
        rows = session.execute(
            select(
                QuerySample.text_hash,
                QueryEmbedding.vector,
                QueryEmbedding.dtype,
                QueryEmbedding.dim,
            )
            .join(QueryEmbedding, QueryEmbedding.sample_id == QuerySample.id)
            .where(
                QueryEmbedding.model_version_id == mv_id,
                QuerySample.text_hash.in_(hashes[start : start + 500]),
            )
        ).all()
        for h, blob, dtype, dim in rows:
            out.setdefault(h, decode_vector(blob, dtype, dim))
    return out


def save_query_embeddings(
    session: Session, mv_id: int, pairs: Iterable[tuple[int, np.ndarray]]
) -> int:
    n = 0
    for sample_id, vec in pairs:
        blob, dtype, dim = encode_vector(vec)
        session.add(
            QueryEmbedding(
                sample_id=sample_id, model_version_id=mv_id, dtype=dtype, dim=dim, vector=blob
            )
        )
        n += 1
    session.flush()
    return n


def latest_window_start(session: Session) -> datetime | None:
    value = session.scalar(select(func.max(QuerySample.window_start)))
    return as_utc(value) if value is not None else None


def window_embeddings(
    session: Session, mv_id: int, since: datetime, until: datetime
) -> tuple[list[int], list[str | None], np.ndarray]:
    """(sample ids, redacted texts, vectors) embedded by ``mv_id`` in [since, until)."""
    rows = session.execute(
        select(
            QuerySample.id,
            QuerySample.text,
            QueryEmbedding.vector,
            QueryEmbedding.dtype,
            QueryEmbedding.dim,
        )
        .join(QueryEmbedding, QueryEmbedding.sample_id == QuerySample.id)
        .where(
            QueryEmbedding.model_version_id == mv_id,
            QuerySample.window_start >= since,
            QuerySample.window_start < until,
        )
        .order_by(QuerySample.id)
    ).all()
    return (
        [r[0] for r in rows],
        [r[1] for r in rows],
        decode_vectors([(r[2], r[3], r[4]) for r in rows]),
    )


# --------------------------------------------------------------------------- drift


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


def drop_query_embeddings(session: Session, mv_id: int) -> int:
    """Forget every cached query vector of a version (they may predate a model change)."""
    result = session.execute(delete(QueryEmbedding).where(QueryEmbedding.model_version_id == mv_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
