"""Canary runs: re-embed each canary set with each model version and compare with its baseline.

Also the retrieval quality of each version on the set's judgements, the rank-level
agreement with the baseline, and re-baselining on request.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from monitor.config import CanarySetSettings, ModelSettings
from monitor.domain import CanaryItemRecord
from monitor.inputs import Item, Qrel, read_canary_set
from monitor.jobs.alerts import evaluate_alerts
from monitor.jobs.context import (
    JobContext,
    Skip,
    embed_items,
    find_canary_set,
    qrels_by_query,
    split_items,
)
from monitor.stats import retrieval
from monitor.stats.canary import CanaryComparison, compare_to_baseline, noise_floor
from monitor.storage import canaries as canaries_store
from monitor.storage import samples as samples_store
from monitor.storage import versions as versions_store

__all__ = ["canary_job", "rebaseline", "retrieval_rows", "topk_overlap"]

#: the k of the rank-level agreement between a canary run and its baseline
OVERLAP_K = 10


def topk_overlap(
    records: list[CanaryItemRecord], baseline: np.ndarray, current: np.ndarray, k: int = OVERLAP_K
) -> float | None:
    """Mean top-k Jaccard overlap: baseline queries vs current queries, on baseline documents.

    This is what users of an index built with the baseline see: their documents keep
    the old vectors while new queries get the current ones. A rotation or a
    different model of the same dimension collapses it even when every in-model
    distance is preserved. None when the dimension changed (nothing to search).
    """
    qids, qb, dids, db = split_items(records, baseline)
    _, qc, _, _ = split_items(records, current)
    if not qids or not dids or baseline.shape[1] != current.shape[1]:
        return None
    k = min(k, len(dids))
    ib, _ = retrieval.search(qb, db, k)
    ic, _ = retrieval.search(qc, db, k)
    scores = [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(ib, ic, strict=True)]
    return float(np.mean(scores))


def retrieval_rows(
    cset: CanarySetSettings,
    records: list[CanaryItemRecord],
    vectors: np.ndarray,
    qrels: list[tuple[str, str, int]],
) -> tuple[list[tuple[str, int, float]], dict[str, Any]]:
    """(metric, dims, value) rows for the DB and a summary, on the set's judgements."""
    qids, qv, dids, dv = split_items(records, vectors)
    if not qids or not dids:
        return [], {}
    full = vectors.shape[1]
    rows: list[tuple[str, int, float]] = []
    summary: dict[str, Any] = {}
    judged = qrels_by_query(qrels)
    if judged:
        dims = [m for m in cset.matryoshka_dims if m < full]
        results = (
            retrieval.matryoshka(
                qv, dv, qids, dids, judged, dims=dims, ks=cset.ks, cutoffs=cset.score_cutoffs
            )
            if dims
            else {
                full: retrieval.evaluate(
                    qv, dv, qids, dids, judged, ks=cset.ks, cutoffs=cset.score_cutoffs
                )
            }
        )
        for m, res in results.items():
            rows += [(name, m, float(v)) for name, v in res.metrics.items()]
        summary = dict(results[full].metrics)
    k = min(max(cset.ks), len(dids))
    _, top = retrieval.search(qv, dv, k)
    scores = retrieval.score_stats(top, k=k, cutoffs=cset.score_cutoffs)
    rows += [
        ("top1_median", full, scores.top1.median),
        ("top1_p05", full, scores.top1.p05),
        (f"top{scores.k}_median", full, scores.topk.median),
    ]
    rows += [(f"top1_pass@{c}", full, v) for c, v in scores.pass_rates.items()]
    summary["top1_median"] = scores.top1.median
    return rows, summary


def canary_job(ctx: JobContext, only: str | None) -> tuple[int, dict[str, Any]]:
    """The canary job: every model version on every canary set."""
    if not ctx.settings.canary_sets:
        raise Skip("no [[canary_sets]] configured")
    details: dict[str, Any] = {}
    sets = [(c, read_canary_set(c.path, c.qrels)) for c in ctx.settings.canary_sets]
    for model in ctx.models(only):
        for cset, (items, qrels) in sets:
            details[f"{model.name}/{cset.name}"] = _canary_run(ctx, model, cset, items, qrels)
    return len(details), details


