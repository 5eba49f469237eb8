"""Pooled Gram matrix, RBF and distance kernels, and their permutation statistics.

Both MMD² and the energy distance are the unbiased two-sample statistic

    U(K) = S_XX / (n (n-1)) + S_YY / (m (m-1)) - 2 S_XY / (n m)

of a pooled matrix ``K`` (``S_AB`` = sum of off-diagonal entries between
groups A and B): the RBF kernel gives MMD², ``K = -D`` (Euclidean distances)
gives the energy distance (Sejdinovic et al., 2013). For a label indicator
``a`` with ``q = a'Ka``, ``t = a'K1`` and ``T = 1'K1`` (diagonal zeroed):
``S_XX = q``, ``S_XY = t - q``, ``S_YY = T - 2t + q``. A batch of ``b``
permutations therefore costs one ``(N, N) @ (N, b)`` product.

``U`` is unchanged when a constant is added to every off-diagonal entry; the
matrices are centred that way so that float32 sums stay accurate.

References
----------
Gretton, A., Borgwardt, K., Rasch, M., Schölkopf, B. and Smola, A. (2012).
A kernel two-sample test. JMLR 13, 723-773.
Székely, G. J. and Rizzo, M. L. (2013). Energy statistics: a class of
statistics based on distances. J. Stat. Plan. Inference 143(8), 1249-1272.
Sejdinovic, D., Sriperumbudur, B., Gretton, A. and Fukumizu, K. (2013).
Equivalence of distance-based and RKHS-based statistics in hypothesis
testing. Ann. Statist. 41(5), 2263-2291.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "KernelMatrix",
    "build_kernel_matrices",
    "pair_indices",
    "pair_sqdists",
]

_CHUNK = 128
#: threads for element-wise passes over pooled matrices (numpy releases the GIL in them)
WORKERS = max(1, min(4, os.cpu_count() or 1))


def pair_indices(
    n: int, rng: np.random.Generator, max_pairs: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Distinct row pairs ``(i, j)`` of ``n`` rows: all when at most ``max_pairs``, else a sample.

    The sample is ``max_pairs`` uniformly random pairs drawn with ``rng``. No
    labels are used, so quantities derived from them (the median bandwidth)
    keep permutation tests exact.
    """
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        return i, j
    i = rng.integers(0, n, size=max_pairs)
    j = rng.integers(0, n - 1, size=max_pairs)
    return i, j + (j >= i)  # uniform over j != i


def pair_sqdists(
    z: NDArray[np.floating[Any]], rng: np.random.Generator, max_pairs: int
) -> NDArray[np.float64]:
    """Squared Euclidean distances of the :func:`pair_indices` pairs of rows of ``z`` (N, d)."""
    i, j = pair_indices(z.shape[0], rng, max_pairs)
    diff = z[i] - z[j]
    return np.asarray(np.einsum("ij,ij->i", diff, diff), dtype=np.float64)


def _rbf_mean(
    sqd: NDArray[np.floating[Any]],
    out: NDArray[np.floating[Any]],
    tmp: NDArray[np.floating[Any]],
    bandwidth: float,
    scales: Sequence[float],
) -> None:
    """``out = mean_s exp(-sqd / (2 (s h)²))`` without touching ``sqd``."""
    for k, s in enumerate(scales):
        target = out if k == 0 else tmp
        np.multiply(sqd, -0.5 / (s * bandwidth) ** 2, out=target)
        np.exp(target, out=target)
        if k > 0:
            out += tmp
    if len(scales) > 1:
        out *= 1.0 / len(scales)


