"""The drift job: test the latest sampling window against the reference, per model version."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from monitor import stats
from monitor.config import ModelSettings, Rolling
from monitor.jobs.alerts import evaluate_alerts
from monitor.jobs.context import DimensionChanged, JobContext, Skip, embed_by_hash
from monitor.stats.drift_map import map_document
from monitor.storage import canaries as canaries_store
from monitor.storage import drift as drift_store
from monitor.storage import samples as samples_store
from monitor.storage import versions as versions_store

__all__ = ["drift_job", "embed_missing"]

log = logging.getLogger("driftmon.jobs")


@dataclass(frozen=True)
class _Windows:
    ref_start: datetime
    ref_end: datetime
    cur_start: datetime
    cur_end: datetime


def drift_job(ctx: JobContext, only: str | None) -> tuple[int, dict[str, Any]]:
    """Test the latest sampling window against the reference, per model version."""
    window = ctx.settings.sampling.window.delta
    ref = ctx.settings.drift.reference
    with ctx.db.read() as s:
        cur_start = samples_store.latest_window_start(s)
    if cur_start is None:
        raise Skip("no query samples yet")
    if isinstance(ref, Rolling):
        ref_start, ref_end = cur_start - ref.span.delta, cur_start
    else:
        ref_start, ref_end = ref.start, ref.end
    w = _Windows(ref_start, ref_end, cur_start, cur_start + window)
    done = 0
    details: dict[str, Any] = {}
    for model in ctx.models(only):
        details[model.name] = _drift_model(ctx, model, w)
        done += "run_id" in details[model.name]
    return done, details


def _drift_model(ctx: JobContext, model: ModelSettings, w: _Windows) -> dict[str, Any]:
    """One model version's drift run; its details for the CLI."""
    cfg = ctx.settings.drift
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        mv = versions_store.ensure_model_version(s, model.name, dataclasses.asdict(model), now)
        changed = canaries_store.changed_canary_sets(s, mv.id)
    if changed:
        # vectors from before and after a silent change are not comparable: no drift
        # run (and no caching of the new vectors) until someone re-baselines
        reason = (
            f"the canary set(s) {', '.join(changed)} say the model changed under its name; "
            "run 'driftmon canary rebaseline' once the index is rebuilt"
        )
        log.warning("drift run for %s suspended: %s", model.name, reason)
        return {"verdict": "suspended", "reason": reason}
    try:
        _, evicted = embed_missing(
            ctx, model, mv.id, [(w.ref_start, w.ref_end), (w.cur_start, w.cur_end)]
        )
    except DimensionChanged as exc:  # nothing of the new dimension was stored
        log.warning("drift run for %s suspended: %s", model.name, exc)
        return {"verdict": "suspended", "reason": str(exc)}
    with ctx.db.read() as s:
        ref_ids, _, ref = samples_store.window_embeddings(s, mv.id, w.ref_start, w.ref_end)
        cur_ids, cur_texts, cur = samples_store.window_embeddings(s, mv.id, w.cur_start, w.cur_end)
        if drift_store.drift_run_exists(s, mv.id, w.cur_start, len(cur)):
            return {"verdict": "unchanged input, not re-run"}
    seed = (cfg.seed * 1_000_003 + int(w.cur_start.timestamp()) + mv.id) % (2**31)
    rng = np.random.default_rng(seed)
    if len(ref) > cfg.max_reference:
        keep = np.sort(rng.choice(len(ref), cfg.max_reference, replace=False))
        ref, ref_ids = ref[keep], [ref_ids[i] for i in keep]
    result = None
    if len(ref) > 0 and len(cur) > 0:
        result = stats.run_suite(
            ref,
            cur,
            alpha=cfg.alpha,
            n_permutations=cfg.permutations,
            seed=seed,
            tests=cfg.tests or None,
            min_samples=cfg.min_samples,
        )
    verdict = result.verdict if result is not None else "insufficient_data"
    explanation = _explain(result, cur_texts) if result is not None else None
    if result is not None and len(ref) >= 2:
        explanation = _with_map(explanation, ref, cur, ref_ids, cur_ids, rng)
    with ctx.db.transaction() as s:
        run_id = drift_store.save_drift_run(
            s,
            model_version_id=mv.id,
            created_at=now,
            window_start=w.cur_start,
            window_end=w.cur_end,
            reference_start=w.ref_start,
            reference_end=w.ref_end,
            n_ref=len(ref),
            n_cur=len(cur),
            verdict=verdict,
            alpha=cfg.alpha,
            seed=seed,
            policy=result.policy if result is not None else "",
            explanation=explanation,
            metrics=[_metric_row(t) for t in (result.tests.values() if result else [])],
        )
        evaluate_alerts(ctx, s)
    return {
        "verdict": verdict,
        "run_id": run_id,
        "n_ref": len(ref),
        "n_cur": len(cur),
        "tests": {k: v.to_dict() for k, v in (result.tests.items() if result else [])},
        "explanation": {k: v for k, v in (explanation or {}).items() if k != "map"} or None,
        "evicted": evicted,  # samples that left the reservoir while being embedded
    }


