"""The read model of the run reports: one stored run, with what its page shows beside it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.domain import (
    CanaryRunView,
    DriftHistoryView,
    DriftRunView,
    DriftTestView,
    MigrateCheckView,
    RetrievalPoint,
    RunLink,
    VersionOverview,
)
from monitor.storage.schema import (
    CanaryItem,
    CanaryRun,
    CanarySet,
    DriftMetric,
    DriftRun,
    MigrateCheck,
    ModelVersion,
    QuerySample,
    RetrievalMetric,
)

__all__ = [
    "HISTORY",
    "canary_run_view",
    "drift_run_view",
    "latest_run_id",
    "migrate_check_view",
    "overview",
]

#: windows shown in a drift report's history, canary runs in its retrieval chart
HISTORY = 48
_RETRIEVAL_SHOWN = ("ndcg@10", "recall@10", "mrr@10", "top10_overlap_stale_index")
_KINDS: dict[str, Any] = {"drift": DriftRun, "canary": CanaryRun, "migrate": MigrateCheck}


def latest_run_id(session: Session, kind: str) -> int | None:
    """The newest stored run of ``kind`` (drift, canary or migrate), or None."""
    table = _KINDS[kind]
    found: int | None = session.scalar(select(table.id).order_by(table.id.desc()).limit(1))
    return found


def _tests(session: Session, run_id: int) -> tuple[DriftTestView, ...]:
    rows = session.scalars(
        select(DriftMetric).where(DriftMetric.run_id == run_id).order_by(DriftMetric.test)
    ).all()
    return tuple(
        DriftTestView(m.test, m.statistic, m.p_value, m.threshold, m.effect, m.drift) for m in rows
    )


def _history(session: Session, run: DriftRun) -> tuple[DriftHistoryView, ...]:
    runs = session.scalars(
        select(DriftRun)
        .where(DriftRun.model_version_id == run.model_version_id, DriftRun.id <= run.id)
        .order_by(DriftRun.id.desc())
        .limit(HISTORY)
    ).all()
    ids = [r.id for r in runs]
    p_values: dict[int, dict[str, float | None]] = {i: {} for i in ids}
    for run_id, test, p in session.execute(
        select(DriftMetric.run_id, DriftMetric.test, DriftMetric.p_value).where(
            DriftMetric.run_id.in_(ids)
        )
    ):
        p_values[run_id][test] = p
    return tuple(
        DriftHistoryView(r.id, as_utc(r.window_start), r.verdict, p_values[r.id])
        for r in reversed(runs)
    )


def _sample_texts(session: Session, explanation: dict[str, Any] | None) -> dict[int, str | None]:
    ids = [int(i) for i in ((explanation or {}).get("map") or {}).get("sample_ids", [])]
    texts: dict[int, str | None] = {}
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        for sid, text in session.execute(
            select(QuerySample.id, QuerySample.text).where(QuerySample.id.in_(part))
        ):
            texts[sid] = text
    return texts


def drift_run_view(session: Session, run_id: int) -> DriftRunView | None:
    """A drift run with its tests, the texts of its map's points and the version's history."""
    run = session.get(DriftRun, run_id)
    if run is None:
        return None
    mv = session.get(ModelVersion, run.model_version_id)
    assert mv is not None  # a foreign key
    return DriftRunView(
        id=run.id,
        model=mv.model_name,
        model_version=mv.version,
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
        explanation=run.explanation,
        tests=_tests(session, run.id),
        texts=_sample_texts(session, run.explanation),
        history=_history(session, run),
    )


def _retrieval(session: Session, set_id: int, until_id: int) -> tuple[RetrievalPoint, ...]:
    rows = session.execute(
        select(
            ModelVersion.version,
            CanaryRun.id,
            CanaryRun.created_at,
            RetrievalMetric.metric,
            RetrievalMetric.value,
            RetrievalMetric.dims,
            CanaryRun.dim_current,
        )
        .join(CanaryRun, CanaryRun.id == RetrievalMetric.canary_run_id)
        .join(ModelVersion, ModelVersion.id == CanaryRun.model_version_id)
        .where(
            CanaryRun.set_id == set_id,
            CanaryRun.id <= until_id,
            RetrievalMetric.metric.in_(_RETRIEVAL_SHOWN),
        )
        .order_by(CanaryRun.id.desc())
        .limit(HISTORY * len(_RETRIEVAL_SHOWN) * 4)
    ).all()
    return tuple(
        RetrievalPoint(version, run_id, as_utc(at), metric, value)
        for version, run_id, at, metric, value, dims, full in reversed(rows)
        if dims == full  # the full vectors, not a Matryoshka prefix
    )


def canary_run_view(session: Session, run_id: int) -> CanaryRunView | None:
    """A canary run with its set's item texts and the set's retrieval history."""
    run = session.get(CanaryRun, run_id)
    if run is None:
        return None
    mv = session.get(ModelVersion, run.model_version_id)
    cset = session.get(CanarySet, run.set_id)
    assert mv is not None and cset is not None  # foreign keys
    items = {
        i.id: (i.item_key, i.text)
        for i in session.scalars(select(CanaryItem).where(CanaryItem.set_id == run.set_id))
    }
    return CanaryRunView(
        id=run.id,
        canary_set=cset.name,
        model=mv.model_name,
        model_version=mv.version,
        created_at=as_utc(run.created_at),
        verdict=run.verdict,
        n_items=run.n_items,
        min_cosine=run.min_cosine,
        p01_cosine=run.p01_cosine,
        mean_cosine=run.mean_cosine,
        share_below=run.share_below,
        norm_ratio=run.norm_ratio,
        dim_baseline=run.dim_baseline,
        dim_current=run.dim_current,
        tolerance=run.tolerance,
        details=dict(run.details or {}),
        items=items,
        retrieval=_retrieval(session, run.set_id, run.id),
    )


def migrate_check_view(session: Session, check_id: int) -> MigrateCheckView | None:
    """A stored migration check."""
    check = session.get(MigrateCheck, check_id)
    if check is None:
        return None
    cset = session.get(CanarySet, check.set_id)
    return MigrateCheckView(
        id=check.id,
        canary_set=cset.name if cset is not None else "?",
        created_at=as_utc(check.created_at),
        verdict=check.verdict,
        result=dict(check.result or {}),
    )


def overview(session: Session, per_kind: int = 5) -> list[VersionOverview]:
    """Every model version, newest first, with its latest runs of each kind."""
    out: list[VersionOverview] = []
    for mv in session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())):
        links: list[RunLink] = []
        for d in session.scalars(
            select(DriftRun)
            .where(DriftRun.model_version_id == mv.id)
            .order_by(DriftRun.id.desc())
            .limit(per_kind)
        ):
            label = f"window {as_utc(d.window_start):%Y-%m-%d %H:%M}"
            links.append(RunLink("drift", d.id, as_utc(d.created_at), d.verdict, label))
        for c, set_name in session.execute(
            select(CanaryRun, CanarySet.name)
            .join(CanarySet, CanarySet.id == CanaryRun.set_id)
            .where(CanaryRun.model_version_id == mv.id)
            .order_by(CanaryRun.id.desc())
            .limit(per_kind)
        ):
            links.append(RunLink("canary", c.id, as_utc(c.created_at), c.verdict, set_name))
        for m in session.scalars(
            select(MigrateCheck)
            .where((MigrateCheck.from_version_id == mv.id) | (MigrateCheck.to_version_id == mv.id))
            .order_by(MigrateCheck.id.desc())
            .limit(per_kind)
        ):
            links.append(RunLink("migrate", m.id, as_utc(m.created_at), m.verdict, "migration"))
        out.append(
            VersionOverview(
                mv.model_name,
                mv.version,
                mv.provider,
                mv.model_id,
                mv.dimensions,
                mv.active,
                tuple(links),
            )
        )
    return out
