"""The drift job: test the latest sampling window against the reference, per model version."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from monitor import stats
from monitor.config import ModelSettings, parse_duration, parse_reference
from monitor.jobs.alerts import evaluate_alerts
from monitor.jobs.context import JobContext, Skip, embed_by_hash
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
    window = parse_duration(ctx.settings.sampling.window)
    kind, arg = parse_reference(ctx.settings.drift.reference)
    with ctx.db.read() as s:
        cur_start = samples_store.latest_window_start(s)
    if cur_start is None:
        raise Skip("no query samples yet")
    ref_start, ref_end = (cur_start - arg, cur_start) if kind == "rolling" else arg
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
    embed_missing(ctx, model, mv.id, [(w.ref_start, w.ref_end), (w.cur_start, w.cur_end)])
    with ctx.db.read() as s:
        _, _, ref = samples_store.window_embeddings(s, mv.id, w.ref_start, w.ref_end)
        _, cur_texts, cur = samples_store.window_embeddings(s, mv.id, w.cur_start, w.cur_end)
        if drift_store.drift_run_exists(s, mv.id, w.cur_start, len(cur)):
            return {"verdict": "unchanged input, not re-run"}
    seed = (cfg.seed * 1_000_003 + int(w.cur_start.timestamp()) + mv.id) % (2**31)
    rng = np.random.default_rng(seed)
    if len(ref) > cfg.max_reference:
        ref = ref[np.sort(rng.choice(len(ref), cfg.max_reference, replace=False))]
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
        "explanation": explanation,
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
        group.pop("members", None)
    return data


def embed_missing(
    ctx: JobContext, model: ModelSettings, mv_id: int, ranges: list[tuple[datetime, datetime]]
) -> int:
    """Embed the samples in ``ranges`` this version has no vector for.

    Each distinct text is embedded once per model version: a repeated query reuses
    the vector already stored for its hash (the query-embedding cache).
    """
    n = 0
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
        with ctx.db.transaction() as s:
            n += samples_store.save_query_embeddings(
                s, mv_id, ((sid, vectors[h]) for sid, h, _ in missing if h in vectors)
            )
    return n
