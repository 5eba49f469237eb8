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
