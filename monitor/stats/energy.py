"""Energy-distance two-sample test (the distance-kernel sibling of MMD²).

It shares the pooled Gram matrix and the batched permutation machinery of
``distances``: with ``K = -D`` (Euclidean distances) the unbiased statistic
``U(K)`` is the energy distance.

References
----------
Székely, G. J. and Rizzo, M. L. (2013). Energy statistics: a class of
statistics based on distances. J. Stat. Plan. Inference 143(8), 1249-1272.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._workspace import DEFAULT_MAX_BLOCK, Workspace
from monitor.stats.distances import kernel_outcomes, kernel_result
from monitor.stats.permutation import stopping_rules
from monitor.stats.result import TestResult

__all__ = ["energy_from_workspace", "energy_test"]


def energy_from_workspace(
    ws: Workspace, *, alpha: float, n_permutations: int, sequential: bool = True
) -> TestResult:
    """:func:`energy_test` on a prepared workspace."""
    ko = kernel_outcomes(
        ws,
        {"energy": None},
        n_permutations=n_permutations,
        **stopping_rules(alpha, n_permutations, sequential, ws.verdict_family),
    )
    ko_e = ko["energy"]
    cross = -ko_e.cross_mean
    coefficient = max(ko_e.observed, 0.0) / (2.0 * cross) if cross > 0 else 0.0
    return kernel_result(
        "energy",
        ko_e,
        ws,
        alpha,
        effect=coefficient,
        effect_label="energy coefficient E / (2 E|X-Y|) (0 = same distribution, 1 = far apart)",
        details={"mean_cross_distance": cross},
    )


def energy_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    seed: int = 0,
    sequential: bool = True,
    max_block: int = DEFAULT_MAX_BLOCK,
) -> TestResult:
    """Energy-distance two-sample test with a permutation p-value.

    The statistic is the U-statistic form of the energy distance
    (Székely & Rizzo 2013)

        E = 2/(nm) Σ ||x_i - y_j|| - 1/(n(n-1)) Σ_{i≠j} ||x_i - x_j||
            - 1/(m(m-1)) Σ_{i≠j} ||y_i - y_j||,

    i.e. MMD²_u with the distance-induced kernel ``-||x - y||``.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)
    alpha, n_permutations, seed, sequential, max_block
        As in :func:`mmd_test`.

    Returns
    -------
    TestResult
        ``effect`` = homogeneity coefficient ``E / (2 E||X - Y||)`` in [0, 1].
    """
    alpha = check_alpha(alpha)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    seed = check_seed(seed)
    ws = Workspace(ref, cur, seed=seed, max_block=check_int(max_block, "max_block", 8))
    require_samples(ws.n_ref, ws.n_cur, 2, "energy")
    return energy_from_workspace(
        ws, alpha=alpha, n_permutations=n_permutations, sequential=sequential
    )
