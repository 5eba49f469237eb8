"""Centroid shift: cosine and Euclidean distance between the two sample means.

For a label indicator ``a`` the ref-group sum is ``Z' a``; a batch of ``b``
relabellings costs one ``(d, N) @ (N, b)`` product. Permutations stop early
both ways (Besag-Clifford for "no drift", the early rejection look for
"drift"); ``threshold`` -- the distance a no-drift reshuffle reaches at
``1 - alpha`` -- comes from the permutations evaluated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._workspace import Workspace
from monitor.stats.permutation import (
    outcome_from_null,
    permutation_test,
    stopping_rules,
)
from monitor.stats.result import TestResult

__all__ = ["centroid_from_workspace", "centroid_test", "ref_sums"]


def ref_sums(rows: NDArray[np.floating[Any]], batch: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Ref-group column sums of ``rows`` (N, d) for each labelling of ``batch`` (N, b): (b, d)."""
    out: NDArray[np.float64] = (rows.T @ batch.astype(rows.dtype)).T.astype(np.float64)
    return out


def _cosine_distance(u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    dot = np.einsum("...i,...i->...", u, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where((nu > 0) & (nv > 0), dot / (nu * nv), 1.0)
    return 1.0 - np.clip(cos, -1.0, 1.0)


def centroid_from_workspace(
    ws: Workspace, *, alpha: float, n_permutations: int, sequential: bool = True
) -> TestResult:
    """:func:`centroid_test` on a prepared workspace."""
    rows = ws.pooled
    total = rows.sum(axis=0, dtype=np.float64)
    obs = rows[: ws.n_ref].sum(axis=0, dtype=np.float64)
    n, m = ws.n_ref, ws.n_cur
    mu_r, mu_c = obs / n, (total - obs) / m
    cos_obs = float(_cosine_distance(mu_r, mu_c))
    euc_obs = float(np.linalg.norm(mu_r - mu_c))
    euc_null: list[NDArray[np.float64]] = []

    def cosine(batch: NDArray[np.bool_]) -> NDArray[np.float64]:
        sums = ref_sums(rows, batch)
        pr, pc = sums / n, (total - sums) / m
        euc_null.append(np.linalg.norm(pr - pc, axis=1))
        return _cosine_distance(pr, pc)

    cos_out = permutation_test(
        cos_obs,
        cosine,
        ws.permuter,
        n_permutations,
        rel_tol=1e-7,
        **stopping_rules(alpha, n_permutations, sequential, ws.verdict_family),
    )
    euc_out = outcome_from_null(
        euc_obs, np.concatenate(euc_null)[: cos_out.n_used], stop_after=None, rel_tol=1e-7
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
        Maximum number of permutations (early stopping both ways).
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
