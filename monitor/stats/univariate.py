"""Per-component tests (Kolmogorov-Smirnov, Cramér-von Mises) with one multiple-testing step.

Components are either the raw dimensions or the projections on the top
principal components. The PCA basis is fitted on the *pooled* sample, which
uses no labels: fitted on ``ref`` alone, the leading components over-state
ref's variance along them (they are chosen to) and the tests then alarm on
pure noise when ``n`` is not much larger than ``d``. Each component gets a
scipy p-value; the family is corrected once with Benjamini-Hochberg (default)
or Bonferroni. The suite-level p-value of the family is the smallest adjusted
p-value (for BH this is Simes' global test), so ``drift`` is "at least one
component rejected".

References
----------
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate.
J. R. Statist. Soc. B 57(1), 289-300.
Simes, R. J. (1986). An improved Bonferroni procedure for multiple tests of
significance. Biometrika 73(3), 751-754.
Rabanser, S., Günnemann, S. and Lipton, Z. (2019). Failing loudly: an
empirical study of methods for detecting dataset shift. NeurIPS.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._linalg import Pca, fit_pca
from monitor.stats._workspace import STREAM_PCA, Workspace
from monitor.stats.result import TestResult

__all__ = [
    "Correction",
    "adjust_p_values",
    "component_test",
    "ks_statistics",
    "components_from_workspace",
    "pca_scores",
    "pooled_pca",
]

Correction = Literal["bh", "bonferroni"]
Basis = Literal["pca", "raw"]
DEFAULT_COMPONENTS = 64
_EXACT_KS_MAX_PRODUCT = 250_000


def adjust_p_values(p_values: ArrayLike, method: Correction = "bh") -> NDArray[np.float64]:
    """Multiplicity-adjusted p-values, in input order.

    ``"bh"``: Benjamini-Hochberg step-up, ``p~_(i) = min_{j >= i} min(1, k p_(j) / j)``.
    ``"bonferroni"``: ``min(1, k p)``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if np.any((p < 0) | (p > 1)) or not np.isfinite(p).all():
        raise ValueError("p_values must lie in [0, 1]")
    k = p.size
    if method == "bonferroni":
        return np.minimum(1.0, k * p)
    if method != "bh":
        raise ValueError(f"correction must be 'bh' or 'bonferroni', got {method!r}")
    if k == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * k / np.arange(1, k + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(k)
    out[order] = np.minimum(adj, 1.0)
    return out


def pooled_pca(ws: Workspace, k: int = DEFAULT_COMPONENTS) -> Pca:
    """PCA of the pooled sample (label-free), cached per ``k``."""
    return ws.cached(("pooled_pca", k), lambda: fit_pca(ws.pooled, k, ws.rng(STREAM_PCA)))


def _columns(ws: Workspace, basis: Basis, k: int) -> NDArray[np.float64]:
    if basis == "raw":
        return np.concatenate([ws.ref, ws.cur]).astype(np.float64, copy=False)
    return pca_scores(ws, k)


def pca_scores(ws: Workspace, k: int = DEFAULT_COMPONENTS) -> NDArray[np.float64]:
    """Pooled rows projected on the top-``k`` pooled components, shape (N, k) (cached)."""
    return ws.cached(("pca_scores", k), lambda: ws.rowwise(pooled_pca(ws, k).transform))


def ks_statistics(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Two-sample Kolmogorov-Smirnov ``D = sup |F_x - F_y|`` per column; x (n, k), y (m, k)."""
    n, m = x.shape[0], y.shape[0]
    z = np.concatenate([x, y])
    order = np.argsort(z, axis=0, kind="stable")
    zs = np.take_along_axis(z, order, axis=0)
    from_x = order < n
    diff = np.abs(np.cumsum(from_x, axis=0) / n - np.cumsum(~from_x, axis=0) / m)
    last_of_tie = np.ones_like(from_x)
    last_of_tie[:-1] = zs[1:] != zs[:-1]  # the ECDFs are compared after all tied values
    return np.asarray(np.max(np.where(last_of_tie, diff, 0.0), axis=0), dtype=np.float64)


def _p_values(
    kind: str, x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    n, m = x.shape[0], y.shape[0]
    if kind == "ks" and n * m > _EXACT_KS_MAX_PRODUCT:
        # scipy's method="asymp", vectorised: D against kstwo with n_eff = round(nm/(n+m))
        d = ks_statistics(x, y)
        return d, stats.kstwo.sf(d, np.round(n * m / (n + m)))
    with warnings.catch_warnings():
        # scipy warns when it falls back from the exact KS distribution
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "ks":
            ks = stats.ks_2samp(x, y, axis=0, method="exact")
            return np.atleast_1d(ks.statistic), np.atleast_1d(ks.pvalue)
        # scipy's exact Cramér-von Mises law assumes no ties (it returns p = 0 for
        # some tied samples), so tied columns use the asymptotic law
        z = np.sort(np.concatenate([x, y]), axis=0)
        tied = np.any(z[1:] == z[:-1], axis=0)
        stat = np.empty(x.shape[1])
        p = np.empty(x.shape[1])
        methods: tuple[tuple[Literal["auto", "asymptotic"], NDArray[np.bool_]], ...] = (
            ("auto", ~tied),
            ("asymptotic", tied),
        )
        for method, cols in methods:
            if cols.any():
                cvm = stats.cramervonmises_2samp(x[:, cols], y[:, cols], axis=0, method=method)
                stat[cols], p[cols] = cvm.statistic, cvm.pvalue
        return stat, p


def components_from_workspace(
    ws: Workspace,
    *,
    kind: Literal["ks", "cvm"] = "ks",
    alpha: float,
    basis: Basis = "pca",
    n_components: int = DEFAULT_COMPONENTS,
    correction: Correction = "bh",
) -> TestResult:
    """:func:`component_test` on a prepared workspace."""
    cols = _columns(ws, basis, n_components)
    x, y = cols[: ws.n_ref], cols[ws.n_ref :]
    keep = np.ptp(cols, axis=0) > 0  # a constant component carries no evidence
    stat = np.zeros(cols.shape[1])
    p = np.ones(cols.shape[1])
    if keep.any():
        stat[keep], p[keep] = _p_values(kind, x[:, keep], y[:, keep])
    p = np.clip(p, 0.0, 1.0)
    adj = adjust_p_values(p, correction)
    rejected = adj <= alpha
    share = float(rejected.mean())
    global_p = float(adj.min())
    worst = int(np.argmin(p))
    details: dict[str, Any] = {
        "basis": basis,
        "n_components": int(cols.shape[1]),
        "correction": correction,
        "n_drifted": int(rejected.sum()),
        "worst_component": worst,
        "worst_p_value": float(p[worst]),
        "statistics": stat.tolist(),
        "p_values": p.tolist(),
    }
    if basis == "pca":
        pca = pooled_pca(ws, n_components)
        details["explained_variance"] = (pca.variances / pca.total_variance).tolist()
    return TestResult(
        name=kind,
        statistic=float(stat.max()),
        p_value=global_p,
        threshold=None,
        drift=global_p <= alpha,
        effect=share,
        effect_label=f"share of {'PCA components' if basis == 'pca' else 'dimensions'} "
        f"that drifted after {correction.upper() if correction == 'bh' else 'Bonferroni'}",
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        seed=ws.seed if basis == "pca" else None,
        details=details,
    )


def component_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    kind: Literal["ks", "cvm"] = "ks",
    alpha: float = 0.01,
    basis: Basis = "pca",
    n_components: int = DEFAULT_COMPONENTS,
    correction: Correction = "bh",
    seed: int = 0,
) -> TestResult:
    """Per-component two-sample tests with a multiple-testing correction.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    kind : {"ks", "cvm"}
        Kolmogorov-Smirnov (``scipy.stats.ks_2samp``; exact p-values for
        ``n m <= 250000``, asymptotic above) or Cramér-von Mises
        (``scipy.stats.cramervonmises_2samp``).
    alpha : float
        Level after correction.
    basis : {"pca", "raw"}
        Test projections on the top ``n_components`` principal components of
        the pooled sample, or every raw dimension.
    n_components : int
        Number of principal components (capped at ``d`` and ``n + m - 1``).
    correction : {"bh", "bonferroni"}
        Multiple-testing correction across components.
    seed : int
        Seed of the randomized PCA.

    Returns
    -------
    TestResult
        ``statistic`` = largest per-component statistic; ``p_value`` = smallest
        adjusted p-value; ``effect`` = share of components rejected; per
        component statistics and p-values in ``details``.
    """
    alpha = check_alpha(alpha)
    if kind not in ("ks", "cvm"):
        raise ValueError(f"kind must be 'ks' or 'cvm', got {kind!r}")
    if basis not in ("pca", "raw"):
        raise ValueError(f"basis must be 'pca' or 'raw', got {basis!r}")
    adjust_p_values([0.5], correction)
    ws = Workspace(ref, cur, seed=check_seed(seed))
    require_samples(ws.n_ref, ws.n_cur, 2, kind)
    return components_from_workspace(
        ws,
        kind=kind,
        alpha=alpha,
        basis=basis,
        n_components=check_int(n_components, "n_components", 1),
        correction=correction,
    )
