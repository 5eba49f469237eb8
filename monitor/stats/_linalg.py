"""Linear algebra helpers: seeded PCA and the matrix square-root trace.

References
----------
Halko, N., Martinsson, P.-G. and Tropp, J. A. (2011). Finding structure with
randomness: probabilistic algorithms for constructing approximate matrix
decompositions. SIAM Review 53(2), 217-288.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

__all__ = ["Pca", "fit_pca", "sqrtm_trace"]

_OVERSAMPLE = 10
_POWER_ITERS = 1
#: Rows used at most to fit a basis (a seeded, label-free subsample).
MAX_FIT_ROWS = 4_000


@dataclass(frozen=True)
class Pca:
    """A PCA basis.

    Attributes
    ----------
    mean : ndarray, shape (d,)
    components : ndarray, shape (k, d)
        Orthonormal principal directions, largest variance first.
    variances : ndarray, shape (k,)
        Sample variances along ``components``.
    total_variance : float
        Trace of the sample covariance (all ``d`` directions).
    """

    mean: NDArray[np.float64]
    components: NDArray[np.float64]
    variances: NDArray[np.float64]
    total_variance: float

    def transform(self, x: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Project rows of ``x`` (n, d) onto the basis: shape (n, k)."""
        comps = self.components.astype(x.dtype, copy=False)
        return np.asarray((x - self.mean.astype(x.dtype)) @ comps.T, dtype=np.float64)


def _orth(a: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
    """Orthonormal basis of the columns of a tall matrix.

    Cholesky-QR in float64 (two BLAS-3 products, much faster than Householder
    QR on tall matrices); falls back to economic QR if the Gram matrix is not
    numerically positive definite.
    """
    a64 = a.astype(np.float64)
    q: NDArray[np.floating[Any]]
    try:
        upper = linalg.cholesky(a64.T @ a64, lower=False, check_finite=False)
        q = linalg.solve_triangular(upper, a64.T, trans="T", lower=False, check_finite=False).T
    except linalg.LinAlgError:
        q = linalg.qr(a64, mode="economic", check_finite=False)[0]
    return np.asarray(q, dtype=a.dtype)


def fit_pca(x: NDArray[np.floating[Any]], k: int, rng: np.random.Generator) -> Pca:
    """Top-``k`` principal components of the rows of ``x`` (shape (n, d)).

    Exact (eigendecomposition of the ``d x d`` covariance) when ``k`` is a
    large share of ``d``; otherwise the randomized range finder of Halko et
    al. (2011, Alg. 4.4) with ``k + 10`` columns and one power iteration.
    Above 4000 rows the basis is fitted on 4000 rows drawn with ``rng``. The
    statistics built on it only need a basis chosen without looking at the
    labels, which a random row subsample keeps; ``total_variance`` is then that
    of the subsample.
    """
    if x.shape[0] > MAX_FIT_ROWS:
        x = x[np.sort(rng.choice(x.shape[0], MAX_FIT_ROWS, replace=False))]
    n, d = x.shape
    k = max(1, min(k, d, n - 1))
    mean = x.mean(axis=0, dtype=np.float64)
    c = x - mean.astype(x.dtype)
    total = float(np.einsum("ij,ij->", c, c, dtype=np.float64)) / max(n - 1, 1)
    if 2 * (k + _OVERSAMPLE) >= d or n <= k + _OVERSAMPLE:
        cov = (c.T @ c).astype(np.float64) / max(n - 1, 1)
        vals, vecs = np.linalg.eigh(cov)
        order = np.argsort(vals)[::-1][:k]
        return Pca(mean, vecs[:, order].T.copy(), np.maximum(vals[order], 0.0), total)
    width = min(k + _OVERSAMPLE, d)
    q = _orth(c @ rng.standard_normal((d, width)).astype(c.dtype))
    for _ in range(_POWER_ITERS):
        q = _orth(c.T @ q)
        q = _orth(c @ q)
    b = (q.T @ c).astype(np.float64)  # (width, d): c ~ q b
    # right singular vectors of b from the small (width, width) Gram matrix
    vals, u = np.linalg.eigh(b @ b.T)
    order = np.argsort(vals)[::-1][:k]
    s2 = np.maximum(vals[order], 0.0)
    comps = (u[:, order].T @ b) / np.sqrt(np.where(s2 > 0, s2, 1.0))[:, None]
    return Pca(mean, comps, s2 / max(n - 1, 1), total)


def sqrtm_trace(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``tr((A B)^{1/2})`` for (stacks of) symmetric PSD matrices ``A``, ``B``.

    ``AB`` has the eigenvalues of the symmetric ``L' B L`` (``A = L L'``), so
    ``tr((AB)^{1/2}) = Σ sqrt(eig(L' B L))``: one Cholesky factorisation and one
    eigenvalue-only decomposition per matrix. Singular ``A`` falls back to
    ``A^{1/2} B A^{1/2}`` via an eigendecomposition of ``A``. Shapes (..., k, k).
    """
    try:
        low = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return _sqrtm_trace_eigh(a, b)
    mid = np.swapaxes(low, -1, -2) @ b @ low
    vals = np.linalg.eigvalsh((mid + np.swapaxes(mid, -1, -2)) / 2.0)
    return np.asarray(np.sqrt(np.clip(vals, 0.0, None)).sum(axis=-1), dtype=np.float64)


def _sqrtm_trace_eigh(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    va, qa = np.linalg.eigh(a)
    root = (qa * np.sqrt(np.clip(va, 0.0, None))[..., None, :]) @ np.swapaxes(qa, -1, -2)
    mid = root @ b @ root
    vals = np.linalg.eigvalsh((mid + np.swapaxes(mid, -1, -2)) / 2.0)
    return np.asarray(np.sqrt(np.clip(vals, 0.0, None)).sum(axis=-1), dtype=np.float64)
