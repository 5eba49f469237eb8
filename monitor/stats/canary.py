"""Canary stability: is a model version still producing the vectors of its baseline?

A canary set is embedded once as the baseline (repeated ``r`` times to measure the
endpoint's own run-to-run noise) and re-embedded every cycle. Comparing item by
item, with no distributional assumption, catches changes that two-sample tests
cannot see: an orthogonal rotation of the embedding space keeps every distance
between vectors, yet moves every vector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "CanaryComparison",
    "GradedComparison",
    "compare_and_grade",
    "Impact",
    "ImpactGrade",
    "grade_impact",
    "score_measures",
    "stale_overlap",
    "baseline_problem",
    "compare_to_baseline",
    "noise_floor",
    "rowwise_cosine",
]

#: cosines this close to 1 are float32 round-off, not a change
EXACT = 1.0 - 1e-5
#: a deterministic endpoint that no longer reproduces this share of its items has changed
DETERMINISTIC_CHANGED_SHARE = 0.5
#: items below tolerance that make a change (a stray item is noise, a change moves many)
CHANGED_SHARE = 0.05
#: relative change of the mean norm that counts as a change (normalisation switched)
NORM_TOLERANCE = 0.01
#: how far below the measured noise floor a cosine must fall, as a multiple of 1 - floor
NOISE_MARGIN = 3.0

Verdict = Literal["unchanged", "noise", "changed"]


def rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of row i of ``a`` with row i of ``b``; zero rows give 0.

    Parameters
    ----------
    a, b : (n, d) arrays of the same shape.
    """
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape or a64.ndim != 2:
        raise ValueError(f"rowwise_cosine: shapes {a64.shape} and {b64.shape} differ or not 2-D")
    num = np.einsum("ij,ij->i", a64, b64)
    den = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    out = np.zeros(len(a64))
    np.divide(num, den, out=out, where=den > 0)
    return np.clip(out, -1.0, 1.0)


def noise_floor(repeats: list[np.ndarray]) -> float:
    """The lowest per-item cosine between any two of ``r`` embeddings of one set.

    1.0 for an exactly deterministic endpoint. ``repeats`` holds r >= 1 arrays (n, d).
    """
    if not repeats:
        raise ValueError("repeats: at least one embedding of the set is needed")
    floor = 1.0
    for i in range(len(repeats)):
        for j in range(i + 1, len(repeats)):
            floor = min(floor, float(rowwise_cosine(repeats[i], repeats[j]).min()))
    return floor


