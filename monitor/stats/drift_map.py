"""A 2-D map of a drift run: the axis that separates the windows, against the reference's main axis.

The rows are unit-normalised (the tests compare directions, not lengths) and
centred on the reference mean. In the span of the reference's leading
principal components (at most ``components``), the horizontal axis is the
shrunken Fisher discriminant

    w = (S_w + lambda I)^{-1} (mean_cur - mean_ref),   lambda = tr(S_w) / k,

with ``S_w`` the pooled within-window covariance. The shrinkage is strong on
purpose: a plain discriminant separates any two samples in high dimension,
even two draws of one distribution, and a map that shows separation where
the tests found none would mislead. With ``lambda`` of the order of the
average variance, ``w`` lies between the discriminant and the difference of
means, so what moves on the map is what moved on average. The vertical axis
is the reference's first principal component, made orthogonal to ``w``.

Where the windows have the same mean (``w`` of zero length) the map falls back
to the first two principal components of the reference.

References
----------
Friedman, J. H. (1989). Regularized discriminant analysis. JASA 84(405),
165-175.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["MAP_POINTS", "DriftMap", "drift_map", "map_document"]

_EPS = 1e-12
#: points of each window kept in a stored map (a uniform subsample beyond it)
MAP_POINTS = 2_000


@dataclass(frozen=True)
class DriftMap:
    """Coordinates of ``ref`` rows then ``cur`` rows; ``separation`` in reference SDs."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    n_ref: int
    x_label: str
    y_label: str
    separation: float


def _unit(a: NDArray[np.float64]) -> NDArray[np.float64]:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    out: NDArray[np.float64] = a / np.maximum(norms, _EPS)
    return out


def drift_map(ref: ArrayLike, cur: ArrayLike, *, components: int = 50) -> DriftMap:
    """Project ``ref`` (n, d) and ``cur`` (m, d) onto two axes chosen to show the drift.

    Parameters
    ----------
    ref, cur : arrays of shape (n, d) and (m, d), n >= 2, m >= 1, the same d.
    components : how many principal components of ``ref`` span the search.

    Returns
    -------
    DriftMap with ``x``, ``y`` of length n + m (reference rows first) and
    ``separation``: the difference of the window means along ``x`` in units of
    the reference's standard deviation along ``x``.
    """
    r = np.asarray(ref, dtype=np.float64)
    c = np.asarray(cur, dtype=np.float64)
    if r.ndim != 2 or c.ndim != 2 or r.shape[1] != c.shape[1]:
        raise ValueError(f"drift_map: shapes {r.shape} and {c.shape} are not (n, d) and (m, d)")
    if len(r) < 2 or len(c) < 1:
        raise ValueError("drift_map: needs at least 2 reference rows and 1 current row")
    r, c = _unit(r), _unit(c)
    mu = r.mean(axis=0)
    rc, cc = r - mu, c - mu
    k = max(1, min(components, r.shape[1], len(r) - 1))
    _, _, vt = np.linalg.svd(rc, full_matrices=False)
    basis = vt[:k].T  # (d, k), orthonormal columns
    zr, zc = rc @ basis, cc @ basis
    diff = zc.mean(axis=0) - zr.mean(axis=0)
    within = np.cov(zr, rowvar=False).reshape(k, k)
    if len(zc) > 1:
        within = within + np.cov(zc, rowvar=False).reshape(k, k)
    lam = max(float(np.trace(within)) / k, _EPS)
    w = np.linalg.solve(within + lam * np.eye(k), diff)
    u = basis @ w
    if float(np.linalg.norm(u)) < _EPS or float(np.linalg.norm(diff)) < _EPS:
        return _principal(rc, cc, basis, len(r))
    u /= np.linalg.norm(u)
    p = vt[0] - (vt[0] @ u) * u
    if float(np.linalg.norm(p)) < _EPS:
        p = vt[1] - (vt[1] @ u) * u if k > 1 else np.zeros_like(u)
    p = p / max(float(np.linalg.norm(p)), _EPS)
    pooled = np.vstack([rc, cc])
    x, y = pooled @ u, pooled @ p
    sd = float(np.std(x[: len(r)]))
    separation = float((x[len(r) :].mean() - x[: len(r)].mean()) / max(sd, _EPS))
    return DriftMap(
        x=x,
        y=y,
        n_ref=len(r),
        x_label="direction separating current from reference",
        y_label="reference's main axis of variation",
        separation=separation,
    )


def _principal(
    rc: NDArray[np.float64], cc: NDArray[np.float64], basis: NDArray[Any], n_ref: int
) -> DriftMap:
    pooled = np.vstack([rc, cc]) @ basis
    x = pooled[:, 0]
    y = pooled[:, 1] if pooled.shape[1] > 1 else np.zeros(len(pooled))
    return DriftMap(
        x=x,
        y=y,
        n_ref=n_ref,
        x_label="reference's first principal component",
        y_label="reference's second principal component",
        separation=0.0,
    )


def map_document(
    ref: ArrayLike,
    cur: ArrayLike,
    ref_ids: list[int],
    cur_ids: list[int],
    groups: list[tuple[str, str, list[int]]],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The map of a run as a JSON-able document, with at most ``MAP_POINTS`` points per window.

    ``ref_ids`` and ``cur_ids`` name the rows (sample ids, to find their texts);
    ``groups`` are (kind, label, row indices into ``cur``) of the explanation's
    emerging and grown groups. Coordinates are rounded to 4 decimals.
    """
    r = np.asarray(ref, dtype=np.float64)
    c = np.asarray(cur, dtype=np.float64)
    keep_r = _keep(len(r), rng)
    keep_c = _keep(len(c), rng)
    m = drift_map(r[keep_r], c[keep_c])
    position = {int(old): new for new, old in enumerate(keep_c)}
    return {
        "x": [round(float(v), 4) for v in m.x],
        "y": [round(float(v), 4) for v in m.y],
        "n_ref": m.n_ref,
        "sample_ids": [ref_ids[i] for i in keep_r] + [cur_ids[i] for i in keep_c],
        "x_label": m.x_label,
        "y_label": m.y_label,
        "separation": round(m.separation, 4),
        "groups": [
            {
                "kind": kind,
                "label": label,
                "points": [m.n_ref + position[i] for i in members if i in position],
            }
            for kind, label, members in groups
        ],
    }


def _keep(n: int, rng: np.random.Generator) -> NDArray[np.intp]:
    if n <= MAP_POINTS:
        return np.arange(n)
    return np.sort(rng.choice(n, MAP_POINTS, replace=False))
