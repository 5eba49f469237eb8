"""Blue-green comparison of two model versions on one canary set (see the package notes)."""

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from monitor.stats._checks import InsufficientDataError
from monitor.stats.crossmodel.agreement import _agreement, _cka
from monitor.stats.crossmodel.inference import (
    TEST,
    _level,
    _positive_int,
    paired_bootstrap,
    sign_flip_test,
)
from monitor.stats.crossmodel.policy import (
    PolicyCheck,
    _apply_policy,
    _parse_policy,
    default_policy,
)
from monitor.stats.retrieval import (
    DEFAULT_DEPTH,
    DEFAULT_KS,
    DOC_CHUNK,
    QUERY_CHUNK,
    NoRelevant,
    Qrels,
    ScoreSummary,
    rank_metrics,
    search,
)
from monitor.stats.retrieval.judgements import _check_ks
from monitor.stats.retrieval.measures import _CUT_METRICS
from monitor.stats.retrieval.scores import _summary
from monitor.stats.retrieval.search import _vectors

__all__ = [
    "CrossModelResult",
    "MetricDelta",
    "ReembedEstimate",
    "compare_models",
    "reembed_estimate",
]

Verdict = Literal["ready", "not_ready"]


@dataclass(frozen=True)
class MetricDelta:
    """``B - A`` for one measure: means, mean delta, its CI and paired-test p-value."""

    metric: str
    mean_a: float
    mean_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class CrossModelResult:
    """Comparison of model version B against A on one canary set.

    ``deltas`` is keyed by measure; ``jaccard`` and ``rbo`` summarise the per-query
    agreement of the top-``k_overlap`` lists over all ``n_queries_total`` queries;
    the deltas cover the ``n_queries`` evaluated ones. ``reasons`` are the
    messages of the failed checks (empty when ``ready``).
    """

    verdict: Verdict
    reasons: tuple[str, ...]
    checks: tuple[PolicyCheck, ...]
    ks: tuple[int, ...]
    depth: int
    n_queries: int
    n_skipped_no_relevant: int
    n_queries_total: int
    dim_a: int
    dim_b: int
    deltas: dict[str, MetricDelta]
    k_overlap: int
    rbo_p: float
    jaccard: ScoreSummary
    rbo: ScoreSummary
    cka: float
    confidence: float
    n_boot: int
    n_perm: int
    seed: int
    test: str
    per_query: dict[str, dict[str, float]] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReembedEstimate:
    """Cost and time to re-embed a corpus with a new model version."""

    n_documents: int
    mean_tokens: float
    total_tokens: float
    price_per_million_tokens: float
    cost: float
    texts_per_second: float
    seconds: float
    hours: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_models(
    queries_a: ArrayLike,
    docs_a: ArrayLike,
    queries_b: ArrayLike,
    docs_b: ArrayLike,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    qrels: Qrels,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    policy: Sequence[Mapping[str, Any]] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
    depth: int | None = None,
    no_relevant: NoRelevant = "skip",
    rbo_p: float = 0.9,
    per_query: bool = False,
    query_chunk: int = QUERY_CHUNK,
    doc_chunk: int = DOC_CHUNK,
) -> CrossModelResult:
    """Compare candidate version B with serving version A on the same canary set.

    Parameters
    ----------
    queries_a, docs_a : array_like, shapes (nq, d1) and (n, d1)
        The canary queries and documents embedded by A.
    queries_b, docs_b : array_like, shapes (nq, d2) and (n, d2)
        The same items, same row order, embedded by B.
    query_ids, doc_ids, qrels, ks, depth, no_relevant
        As in :func:`monitor.stats.retrieval.evaluate`.
    policy : sequence of mappings, optional
        Rules, all of which must pass for ``ready``. Keys: ``metric`` (a measure
        name such as ``"ndcg@10"``); ``max_drop`` (the lower bound of the
        two-sided ``confidence`` bootstrap CI of ``B - A`` must be
        ``>= -max_drop``) and/or ``min_value`` (B's mean must be ``>= min_value``);
        ``confidence`` (default: the ``confidence`` argument). Default:
        :func:`default_policy`. An empty policy is always ``ready``.
    confidence : level of the reported CIs, in (0, 1).
    n_boot, n_perm : bootstrap replicates and random sign vectors.
    seed : seeds the only ``numpy.random.Generator`` used; stored in the result.
    rbo_p : RBO persistence.
    per_query : also return per-query deltas, ``jaccard@k`` and ``rbo@k``.
    """
    ks = _check_ks(ks)
    level = _level(confidence, "confidence")
    seed = _positive_int(seed, "seed", 0)
    rbo_p = _level(rbo_p, "rbo_p")
    qa, da = _vectors(queries_a, "queries_a"), _vectors(docs_a, "docs_a")
    qb, db = _vectors(queries_b, "queries_b"), _vectors(docs_b, "docs_b")
    if qa.shape[0] != qb.shape[0] or da.shape[0] != db.shape[0]:
        raise ValueError(
            f"A and B must embed the same items: A has {len(qa)} queries and "
            f"{len(da)} docs, B has {len(qb)} and {len(db)}"
        )
    n_boot, n_perm = _positive_int(n_boot, "n_boot"), _positive_int(n_perm, "n_perm")
    names = tuple(f"{m}@{k}" for m in _CUT_METRICS for k in ks) + ("map",)
    rules = _parse_policy(default_policy(ks) if policy is None else policy, names, level)
    depth = max(DEFAULT_DEPTH, ks[-1]) if depth is None else _positive_int(depth, "depth")
    width = max(depth, ks[-1])
    dids = [str(d) for d in doc_ids]
    runs = []
    for queries, docs in ((qa, da), (qb, db)):
        idx, _ = search(
            queries, docs, width, doc_ids=dids, query_chunk=query_chunk, doc_chunk=doc_chunk
        )
        runs.append(
            (idx, rank_metrics(idx, query_ids, dids, qrels, ks=ks, no_relevant=no_relevant))
        )
    (idx_a, ra), (idx_b, rb) = runs
    assert ra.names == names
    deltas = rb.values - ra.values
    rng_boot, rng_perm = np.random.default_rng(seed).spawn(2)
    if len(deltas) == 0:
        raise InsufficientDataError("no query has a relevant document in the qrels")
    boot = paired_bootstrap(deltas, n_boot, rng_boot)
    p_values = sign_flip_test(deltas, n_perm, rng_perm)
    mean_a, mean_b, mean_d = ra.values.mean(0), rb.values.mean(0), deltas.mean(0)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    table = {
        n: MetricDelta(
            metric=n,
            mean_a=float(mean_a[j]),
            mean_b=float(mean_b[j]),
            delta=float(mean_d[j]),
            ci_low=float(lo[j]),
            ci_high=float(hi[j]),
            p_value=float(p_values[j]),
        )
        for j, n in enumerate(names)
    }
    k_overlap = min(ks[-1], idx_a.shape[1])
    jac, rb_overlap = _agreement(idx_a[:, :k_overlap], idx_b[:, :k_overlap], rbo_p)
    checks = _apply_policy(rules, names, mean_d, boot, mean_b)
    reasons = tuple(c.message for c in checks if not c.passed)
    rows: dict[str, dict[str, float]] | None = None
    if per_query:
        qids = [str(q) for q in query_ids]
        rows = {
            q: {f"jaccard@{k_overlap}": float(jac[i]), f"rbo@{k_overlap}": float(rb_overlap[i])}
            for i, q in enumerate(qids)
        }
        for q, row in zip(ra.query_ids, deltas, strict=True):
            rows[q].update({n: float(v) for n, v in zip(names, row, strict=True)})
    return CrossModelResult(
        verdict="not_ready" if reasons else "ready",
        reasons=reasons,
        checks=checks,
        ks=ks,
        depth=ra.depth,
        n_queries=len(deltas),
        n_skipped_no_relevant=ra.n_skipped_no_relevant,
        n_queries_total=len(qa),
        dim_a=qa.shape[1],
        dim_b=qb.shape[1],
        deltas=table,
        k_overlap=k_overlap,
        rbo_p=rbo_p,
        jaccard=_summary(jac),
        rbo=_summary(rb_overlap),
        cka=_cka([qa, da], [qb, db]),
        confidence=level,
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
        test=TEST,
        per_query=rows,
    )


