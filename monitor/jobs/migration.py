"""Blue-green comparison of two model versions on a labelled canary set (``migrate-check``)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from monitor.errors import ConfigError
from monitor.inputs import read_canary_set
from monitor.jobs.context import (
    JobContext,
    embed_items,
    find_canary_set,
    qrels_by_query,
    split_items,
)
from monitor.stats import crossmodel
from monitor.storage import canaries as canaries_store
from monitor.storage import versions as versions_store

__all__ = ["format_migrate_check", "migrate_check"]


def migrate_check(
    ctx: JobContext, from_name: str, to_name: str, set_name: str, *, seed: int = 0
) -> dict[str, Any]:
    """Compare candidate ``to`` with serving ``from`` on a labelled canary set; store it."""
    cset = find_canary_set(ctx.settings, set_name)
    items, qrels = read_canary_set(cset.path, cset.qrels)
    if not qrels:
        raise ConfigError(
            f"canary set {set_name!r} has no qrels; migrate-check compares "
            "retrieval quality and needs judgements"
        )
    a_model, b_model = ctx.settings.model(from_name), ctx.settings.model(to_name)
    now = ctx.clock.now()
    with ctx.db.transaction() as s:
        set_id, _ = canaries_store.import_canary_set(s, cset.name, cset.path, items, qrels, now)
        a = versions_store.ensure_model_version(s, a_model.name, dataclasses.asdict(a_model), now)
        b = versions_store.ensure_model_version(s, b_model.name, dataclasses.asdict(b_model), now)
        records = canaries_store.canary_items(s, set_id)
    ea = embed_items(ctx, a_model, records)
    started = time.perf_counter()
    eb = embed_items(ctx, b_model, records)
    throughput = len(records) / max(time.perf_counter() - started, 1e-6)
    qids, qa, dids, da = split_items(records, ea.vectors)
    _, qb, _, db = split_items(records, eb.vectors)
    policy = [dataclasses.asdict(r) for r in ctx.settings.migration.policy] or None
    result = crossmodel.compare_models(
        qa, da, qb, db, qids, dids, qrels_by_query(qrels), ks=cset.ks, policy=policy, seed=seed
    )
    doc = result.to_dict()
    mig = ctx.settings.migration
    if mig.corpus_documents > 0:
        estimate = crossmodel.reembed_estimate(
            n_documents=mig.corpus_documents,
            mean_tokens=mig.corpus_mean_tokens,
            price_per_million_tokens=b_model.price_per_million_tokens,
            texts_per_second=throughput,
        )
        doc["reembed"] = estimate.to_dict()
    doc["throughput_texts_per_second"] = throughput
    doc["from"] = {"model": a.model, "model_version": a.version}
    doc["to"] = {"model": b.model, "model_version": b.version}
    with ctx.db.transaction() as s:
        check_id = canaries_store.save_migrate_check(
            s,
            from_version_id=a.id,
            to_version_id=b.id,
            set_id=set_id,
            created_at=now,
            verdict=str(doc["verdict"]),
            result=doc,
        )
    doc["id"] = check_id
    return doc


def format_migrate_check(doc: dict[str, Any]) -> str:
    """A terminal summary of :func:`migrate_check`'s result."""
    a, b = doc["from"], doc["to"]
    lines = [
        f"migrate-check {a['model']} ({a['model_version']}) -> {b['model']} "
        f"({b['model_version']}): {doc['verdict'].upper()}"
    ]
    for reason in doc.get("reasons", []):
        lines.append(f"  reason: {reason}")
    lines.append(f"  {'metric':12} {'current':>8} {'candidate':>9} {'delta':>8}  95% CI")
    for name, d in sorted(doc.get("deltas", {}).items()):
        if name in ("ndcg@10", "recall@10", "mrr@10", "map"):
            lines.append(
                f"  {name:12} {d['mean_a']:8.4f} {d['mean_b']:9.4f} "
                f"{d['delta']:+8.4f}  [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
            )
    lines.append(
        f"  linear CKA {doc['cka']:.4f}; top-{doc['k_overlap']} Jaccard (median) "
        f"{doc['jaccard']['median']:.3f}; RBO (median) {doc['rbo']['median']:.3f}"
    )
    if "reembed" in doc:
        r = doc["reembed"]
        lines.append(
            f"  re-embedding {r['n_documents']} documents: ~{r['cost']:.2f} at the "
            f"configured price, ~{r['hours']:.1f} h at the measured throughput"
        )
    return "\n".join(lines)
