"""Geometry of each sample: anisotropy, effective rank and norm distribution.

* Anisotropy = mean pairwise cosine similarity over distinct pairs,
  ``(||Σ u_i||² - Σ ||u_i||²) / (n (n - 1))`` for unit rows ``u_i``
  (Ethayarajh 2019); 0 for isotropic directions, near 1 when all vectors
  point the same way.
* Effective rank = participation ratio of the covariance spectrum,
  ``(Σ λ)² / Σ λ² = tr(Σ)² / ||Σ||_F²`` (between 1 and ``d``).
* Mean and standard deviation of the Euclidean norms.

The test statistic is ``|anisotropy(cur) - anisotropy(ref)|`` with a
permutation p-value (one ``(d, N) @ (N, b)`` product per batch, early stopping
both ways); the other quantities are descriptive and reported in ``details``.

References
----------
Ethayarajh, K. (2019). How contextual are contextualized word
representations? EMNLP-IJCNLP, 55-65.
Roy, O. and Vetterli, M. (2007). The effective rank: a measure of effective
dimensionality. EUSIPCO, 606-610 (participation-ratio variant).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import as_matrix, check_alpha, check_int, check_seed, require_samples
from monitor.stats._workspace import Workspace
from monitor.stats.centroid import ref_sums
from monitor.stats.permutation import permutation_test, stopping_rules
from monitor.stats.result import TestResult

__all__ = [
    "anisotropy",
    "effective_rank",
    "geometry_from_workspace",
    "geometry_test",
]


def _aniso(
    sum_sq: NDArray[np.float64], nonzero: float | NDArray[np.float64], count: float
) -> NDArray[np.float64]:
    return (sum_sq - nonzero) / (count * (count - 1.0))


def anisotropy(x: ArrayLike) -> float:
    """Mean cosine similarity over distinct pairs of rows of ``x`` (shape (n, d), n >= 2)."""
    a = as_matrix(x, "x")
    require_samples(a.shape[0], a.shape[0], 2, "anisotropy")
    norms = np.linalg.norm(a, axis=1)
    ok = norms > 1e-12 * norms.max()  # shorter rows are zero vectors up to round-off
    u = a * np.divide(1.0, norms, out=np.zeros_like(norms), where=ok)[:, None]
    s = u.sum(axis=0)
    return float(_aniso(np.dot(s, s), float(np.count_nonzero(ok)), float(a.shape[0])))


def effective_rank(x: ArrayLike) -> float:
    """Participation ratio ``tr(C)² / ||C||_F²`` of the sample covariance of ``x`` (n, d)."""
    a = as_matrix(x, "x")
    require_samples(a.shape[0], a.shape[0], 2, "effective_rank")
    return _participation(a)


def _participation(a: NDArray[np.floating[Any]]) -> float:
    c = a - a.mean(axis=0)
    small = c @ c.T if c.shape[0] < c.shape[1] else c.T @ c  # same non-zero spectrum
    tr = float(np.trace(small))
    fro2 = float(np.sum(small.astype(np.float64) ** 2))
    return tr * tr / fro2 if fro2 > 0 else 0.0


def geometry_from_workspace(
    ws: Workspace, *, alpha: float, n_permutations: int, sequential: bool = True
) -> TestResult:
    """:func:`geometry_test` on a prepared workspace."""
    unit = ws.unit
    nonzero = (ws.inv_norms > 0).astype(np.float64)
    total = unit.sum(axis=0, dtype=np.float64)
    obs = unit[: ws.n_ref].sum(axis=0, dtype=np.float64)
    n, m = ws.n_ref, ws.n_cur
    nz_r, nz_c = float(nonzero[:n].sum()), float(nonzero[n:].sum())
    a_r = _aniso(np.dot(obs, obs), nz_r, n)
    a_c = _aniso(np.dot(total - obs, total - obs), nz_c, m)
    all_nonzero = nz_r + nz_c == ws.n  # then every group has all its rows

    def change(batch: NDArray[np.bool_]) -> NDArray[np.float64]:
        perm = ref_sums(unit, batch)
        rest = total - perm
        # permuted labellings: nonzero counts per group from the same indicators
        nz_perm = np.full(perm.shape[0], float(n)) if all_nonzero else nonzero @ batch
        pa_r = _aniso(np.einsum("ij,ij->i", perm, perm), nz_perm, n)
        pa_c = _aniso(np.einsum("ij,ij->i", rest, rest), nonzero.sum() - nz_perm, m)
        out: NDArray[np.float64] = np.abs(pa_c - pa_r)
        return out

    stat = float(abs(a_c - a_r))
    out = permutation_test(
        stat,
        change,
        ws.permuter,
        n_permutations,
        rel_tol=1e-7,
        **stopping_rules(alpha, n_permutations, sequential, ws.verdict_family),
    )
    nr, nc = ws.norms[:n], ws.norms[n:]
    return TestResult(
        name="geometry",
        statistic=stat,
        p_value=out.p_value,
        threshold=out.quantile(alpha),
        drift=out.p_value <= alpha,
        effect=float(a_c - a_r),
        effect_label="change in anisotropy (mean pairwise cosine), cur minus ref",
        n_ref=n,
        n_cur=m,
        seed=ws.seed,
        details={
            "anisotropy_ref": float(a_r),
            "anisotropy_cur": float(a_c),
            "effective_rank_ref": _participation(ws.pooled[:n]),
            "effective_rank_cur": _participation(ws.pooled[n:]),
            "norm_mean_ref": float(nr.mean()),
            "norm_mean_cur": float(nc.mean()),
            "norm_std_ref": float(nr.std(ddof=1)) if n > 1 else 0.0,
            "norm_std_cur": float(nc.std(ddof=1)) if m > 1 else 0.0,
            "n_permutations_used": out.n_used,
        },
    )


def geometry_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    seed: int = 0,
) -> TestResult:
    """Anisotropy change with a permutation p-value, plus descriptive geometry.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    alpha, n_permutations, seed
        As in :func:`monitor.stats.centroid_test`.

    Returns
    -------
    TestResult
        ``statistic`` = |anisotropy(cur) - anisotropy(ref)|; ``details`` holds
        anisotropy, effective rank, and norm mean/std of both samples.
    """
    alpha = check_alpha(alpha)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    ws = Workspace(ref, cur, seed=check_seed(seed))
    require_samples(ws.n_ref, ws.n_cur, 2, "geometry")
    return geometry_from_workspace(ws, alpha=alpha, n_permutations=n_permutations)
