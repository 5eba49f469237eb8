"""Blue-green comparison of two model versions on one labelled canary set.

Both versions (A, the serving one, and B, the candidate) embed the same canary
queries and documents, possibly at different dimensions. Each version searches
its own space (:func:`monitor.stats.retrieval.search`); the comparison reports:

* per-query retrieval deltas ``B - A`` for every measure of
  :mod:`monitor.stats.retrieval`, their mean, a paired bootstrap percentile
  confidence interval (queries resampled with replacement, the same resample
  for A and B), and a two-sided paired **sign-flip permutation test** of
  "mean difference = 0": the signs of the per-query differences are flipped at
  random, ``p = (1 + #{|mean*| >= |mean|}) / (1 + n_perm)``; all ``2**n`` sign
  vectors are enumerated instead when ``2**n <= n_perm`` (exact p-value);
* agreement of the two top-k lists per query (``k = max(ks)``): Jaccard overlap
  ``|A_k ∩ B_k| / |A_k ∪ B_k|`` and rank-biased overlap in its *extrapolated*
  form for two lists of the same depth ``k`` (Webber et al. 2010)::

      RBO_ext = (X_k / k) p^k + ((1 - p) / p) sum_{d=1..k} (X_d / d) p^d,

  ``X_d`` the overlap of the two depth-``d`` prefixes, ``p = 0.9``; 1 for
  identical lists, 0 for disjoint ones; lists are tie-free (ties broken by doc id);
* linear CKA between the two embedding matrices (queries stacked on documents,
  rows paired): with column-centred ``X`` (n, d1) and ``Y`` (n, d2),
  ``CKA = ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)`` (Kornblith et al. 2019);
  invariant to orthogonal transforms and isotropic scaling of either side, and
  defined for ``d1 != d2``. Computed in the feature form, or in the ``n x n``
  Gram form ``<XX', YY'>_F / (||XX'||_F ||YY'||_F)`` when ``n < d1 + d2``;
* a verdict ``ready`` / ``not_ready`` from a policy given as data (see
  :func:`compare_models`); the p-values are reported but do not decide it.

References
----------
W. Webber, A. Moffat and J. Zobel, "A similarity measure for indefinite
rankings", ACM TOIS 28(4), 2010. S. Kornblith, M. Norouzi, H. Lee and G. Hinton,
"Similarity of neural network representations revisited", ICML 2019.
B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*, 1993 (percentile
intervals). E. Pitman, "Significance tests which may be applied to samples from
any populations", JRSS Suppl. 4, 1937 (sign-flip test).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import InsufficientDataError
from monitor.stats.retrieval import (
    _CUT_METRICS,
    DEFAULT_DEPTH,
    DEFAULT_KS,
    DOC_CHUNK,
    QUERY_CHUNK,
    NoRelevant,
    Qrels,
    ScoreSummary,
    _check_ks,
    _summary,
    _vectors,
    rank_metrics,
    search,
)

__all__ = [
    "CrossModelResult",
    "MetricDelta",
    "PolicyCheck",
    "ReembedEstimate",
    "compare_models",
    "default_policy",
    "linear_cka",
    "paired_bootstrap",
    "rbo",
    "reembed_estimate",
    "sign_flip_test",
]

Verdict = Literal["ready", "not_ready"]
TEST = "paired sign-flip permutation test of the mean difference (two-sided)"
_RULE_KEYS = {"metric", "max_drop", "min_value", "confidence"}
_BLOCK = 1 << 22  # entries per bootstrap / permutation block


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
class PolicyCheck:
    """One policy rule applied: ``value`` is the CI lower bound (``max_drop``) or B's mean."""

    metric: str
    rule: str
    threshold: float
    confidence: float
    value: float
    passed: bool
    message: str


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