def baseline_problem(vectors: np.ndarray) -> str | None:
    """Why ``vectors`` (n, d) cannot be a baseline, or None.

    All-zero vectors, vectors whose components are all equal, and a set in which
    every item got the same vector say the endpoint is broken, not what it means.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.size == 0:
        return f"an (n, d) array is needed, got shape {v.shape}"
    zero = int(np.count_nonzero(~v.any(axis=1)))
    if zero:
        return f"{zero} of {len(v)} vectors are all zero"
    flat = int(np.count_nonzero(np.ptp(v, axis=1) == 0))
    if flat:
        return f"{flat} of {len(v)} vectors have all components equal"
    if len(v) > 1 and not np.any(v != v[0]):
        return f"all {len(v)} items got the same vector"
    return None


@dataclass(frozen=True)
class CanaryComparison:
    """Item-by-item comparison of a canary re-embedding with its baseline."""

    verdict: Verdict
    n_items: int
    min_cosine: float
    p01_cosine: float
    mean_cosine: float
    share_below: float
    norm_ratio: float
    dim_baseline: int
    dim_current: int
    tolerance: float
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_to_baseline(
    baseline: np.ndarray, current: np.ndarray, *, floor: float = 1.0, min_cosine: float = 0.999
) -> CanaryComparison:
    """Compare ``current`` (n, d') with ``baseline`` (n, d), row i being item i in both.

    The tolerance is the lower of the configured ``min_cosine`` and the measured
    noise ``floor`` widened by ``NOISE_MARGIN``. Verdict ``changed`` when the
    dimension differs, the mean norm moved by more than 1 %, at least 5 % of the
    items fall below the tolerance, or a deterministic endpoint (floor 1) no
    longer reproduces most items; ``noise`` when vectors differ within that;
    ``unchanged`` when they match to float32 round-off.
    """
    if baseline.ndim != 2 or current.ndim != 2 or len(baseline) != len(current):
        raise ValueError(
            f"baseline {baseline.shape} and current {current.shape} must be "
            "(n, d) arrays with the same n"
        )
    if len(baseline) == 0:
        raise ValueError("baseline: the canary set is empty")
    n = len(baseline)
    nb = np.linalg.norm(baseline.astype(np.float64), axis=1)
    nc = np.linalg.norm(current.astype(np.float64), axis=1)
    norm_ratio = float(nc.mean() / nb.mean()) if nb.mean() > 0 else float("inf")
    tolerance = min(min_cosine, 1.0 - NOISE_MARGIN * (1.0 - floor))
    reasons: list[str] = []
    if baseline.shape[1] != current.shape[1]:
        d = min(baseline.shape[1], current.shape[1])
        cos = rowwise_cosine(baseline[:, :d], current[:, :d])
        reasons.append(f"dimension changed from {baseline.shape[1]} to {current.shape[1]}")
    else:
        cos = rowwise_cosine(baseline, current)
    share_below = float(np.mean(cos < tolerance))
    if abs(norm_ratio - 1.0) > NORM_TOLERANCE:
        reasons.append(f"mean norm changed by a factor {norm_ratio:.4f}")
    if share_below >= CHANGED_SHARE:
        reasons.append(f"{share_below:.0%} of items below cosine {tolerance:.6f}")
    not_exact = float(np.mean(cos < EXACT))
    if floor >= EXACT and not_exact >= DETERMINISTIC_CHANGED_SHARE:
        reasons.append(f"a deterministic endpoint no longer reproduces {not_exact:.0%} of items")
    verdict: Verdict = "changed" if reasons else ("noise" if not_exact > 0 else "unchanged")
    return CanaryComparison(
        verdict=verdict,
        n_items=n,
        min_cosine=float(cos.min()),
        p01_cosine=float(np.quantile(cos, 0.01)),
        mean_cosine=float(cos.mean()),
        share_below=share_below,
        norm_ratio=norm_ratio,
        dim_baseline=int(baseline.shape[1]),
        dim_current=int(current.shape[1]),
        tolerance=float(tolerance),
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------- impact

Impact = Literal["benign", "breaking"]

#: k of the stale-index overlap (old documents searched with old vs new query vectors)
IMPACT_K = 10
#: mean top-k overlap at or above which a change leaves retrieval unaffected
MIN_OVERLAP = 0.95
#: smallest move of a retrieval measure that counts, whatever the measured noise
MEASURE_TOLERANCE = 0.02


@dataclass(frozen=True)
class ImpactGrade:
    """How much a detected change matters to retrieval, measured on the canary set.

    ``overlap``: mean top-k overlap (|A ∩ B| / k) of the baseline documents searched
    with the baseline vs the current query vectors (None when the dimension changed);
    ``required``: the overlap the change had to keep; ``moved``: measures whose
    change exceeds max(MEASURE_TOLERANCE, NOISE_MARGIN x their repeat-to-repeat
    change), as (baseline, current, allowed).
    """

    impact: Impact
    overlap: float | None
    required: float
    moved: dict[str, tuple[float, float, float]]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(n: int, rows: np.ndarray | None) -> np.ndarray:
    return np.arange(n) if rows is None else np.asarray(rows, dtype=np.intp)


def _scores(queries: np.ndarray, docs: np.ndarray, same: np.ndarray | None) -> np.ndarray:
    """Cosine score matrix; entries where query row == document row are excluded (-inf)."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
    d = docs / np.maximum(np.linalg.norm(docs, axis=1, keepdims=True), 1e-30)
    s: np.ndarray = q @ d.T
    if same is not None:
        s[same] = -np.inf
    return s


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    top: np.ndarray = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return top


def stale_overlap(
    old: np.ndarray,
    new: np.ndarray,
    queries: np.ndarray | None = None,
    documents: np.ndarray | None = None,
    k: int = IMPACT_K,
) -> float:
    """Mean top-``k`` overlap of ``old[documents]`` searched with old vs new query rows.

    Without ``queries``/``documents`` every row is both, and an item never finds itself.
    """
    a = np.asarray(old, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    qi, di = _rows(len(a), queries), _rows(len(a), documents)
    same = qi[:, None] == di[None, :]
    k = min(k, len(di) - int(same.any(axis=1).max(initial=0)))
    if k < 1:
        raise ValueError("stale_overlap: not enough documents to search")
    top_old = _top(_scores(a[qi], a[di], same), k)
    top_new = _top(_scores(b[qi], a[di], same), k)
    hits = [len(np.intersect1d(x, y)) for x, y in zip(top_old, top_new, strict=True)]
    return float(np.mean(hits)) / k


def score_measures(
    vectors: np.ndarray,
    queries: np.ndarray | None = None,
    documents: np.ndarray | None = None,
    k: int = IMPACT_K,
) -> dict[str, float]:
    """Retrieval score measures of one embedding of the set, in its own space."""
    v = np.asarray(vectors, dtype=np.float64)
    qi, di = _rows(len(v), queries), _rows(len(v), documents)
    same = qi[:, None] == di[None, :]
    s = -np.sort(-_scores(v[qi], v[di], same), axis=1)
    k = min(k, len(di) - int(same.any(axis=1).max(initial=0)))
    top1 = s[:, 0]
    return {
        "top1_median": float(np.median(top1)),
        "top1_p05": float(np.quantile(top1, 0.05)),
        f"top{k}_median": float(np.median(s[:, k - 1])),
    }


def _moved(
    base: dict[str, float],
    cur: dict[str, float],
    rep: dict[str, float] | None,
) -> dict[str, tuple[float, float, float]]:
    out: dict[str, tuple[float, float, float]] = {}
    for name, b in base.items():
        if name not in cur:
            continue
        noise = abs(rep[name] - b) if rep is not None and name in rep else 0.0
        allowed = max(MEASURE_TOLERANCE, NOISE_MARGIN * noise)
        if abs(cur[name] - b) > allowed:
            out[name] = (b, cur[name], allowed)
    return out


def grade_impact(
    cmp: CanaryComparison,
    baseline: np.ndarray,
    current: np.ndarray,
    *,
    repeat: np.ndarray | None = None,
    queries: np.ndarray | None = None,
    documents: np.ndarray | None = None,
    measures: dict[str, tuple[float, float]] | None = None,
) -> ImpactGrade:
    """Grade a ``changed`` comparison: ``benign`` if retrieval on the set is unaffected.

    Benign needs the stale-index overlap to stay at MIN_OVERLAP (or within the
    overlap a repeat of the baseline reaches, if lower) and no score measure, nor
    any of ``measures`` ({name: (baseline, current)}, e.g. nDCG on the set's
    judgements), to move beyond its noise. A dimension or norm change is always
    breaking: stored vectors and new ones cannot be mixed.
    """
    reasons: list[str] = []
    if cmp.dim_baseline != cmp.dim_current:
        reasons.append(f"dimension changed from {cmp.dim_baseline} to {cmp.dim_current}")
    if abs(cmp.norm_ratio - 1.0) > NORM_TOLERANCE:
        reasons.append(f"mean norm changed by a factor {cmp.norm_ratio:.4f}")
    if reasons:
        return ImpactGrade("breaking", None, MIN_OVERLAP, {}, tuple(reasons))
    required = MIN_OVERLAP
    if repeat is not None:
        noise = stale_overlap(baseline, repeat, queries, documents)
        required = min(MIN_OVERLAP, noise - (1.0 - MIN_OVERLAP))
    overlap = stale_overlap(baseline, current, queries, documents)
    if overlap < required:
        reasons.append(
            f"top-{IMPACT_K} overlap of old and new query vectors on the old documents "
            f"is {overlap:.3f} (< {required:.3f})"
        )
    base = score_measures(baseline, queries, documents)
    rep = score_measures(repeat, queries, documents) if repeat is not None else None
    moved = _moved(base, score_measures(current, queries, documents), rep)
    for name, (b, c) in (measures or {}).items():
        if abs(c - b) > MEASURE_TOLERANCE:
            moved[name] = (b, c, MEASURE_TOLERANCE)
    reasons += [
        f"{n} moved from {b:.4f} to {c:.4f} (allowed {a:.4f})" for n, (b, c, a) in moved.items()
    ]
    impact: Impact = "breaking" if reasons else "benign"
    return ImpactGrade(impact, overlap, required, moved, tuple(reasons))


@dataclass(frozen=True)
class GradedComparison:
    """A canary comparison and, for a ``changed`` verdict, its impact grade."""

    comparison: CanaryComparison
    grade: ImpactGrade | None

    @property
    def impact(self) -> Impact | None:
        return self.grade.impact if self.grade is not None else None

    @property
    def breaking(self) -> bool:
        return self.impact == "breaking"

    def to_dict(self) -> dict[str, Any]:
        g = self.grade
        return {
            **self.comparison.to_dict(),
            "reasons": list(self.comparison.reasons),
            "impact": self.impact,
            "impact_reasons": list(g.reasons) if g else [],
            "topk_overlap": g.overlap if g else None,
        }


def compare_and_grade(
    baseline: np.ndarray,
    current: np.ndarray,
    *,
    repeat: np.ndarray | None = None,
    floor: float = 1.0,
    min_cosine: float = 0.999,
    queries: np.ndarray | None = None,
    documents: np.ndarray | None = None,
    measures: dict[str, tuple[float, float]] | None = None,
) -> GradedComparison:
    """:func:`compare_to_baseline`, then :func:`grade_impact` if the verdict is ``changed``.

    ``repeat`` (a second embedding of the set at baseline time) lowers ``floor`` to
    the noise it shows and sets the noise of every impact measure.
    """
    if repeat is not None:
        floor = min(floor, noise_floor([baseline, repeat]))
    cmp = compare_to_baseline(baseline, current, floor=floor, min_cosine=min_cosine)
    if cmp.verdict != "changed":
        return GradedComparison(cmp, None)
    grade = grade_impact(
        cmp,
        baseline,
        current,
        repeat=repeat,
        queries=queries,
        documents=documents,
        measures=measures,
    )
    return GradedComparison(cmp, grade)
