"""Agreement of two models: rank-biased overlap of top-k lists and linear CKA of the embeddings."""

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats.crossmodel.inference import _BLOCK, _level
from monitor.stats.retrieval.search import _vectors

__all__ = ["linear_cka", "rbo"]


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