def _positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _level(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def rbo(a: Sequence[Hashable], b: Sequence[Hashable], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap of two tie-free rankings of the same length.

    Parameters
    ----------
    a, b : sequences of distinct items, best first, ``len(a) == len(b) >= 1``.
    p : persistence in (0, 1); the weight of depth ``d`` decays as ``p^(d-1)``.
    """
    p = _level(p, "p")
    if len(a) != len(b) or not a:
        raise ValueError(f"rbo needs two non-empty lists of one length, got {len(a)}, {len(b)}")
    if len(set(a)) != len(a) or len(set(b)) != len(b):
        raise ValueError("rbo: a list holds an item twice")
    seen_a: set[Hashable] = set()
    seen_b: set[Hashable] = set()
    overlap = 0
    total = 0.0
    for d, (x, y) in enumerate(zip(a, b, strict=True), start=1):
        overlap += (x in seen_b) + (y in seen_a) + (x == y)
        seen_a.add(x)
        seen_b.add(y)
        total += overlap / d * p**d
    k = len(a)
    return (1 - p) / p * total + overlap / k * p**k


def _agreement(
    a: NDArray[np.intp],
    b: NDArray[np.intp],
    p: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-row Jaccard and extrapolated RBO of two (n, k) tie-free rank matrices."""
    n, k = a.shape
    overlap = np.zeros(n)
    total = np.zeros(n)
    for d in range(1, k + 1):
        overlap += (b[:, :d] == a[:, d - 1 : d]).any(axis=1)  # a_d within b's prefix
        overlap += (a[:, : d - 1] == b[:, d - 1 : d]).any(axis=1)  # b_d within a's, a_d excluded
        total += overlap / d * p**d
    return overlap / (2 * k - overlap), (1 - p) / p * total + overlap / k * p**k


def _cka(xs: list[NDArray[Any]], ys: list[NDArray[Any]]) -> float:
    """Linear CKA of the row-stacked blocks ``xs`` against ``ys`` (rows paired)."""
    n = sum(len(x) for x in xs)
    mx = sum(x.sum(axis=0, dtype=np.float64) for x in xs) / n
    my = sum(y.sum(axis=0, dtype=np.float64) for y in ys) / n
    d1, d2 = len(mx), len(my)
    if n < d1 + d2:  # Gram form: n x n products are cheaper
        xc = np.concatenate([x.astype(np.float64) for x in xs]) - mx
        yc = np.concatenate([y.astype(np.float64) for y in ys]) - my
        gx, gy = xc @ xc.T, yc @ yc.T
        num, den = float(np.vdot(gx, gy)), float(np.linalg.norm(gx) * np.linalg.norm(gy))
    else:  # feature form, accumulated over row blocks of bounded size
        xx, yy, yx = np.zeros((d1, d1)), np.zeros((d2, d2)), np.zeros((d2, d1))
        step = max(1, _BLOCK // (d1 + d2))
        for x, y in zip(xs, ys, strict=True):
            for a in range(0, len(x), step):
                xc = x[a : a + step].astype(np.float64) - mx
                yc = y[a : a + step].astype(np.float64) - my
                xx += xc.T @ xc
                yy += yc.T @ yc
                yx += yc.T @ xc
        num, den = float(np.sum(yx * yx)), float(np.linalg.norm(xx) * np.linalg.norm(yy))
    if not den > 0:
        raise ValueError("linear CKA is undefined: a matrix has constant rows")
    return min(1.0, max(0.0, num / den))


def linear_cka(x: ArrayLike, y: ArrayLike) -> float:
    """Linear centred kernel alignment of two representations of the same ``n`` items.

    Parameters
    ----------
    x : array_like, shape (n, d1)
    y : array_like, shape (n, d2)
        Row ``i`` of both is item ``i``; ``d1`` and ``d2`` may differ.

    Returns
    -------
    float in [0, 1]; 1 when ``y`` is an orthogonal transform of ``x`` times a scalar.
    """
    xa, ya = _vectors(x, "x"), _vectors(y, "y")
    if len(xa) != len(ya):
        raise ValueError(f"x and y must have the same rows, got {len(xa)} and {len(ya)}")
    for arr, name in ((xa, "x"), (ya, "y")):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf values")
    return _cka([xa], [ya])


def paired_bootstrap(
    diffs: ArrayLike,
    n_boot: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Bootstrap distribution of the mean of paired differences, per column.

    ``diffs`` (n, m): row ``i`` holds query ``i``'s differences ``B - A`` for ``m``
    measures. Each replicate resamples the ``n`` rows with replacement (whole
    rows, so the measures stay paired). Returns an (n_boot, m) array of means.
    """
    x = np.asarray(diffs, dtype=np.float64)
    n_boot = _positive_int(n_boot, "n_boot")
    n = len(x)
    out = np.empty((n_boot, x.shape[1]))
    step = max(1, _BLOCK // n)
    for a in range(0, n_boot, step):
        b = min(n_boot, a + step)
        draws = rng.integers(0, n, size=(b - a, n))
        counts = np.bincount(
            (draws + n * np.arange(b - a)[:, None]).ravel(), minlength=(b - a) * n
        ).reshape(b - a, n)
        out[a:b] = counts @ x / n
    return out


def sign_flip_test(
    diffs: ArrayLike,
    n_perm: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Two-sided paired sign-flip test of "mean difference = 0", per column.

    Under the null each query's difference is symmetric about 0, so its sign is
    exchangeable. p = (1 + #{|mean*| >= |mean|}) / (1 + n_perm) over ``n_perm``
    random sign vectors, or the exact share over all ``2**n`` vectors when
    ``2**n <= n_perm``. All-zero differences give p = 1.
    """
    x = np.asarray(diffs, dtype=np.float64)
    n_perm = _positive_int(n_perm, "n_perm")
    n = len(x)
    observed = np.abs(x.mean(axis=0))
    tol = 1e-12 * np.maximum(1.0, observed)
    if n < 63 and 2**n <= n_perm:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
        exact: NDArray[np.float64] = np.mean(np.abs(signs @ x / n) >= observed - tol, axis=0)
        return exact
    hits = np.zeros(x.shape[1])
    step = max(1, _BLOCK // n)
    for a in range(0, n_perm, step):
        signs = rng.integers(0, 2, size=(min(step, n_perm - a), n)) * 2.0 - 1.0
        hits += np.sum(np.abs(signs @ x / n) >= observed - tol, axis=0)
    return (1 + hits) / (1 + n_perm)


def default_policy(ks: Sequence[int] = DEFAULT_KS) -> list[dict[str, Any]]:
    """No drop of nDCG@K or recall@K (``K = max(ks)``) below -0.01 at 95 % confidence."""
    k = max(ks)
    return [
        {"metric": f"ndcg@{k}", "max_drop": 0.01, "confidence": 0.95},
        {"metric": f"recall@{k}", "max_drop": 0.01, "confidence": 0.95},
    ]


def _parse_policy(
    policy: Sequence[Mapping[str, Any]], names: tuple[str, ...], confidence: float
) -> list[tuple[str, str, float, float]]:
    """Validated rules as ``(metric, "max_drop" | "min_value", limit, confidence)``."""
    rules: list[tuple[str, str, float, float]] = []
    for i, rule in enumerate(policy):
        if not isinstance(rule, Mapping) or "metric" not in rule:
            raise ValueError(f"policy[{i}] must be a mapping with a 'metric' key, got {rule!r}")
        extra = set(rule) - _RULE_KEYS
        if extra:
            raise ValueError(
                f"policy[{i}]: unknown key(s) {sorted(extra)}; allowed: {sorted(_RULE_KEYS)}"
            )
        metric = rule["metric"]
        if metric not in names:
            raise ValueError(f"policy[{i}]: unknown metric {metric!r}; known: {', '.join(names)}")
        if "max_drop" not in rule and "min_value" not in rule:
            raise ValueError(f"policy[{i}] ({metric}) needs 'max_drop' or 'min_value'")
        level = _level(rule.get("confidence", confidence), f"policy[{i}].confidence")
        for kind in ("max_drop", "min_value"):
            if kind not in rule:
                continue
            limit = rule[kind]
            if (
                isinstance(limit, bool)
                or not isinstance(limit, numbers.Real)
                or not (math.isfinite(limit) and (kind == "min_value" or float(limit) >= 0))
            ):
                raise ValueError(
                    f"policy[{i}].{kind} must be a finite number"
                    f"{' >= 0' if kind == 'max_drop' else ''}, got {limit!r}"
                )
            rules.append((metric, kind, float(limit), level))
    return rules


def _apply_policy(
    rules: list[tuple[str, str, float, float]],
    names: tuple[str, ...],
    deltas: NDArray[np.float64],
    boot: NDArray[np.float64],
    means_b: NDArray[np.float64],
) -> tuple[PolicyCheck, ...]:
    checks: list[PolicyCheck] = []
    for metric, kind, limit, level in rules:
        j = names.index(metric)
        if kind == "max_drop":
            value = float(np.quantile(boot[:, j], (1 - level) / 2))
            passed = value >= -limit
            message = (
                f"{metric}: lower {level:.0%} CI bound of B - A is {value:+.4f} "
                f"(mean {deltas[j]:+.4f}), {'within' if passed else 'beyond'} "
                f"the allowed drop of {limit:g}"
            )
        else:
            value = float(means_b[j])
            passed = value >= limit
            message = (
                f"{metric}: B's mean {value:.4f} is "
                f"{'at or above' if passed else 'below'} the minimum {limit:g}"
            )
        checks.append(
            PolicyCheck(
                metric=metric,
                rule=kind,
                threshold=limit,
                confidence=level,
                value=value,
                passed=bool(passed),
                message=message,
            )
        )
    return tuple(checks)


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
