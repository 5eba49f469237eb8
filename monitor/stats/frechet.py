"""Fréchet distance between Gaussian fits of the two samples, after PCA.

``FD = ||mu_r - mu_c||² + tr(S_r + S_c - 2 (S_r S_c)^{1/2})`` (Dowson & Landau
1982; the "FID" of Heusel et al. 2017) on the projections onto the top
``k <= 32`` principal components of the pooled sample. The plug-in estimate
is biased upwards for small samples, so the verdict comes from a permutation
p-value (sequential, Besag-Clifford; at most 200 permutations, as each costs
two k x k eigendecompositions) rather than a fixed cut-off. For a
batch of relabellings the group means and second moments are one product of
the ``(N, k(k+1)/2)`` matrix of pairwise component products with the label
indicators.

References
----------
Dowson, D. C. and Landau, B. V. (1982). The Fréchet distance between
multivariate normal distributions. J. Multivariate Anal. 12(3), 450-455.
Heusel, M., Ramsauer, H., Unterthiner, T., Nessler, B. and Hochreiter, S.
(2017). GANs trained by a two time-scale update rule converge to a local
Nash equilibrium. NeurIPS.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._linalg import sqrtm_trace
from monitor.stats._workspace import Workspace
from monitor.stats.permutation import permutation_test, stopping_rules
from monitor.stats.result import TestResult
from monitor.stats.univariate import DEFAULT_COMPONENTS, pca_scores, pooled_pca

__all__ = ["frechet_distance", "frechet_from_workspace", "frechet_test"]

MAX_COMPONENTS = 32
#: Permutations used at most: each costs two k x k eigendecompositions, and the
#: Fréchet distance is a diagnostic (not in the verdict family).
MAX_PERMUTATIONS = 200


def frechet_distance(
    mu1: NDArray[np.float64],
    cov1: NDArray[np.float64],
    mu2: NDArray[np.float64],
    cov2: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Fréchet distance between Gaussians; broadcasts over leading axes.

    Parameters
    ----------
    mu1, mu2 : ndarray, shape (..., k)
    cov1, cov2 : ndarray, shape (..., k, k), symmetric PSD
    """
    diff = mu1 - mu2
    tr = np.trace(cov1, axis1=-2, axis2=-1) + np.trace(cov2, axis1=-2, axis2=-1)
    d2 = np.einsum("...i,...i->...", diff, diff) + tr - 2.0 * sqrtm_trace(cov1, cov2)
    return np.asarray(np.maximum(d2, 0.0), dtype=np.float64)


class _Moments:
    """Group means and covariances of projected rows for many labellings."""

    def __init__(self, proj: NDArray[np.float64], n_ref: int) -> None:
        self.k = proj.shape[1]
        self.iu = np.triu_indices(self.k)
        self.n_ref = n_ref
        self.n_cur = proj.shape[0] - n_ref
        p32 = proj.astype(np.float32)
        self.feats = np.concatenate([p32, p32[:, self.iu[0]] * p32[:, self.iu[1]]], axis=1)
        self.total = self.feats.sum(axis=0, dtype=np.float64)

    def _cov(self, s1: NDArray[np.float64], s2: NDArray[np.float64], n: int) -> Any:
        b = s1.shape[0]
        second = np.zeros((b, self.k, self.k))
        second[:, self.iu[0], self.iu[1]] = s2
        second[:, self.iu[1], self.iu[0]] = s2
        mu = s1 / n
        cov = (second - n * mu[:, :, None] * mu[:, None, :]) / max(n - 1, 1)
        return mu, cov

    def distances(self, indicator: NDArray[np.bool_]) -> NDArray[np.float64]:
        sums = (self.feats.T @ indicator.astype(np.float32)).T.astype(np.float64)
        rest = self.total - sums
        mu_r, cov_r = self._cov(sums[:, : self.k], sums[:, self.k :], self.n_ref)
        mu_c, cov_c = self._cov(rest[:, : self.k], rest[:, self.k :], self.n_cur)
        return frechet_distance(mu_r, cov_r, mu_c, cov_c)


def frechet_from_workspace(
    ws: Workspace, *, alpha: float, n_permutations: int, sequential: bool = True
) -> TestResult:
    """:func:`frechet_test` on a prepared workspace."""
    pca = pooled_pca(ws, DEFAULT_COMPONENTS)  # shared with ks and classifier
    k = min(MAX_COMPONENTS, pca.variances.size)
    proj = pca_scores(ws, DEFAULT_COMPONENTS)[:, :k]
    # centre on the pooled mean and scale to unit overall variance for accuracy
    scale = np.sqrt(max(float(proj.var(axis=0).sum()), 1e-300))
    moments = _Moments(proj / scale, ws.n_ref)
    observed = float(moments.distances(ws.permuter.observed())[0])
    n_permutations = min(n_permutations, MAX_PERMUTATIONS)
    out = permutation_test(
        observed,
        moments.distances,
        ws.permuter,
        n_permutations,
        rel_tol=1e-6,
        **stopping_rules(alpha, n_permutations, sequential, ws.verdict_family),
    )
    fd = observed * scale**2
    return TestResult(
        name="frechet",
        statistic=fd,
        p_value=out.p_value,
        threshold=out.quantile(alpha) * scale**2,
        drift=out.p_value <= alpha,
        effect=observed,
        effect_label="Fréchet distance relative to the pooled total variance in the PCA subspace",
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        seed=ws.seed,
        details={
            "n_components": int(proj.shape[1]),
            "explained_variance": float(pca.variances[:k].sum() / pca.total_variance)
            if pca.total_variance > 0
            else 0.0,
            "n_permutations_used": out.n_used,
        },
    )


def frechet_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    seed: int = 0,
    sequential: bool = True,
) -> TestResult:
    """Fréchet distance between Gaussian fits on the top pooled principal components.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    alpha, n_permutations, seed, sequential
        As in :func:`monitor.stats.mmd_test`; at most 200 permutations are used.

    Returns
    -------
    TestResult
        ``statistic`` = FD in the PCA subspace (squared input units);
        ``effect`` = FD divided by the pooled total variance of that subspace.
    """
    alpha = check_alpha(alpha)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    ws = Workspace(ref, cur, seed=check_seed(seed))
    require_samples(ws.n_ref, ws.n_cur, 2, "frechet")
    return frechet_from_workspace(
        ws, alpha=alpha, n_permutations=n_permutations, sequential=sequential
    )