def _canary_run(
    ctx: JobContext,
    model: ModelSettings,
    cset: CanarySetSettings,
    items: list[Item],
    qrels: list[Qrel],
) -> dict[str, Any]:
    """Embed one set with one model version, compare with its baseline (made on first run)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        set_id, _ = canaries_store.import_canary_set(s, cset.name, cset.path, items, qrels, now)
        mv = versions_store.ensure_model_version(s, model.name, dataclasses.asdict(model), now)
        records = canaries_store.canary_items(s, set_id)
        baseline = canaries_store.current_baseline(s, set_id, mv.id)
    repeats = 1 if baseline is not None else max(cset.baseline_repeats, 1)
    embedded = [embed_items(ctx, model, records) for _ in range(repeats)]
    current = embedded[-1]
    rows, quality = retrieval_rows(cset, records, current.vectors, qrels)
    with ctx.db.transaction() as s:
        if baseline is None:
            floor = noise_floor([e.vectors for e in embedded])
            baseline_id = canaries_store.save_baseline(
                s, set_id, mv.id, [r.id for r in records], embedded[0].vectors, floor, now
            )
            vectors = embedded[0].vectors  # the last repeat is the first observation
        else:
            baseline_id, floor, vectors = baseline
        cmp = compare_to_baseline(vectors, current.vectors, floor=floor, min_cosine=cset.min_cosine)
        overlap = topk_overlap(records, vectors, current.vectors)
        stale = f"top{OVERLAP_K}_overlap_stale_index"
        run_id = canaries_store.save_canary_run(
            s,
            set_id=set_id,
            model_version_id=mv.id,
            baseline_id=baseline_id,
            created_at=now,
            **_comparison_columns(cmp),
            details={
                "reasons": list(cmp.reasons),
                "baseline_created": baseline is None,
                "noise_floor": floor,
                "identity": current.identity,
                stale: overlap,
            },
        )
        if overlap is not None:
            rows.append((stale, current.vectors.shape[1], overlap))
        canaries_store.save_retrieval_metrics(s, run_id, rows)
        evaluate_alerts(ctx, s)
    return {
        "verdict": cmp.verdict,
        "min_cosine": cmp.min_cosine,
        "mean_cosine": cmp.mean_cosine,
        "run_id": run_id,
        "baseline_created": baseline is None,
        "reasons": list(cmp.reasons),
        "topk_overlap": overlap,
        "retrieval": quality,
        "identity": current.identity,
    }


def _comparison_columns(cmp: CanaryComparison) -> dict[str, Any]:
    """The canary_runs columns of a comparison with the baseline."""
    return {
        "verdict": cmp.verdict,
        "n_items": cmp.n_items,
        "min_cosine": cmp.min_cosine,
        "p01_cosine": cmp.p01_cosine,
        "mean_cosine": cmp.mean_cosine,
        "share_below": cmp.share_below,
        "norm_ratio": cmp.norm_ratio,
        "dim_baseline": cmp.dim_baseline,
        "dim_current": cmp.dim_current,
        "tolerance": cmp.tolerance,
    }


def rebaseline(
    ctx: JobContext, model_name: str, set_name: str, *, reason: str, by: str
) -> dict[str, Any]:
    """Replace a model version's baseline of a set with a fresh embedding, recording why.

    The version's cached query vectors are dropped as well: after a model change
    they are not comparable with what the endpoint returns now.
    """
    model = ctx.settings.model(model_name)
    cset = find_canary_set(ctx.settings, set_name)
    items, qrels = read_canary_set(cset.path, cset.qrels)
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        set_id, _ = canaries_store.import_canary_set(s, cset.name, cset.path, items, qrels, now)
        mv = versions_store.ensure_model_version(s, model.name, dataclasses.asdict(model), now)
        records = canaries_store.canary_items(s, set_id)
    embedded = [embed_items(ctx, model, records) for _ in range(max(cset.baseline_repeats, 1))]
    floor = noise_floor([e.vectors for e in embedded])
    with ctx.db.transaction() as s:
        baseline_id = canaries_store.save_baseline(
            s,
            set_id,
            mv.id,
            [r.id for r in records],
            embedded[0].vectors,
            floor,
            now,
            reason=reason,
            created_by=by,
        )
        # cached query vectors may come from the old model: drift runs re-embed from here
        dropped = samples_store.drop_query_embeddings(s, mv.id)
    return {
        "baseline_id": baseline_id,
        "model_version": mv.version,
        "noise_floor": floor,
        "dropped_query_vectors": dropped,
    }