def build_kernel_matrices(
    gram: NDArray[np.floating[Any]],
    sq_norms: NDArray[np.float64],
    n_ref: int,
    specs: Mapping[str, tuple[float, tuple[float, ...]] | None],
    shifts: Mapping[str, float],
) -> dict[str, KernelMatrix]:
    """Kernel matrices of one pooled stratum from its Gram matrix, in one chunked pass.

    Parameters
    ----------
    gram : ndarray, shape (N, N)
        ``Z Z'``; overwritten (it becomes the squared distances, then the
        negated distances if a distance spec is present, else the kernel).
    sq_norms : ndarray, shape (N,)
        Squared norms of the rows of ``Z``.
    n_ref : int
        Rows ``0..n_ref-1`` are ref in the true labelling.
    specs : mapping
        name -> ``(bandwidth, scales)`` for an RBF kernel, or None for the
        negated Euclidean distance (energy distance).
    shifts : mapping
        name -> a constant near the mean off-diagonal entry, subtracted for
        float32 accuracy (the statistic does not depend on it).
    """
    size = gram.shape[0]
    s = sq_norms.astype(gram.dtype)
    rbf = [name for name, spec in specs.items() if spec is not None]
    dist = [name for name, spec in specs.items() if spec is None]
    in_place = rbf[-1] if rbf and not dist else None
    mats = {name: gram if name == in_place else np.empty_like(gram) for name in rbf}
    for name in dist:
        mats[name] = gram
    sums = {name: np.empty(size) for name in specs}
    width = min(_CHUNK, size)
    local = threading.local()

    def chunk(lo: int) -> None:
        if not hasattr(local, "tmp"):
            local.tmp = np.empty((width, size), dtype=gram.dtype)
            local.acc = np.empty((width, size), dtype=gram.dtype)
        hi = min(lo + _CHUNK, size)
        tmp, acc = local.tmp[: hi - lo], local.acc[: hi - lo]
        rows = np.arange(hi - lo)
        diag = (rows, rows + lo)
        blk = gram[lo:hi]
        blk *= -2.0
        blk += s[lo:hi, None]
        blk += s[None, :]
        np.maximum(blk, 0.0, out=blk)
        for name in rbf:
            spec = specs[name]
            assert spec is not None
            dst = acc if name == in_place else mats[name][lo:hi]
            _rbf_mean(blk, dst, tmp, spec[0], spec[1])
            dst -= dst.dtype.type(shifts[name])
            dst[diag] = 0.0
            sums[name][lo:hi] = dst.sum(axis=1)
            if name == in_place:
                blk[...] = dst
        for name in dist:
            np.sqrt(blk, out=blk)
            np.subtract(blk.dtype.type(-shifts[name]), blk, out=blk)  # -D - shift
            blk[diag] = 0.0
            sums[name][lo:hi] = blk.sum(axis=1)

    starts = range(0, size, _CHUNK)
    if WORKERS > 1 and size >= 4 * _CHUNK:
        # numpy ufuncs release the GIL: element-wise passes use every core, like BLAS
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(chunk, starts))
    else:
        for lo in starts:
            chunk(lo)
    return {name: KernelMatrix(mats[name], sums[name], n_ref, shifts[name]) for name in specs}


class KernelMatrix:
    """A pooled ``(N, N)`` matrix prepared for batched unbiased two-sample statistics.

    Parameters
    ----------
    matrix : ndarray, shape (N, N)
        Symmetric kernel minus ``shift`` off the diagonal, zero diagonal.
    row_sums : ndarray, shape (N,)
        Row sums of ``matrix``.
    n_ref : int
        Rows of the stratum that are ``ref`` in the true labelling.
    shift : float
        The constant subtracted from the off-diagonal entries.
    """

    def __init__(
        self,
        matrix: NDArray[np.floating[Any]],
        row_sums: NDArray[np.float64],
        n_ref: int,
        shift: float,
    ) -> None:
        self.matrix = matrix
        self.n_ref = n_ref
        self.n_cur = matrix.shape[0] - n_ref
        self.row_sums = row_sums
        self.total = float(row_sums.sum())
        self.shift = shift

    def _terms(
        self, indicator: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        a = indicator.astype(self.matrix.dtype)
        ka = self.matrix @ a
        q = np.einsum("ij,ij->j", a, ka, dtype=np.float64)
        t = self.row_sums @ indicator
        return q, t

    def statistics(self, indicator: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Unbiased statistic ``U`` for each column of ``indicator`` (shape (N, b))."""
        q, t = self._terms(indicator)
        n, m = self.n_ref, self.n_cur
        s_yy = self.total - 2.0 * t + q
        mmd2 = q / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2.0 * (t - q) / (n * m)
        return np.asarray(mmd2, dtype=np.float64)

    def observed(self, indicator: NDArray[np.bool_]) -> tuple[float, float]:
        """``U`` of one labelling (N, 1) and its mean uncentred cross-group entry."""
        q, t = self._terms(indicator)
        n, m = self.n_ref, self.n_cur
        u = q[0] / (n * (n - 1)) + (self.total - 2.0 * t[0] + q[0]) / (m * (m - 1))
        u -= 2.0 * (t[0] - q[0]) / (n * m)
        return float(u), float((t[0] - q[0]) / (n * m) + self.shift)
