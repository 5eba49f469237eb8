"""Summaries of the top-k cosine scores of a search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["DEFAULT_CUTOFFS", "ScoreStats", "ScoreSummary", "score_stats"]

#: absolute cosine cut-offs whose top-1 pass rate is reported
DEFAULT_CUTOFFS = (0.3, 0.5, 0.7)
_QUANTILES = (
    ("min", 0.0),
    ("p05", 0.05),
    ("p25", 0.25),
    ("median", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
    ("max", 1.0),
)


@dataclass(frozen=True)
class ScoreSummary:
    """Distribution of one score over queries: quantiles (linear interpolation) and mean."""

    min: float
    p05: float
    p25: float
    median: float
    p75: float
    p95: float
    max: float
    mean: float


@dataclass(frozen=True)
class ScoreStats:
    """Top-1 and top-k cosine scores of a run: their drift needs no relevance judgements.

    ``pass_rates`` maps each cut-off ``c`` (formatted with ``:g``) to the share of
    queries whose top-1 score is ``>= c``. ``k`` is the rank of the ``topk`` score.
    """

    n_queries: int
    k: int
    top1: ScoreSummary
    topk: ScoreSummary
    pass_rates: dict[str, float]


def _summary(x: NDArray[np.float64]) -> ScoreSummary:
    q = np.quantile(x, [p for _, p in _QUANTILES])
    values = {name: float(v) for (name, _), v in zip(_QUANTILES, q, strict=True)}
    return ScoreSummary(**values, mean=float(x.mean()))


def score_stats(
    scores: ArrayLike, *, k: int | None = None, cutoffs: Sequence[float] = DEFAULT_CUTOFFS
) -> ScoreStats:
    """Distribution of the top-1 and top-``k`` scores of a run, and top-1 cut-off pass rates.

    Parameters
    ----------
    scores : array_like, shape (nq, D)
        Sorted scores per query, best first (as returned by :func:`search`).
    k : int, optional
        Rank of the ``topk`` score, capped at ``D``; default ``D``.
    cutoffs : absolute cosine cut-offs.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape or not np.isfinite(s).all():
        raise ValueError(f"scores must be a finite non-empty (nq, D) array, got {s.shape}")
    kk = s.shape[1] if k is None else min(int(k), s.shape[1])
    if kk < 1:
        raise ValueError(f"k must be positive, got {k!r}")
    top1 = s[:, 0]
    return ScoreStats(
        n_queries=len(s),
        k=kk,
        top1=_summary(top1),
        topk=_summary(s[:, kk - 1]),
        pass_rates={f"{float(c):g}": float(np.mean(top1 >= c)) for c in cutoffs},
    )