def reembed_estimate(
    n_documents: int,
    mean_tokens: float,
    *,
    price_per_million_tokens: float,
    texts_per_second: float,
) -> ReembedEstimate:
    """Cost and wall time to re-embed ``n_documents`` texts of ``mean_tokens`` tokens.

    ``cost = n_documents * mean_tokens / 1e6 * price_per_million_tokens`` (in the
    price's currency) and ``seconds = n_documents / texts_per_second``, the
    throughput being one measured end to end (batching and concurrency included).
    """
    n = _positive_int(n_documents, "n_documents", 0)
    values = {
        "mean_tokens": mean_tokens,
        "price_per_million_tokens": price_per_million_tokens,
        "texts_per_second": texts_per_second,
    }
    for name, v in values.items():
        if (
            isinstance(v, bool)
            or not isinstance(v, numbers.Real)
            or not math.isfinite(v)
            or (v <= 0 if name == "texts_per_second" else v < 0)
        ):
            raise ValueError(
                f"{name} must be a finite number "
                f"{'> 0' if name == 'texts_per_second' else '>= 0'}, got {v!r}"
            )
    tokens = n * float(mean_tokens)
    seconds = n / float(texts_per_second)
    return ReembedEstimate(
        n_documents=n,
        mean_tokens=float(mean_tokens),
        total_tokens=tokens,
        price_per_million_tokens=float(price_per_million_tokens),
        cost=tokens / 1e6 * float(price_per_million_tokens),
        texts_per_second=float(texts_per_second),
        seconds=seconds,
        hours=seconds / 3600,
    )
