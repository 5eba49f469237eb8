"""Centroid shift: cosine and Euclidean distance between the two sample means.

For a label indicator ``a`` the ref-group sum is ``Z' a``; a batch of ``b``
relabellings costs one ``(d, N) @ (N, b)`` product, so all ``B``
permutations are always evaluated and the threshold -- the distance a
no-drift reshuffle reaches at ``1 - alpha`` -- is precise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._workspace import Workspace
from monitor.stats.permutation import Permuter, outcome_from_null
from monitor.stats.result import TestResult

__all__ = ["centroid_from_workspace", "centroid_test", "group_sums"]


def group_sums(
    ws: Workspace, rows: NDArray[np.floating[Any]], n_permutations: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Ref-group column sums of ``rows`` (N, d) for the true and all permuted labellings.

    Returns
    -------
    observed : ndarray, shape (d,)
    permuted : ndarray, shape (B, d)
    total : ndarray, shape (d,)
    """
    total = rows.sum(axis=0, dtype=np.float64)
    observed = rows[: ws.n_ref].sum(axis=0, dtype=np.float64)
    parts = [
        rows.T @ ws.permuter.batch_f32(j, size).astype(rows.dtype, copy=False)
        for j, size in Permuter.schedule(n_permutations)
    ]
    return observed, np.concatenate(parts, axis=1).T.astype(np.float64), total


def _cosine_distance(u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    dot = np.einsum("...i,...i->...", u, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where((nu > 0) & (nv > 0), dot / (nu * nv), 1.0)
    return 1.0 - np.clip(cos, -1.0, 1.0)


def centroid_from_workspace(ws: Workspace, *, alpha: float, n_permutations: int) -> TestResult:
    """:func:`centroid_test` on a prepared workspace."""
    obs, perm, total = ws.cached(
        ("group_sums", "pooled", n_permutations), lambda: group_sums(ws, ws.pooled, n_permutations)
    )
    n, m = ws.n_ref, ws.n_cur
    mu_r, mu_c = obs / n, (total - obs) / m
    pr, pc = perm / n, (total - perm) / m
    cos_obs = float(_cosine_distance(mu_r, mu_c))
    euc_obs = float(np.linalg.norm(mu_r - mu_c))
    cos_out = outcome_from_null(cos_obs, _cosine_distance(pr, pc), stop_after=None, rel_tol=1e-7)
    euc_out = outcome_from_null(
        euc_obs, np.linalg.norm(pr - pc, axis=1), stop_after=None, rel_tol=1e-7
    )
    # RMS distance of ref rows to their mean: sqrt(mean |r|² - |mean r|²)
    spread = float(np.sqrt(max(ws.sq_norms[:n].mean() - float(mu_r @ mu_r), 0.0)))
    effect = euc_obs / spread if spread > 0 else 0.0
    return TestResult(
        name="centroid",
        statistic=cos_obs,
        p_value=cos_out.p_value,
        threshold=cos_out.quantile(alpha),
        drift=cos_out.p_value <= alpha,
        effect=effect,
        effect_label="distance between means in units of the ref RMS distance to its mean",
        n_ref=n,
        n_cur=m,
        seed=ws.seed,
        details={
            "cosine_distance": cos_obs,
            "euclidean_distance": euc_obs,
            "euclidean_threshold": euc_out.quantile(alpha),
            "euclidean_p_value": euc_out.p_value,
            "n_permutations_used": cos_out.n_used,
        },
    )


def centroid_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    seed: int = 0,
) -> TestResult:
    """Permutation test of the cosine distance between the means of ``ref`` and ``cur``.

    ``statistic = 1 - cos(mean(ref), mean(cur))``; the Euclidean distance
    ``||mean(ref) - mean(cur)||`` with its own permutation p-value and
    threshold is in ``details``.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    alpha : float
        Level; ``threshold`` is the ``1 - alpha`` permutation quantile.
    n_permutations : int
        Number of permutations (all are evaluated).
    seed : int

    Returns
    -------
    TestResult
        ``effect`` = Euclidean shift divided by the ref RMS distance to its mean.
    """
    alpha = check_alpha(alpha)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    ws = Workspace(ref, cur, seed=check_seed(seed))
    require_samples(ws.n_ref, ws.n_cur, 1, "centroid")
    return centroid_from_workspace(ws, alpha=alpha, n_permutations=n_permutations)