def _metric_row(t: Any) -> dict[str, Any]:
    def f(x: float | None) -> float | None:
        return None if x is None or not np.isfinite(x) else float(x)

    return {
        "test": t.name,
        "statistic": f(t.statistic),
        "p_value": f(t.p_value),
        "threshold": f(t.threshold),
        "effect": f(t.effect),
        "drift": bool(t.drift),
    }


def _explain(result: Any, cur_texts: list[str | None]) -> dict[str, Any] | None:
    """The stats explanation with the (redacted) example queries it points at."""
    if result.explanation is None:
        return None
    data: dict[str, Any] = result.explanation.to_dict()

    def examples(indices: list[int]) -> list[str]:
        seen: dict[str, None] = {}  # distinct texts, most central first
        for i in indices:
            text = cur_texts[i]
            if text is not None:
                seen.setdefault(text)
        return list(seen)[:5]

    for cluster in data.get("clusters", []):
        if cluster.get("status") == "grew":
            cluster["examples"] = examples(cluster.get("cur_examples", []))
    for group in data.get("emerging", []):
        group["examples"] = examples(group.get("cur_examples", []))
    return data


def _with_map(
    explanation: dict[str, Any] | None,
    ref: np.ndarray,
    cur: np.ndarray,
    ref_ids: list[int],
    cur_ids: list[int],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The explanation with the run's 2-D map added (the report draws it); members dropped."""
    data = dict(explanation or {})
    groups: list[tuple[str, str, list[int]]] = []
    for n, group in enumerate(data.get("emerging", []), start=1):
        label = f"new group {n}: " + "; ".join(group.get("examples", [])[:2])
        groups.append(("emerging", label, list(group.pop("members", []))))
    for cluster in data.get("clusters", []):
        if cluster.get("status") == "grew":
            label = f"grew x{cluster.get('ratio', 0):.1f}: " + "; ".join(
                cluster.get("examples", [])[:2]
            )
            groups.append(("grew", label, list(cluster.get("cur_examples", []))))
    data["map"] = map_document(ref, cur, ref_ids, cur_ids, groups, rng)
    return data


def embed_missing(
    ctx: JobContext, model: ModelSettings, mv_id: int, ranges: list[tuple[datetime, datetime]]
) -> tuple[int, int]:
    """Embed the samples in ``ranges`` this version has no vector for: (stored, evicted).

    Each distinct text is embedded once per model version: a repeated query reuses
    the vector already stored for its hash (the query-embedding cache). Samples an
    ingest evicted from the reservoir meanwhile are skipped and counted.
    """
    n = evicted = 0
    for since, until in ranges:
        with ctx.db.read() as s:
            missing = [
                m
                for m in samples_store.samples_missing_embeddings(s, mv_id, since, until)
                if m[2] is not None
            ]
        texts: dict[str, str] = {}
        for _, h, text in missing:
            if text is not None:
                texts.setdefault(h, text)
        vectors = embed_by_hash(ctx, model, mv_id, texts)
        pairs = [(sid, vectors[h]) for sid, h, _ in missing if h in vectors]
        with ctx.db.transaction() as s:
            stored = samples_store.save_query_embeddings(s, mv_id, pairs)
        n, evicted = n + stored, evicted + len(pairs) - stored
    return n, evicted
