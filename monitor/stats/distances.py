"""Kernel two-sample tests: the shared kernel machinery and MMD² with an RBF kernel.

Both share one pooled Gram matrix ``Z Z'`` (``Z = [ref; cur]``), turned into
squared distances, then into an RBF kernel and/or distances; p-values come
from label permutations evaluated as matrix products (see ``_kernel``), with
Besag-Clifford early stopping. Pooled samples larger than ``max_block`` are
split into strata; the statistic is then the pair-weighted mean of the
per-stratum statistics and labels are permuted within strata, which bounds
memory by ``max_block²`` entries per matrix (see :func:`_stratified`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import check_alpha, check_int, check_seed, require_samples
from monitor.stats._kernel import (
    KernelMatrix,
    build_kernel_matrices,
    pair_indices,
    pair_sqdists,
)
from monitor.stats._workspace import DEFAULT_MAX_BLOCK, STREAM_BANDWIDTH, Workspace
from monitor.stats.permutation import (
    PermutationOutcome,
    outcome_from_null,
    permutation_test,
    stopping_rules,
)
from monitor.stats.result import TestResult

__all__ = [
    "MULTI_SCALES",
    "kernel_outcomes",
    "kernel_result",
    "mmd_from_workspace",
    "mmd_test",
    "parse_bandwidth",
    "resolve_bandwidth",
]

#: Bandwidth multipliers of the multi-bandwidth kernel (mean of RBF kernels).
MULTI_SCALES: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Pairs used for the median bandwidth (all pairs below this many).
MAX_MEDIAN_PAIRS = 10_000


@dataclass(frozen=True)
class KernelOutcome:
    """Observed statistic, permutation outcome and mean cross-group entry of one kernel."""

    observed: float
    outcome: PermutationOutcome
    cross_mean: float


def parse_bandwidth(bandwidth: str | float) -> tuple[float | None, tuple[float, ...]]:
    """Validate a bandwidth option: (fixed value or None for the median rule, scales)."""
    if isinstance(bandwidth, str):
        if bandwidth == "median":
            return None, (1.0,)
        if bandwidth == "multi":
            return None, MULTI_SCALES
        raise ValueError(
            f"bandwidth must be 'median', 'multi' or a positive number, got {bandwidth!r}"
        )
    value = float(bandwidth)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"bandwidth must be 'median', 'multi' or a positive number, got {bandwidth!r}"
        )
    return value, (1.0,)


def _pair_sample(ws: Workspace) -> NDArray[np.float64]:
    """Squared distances of a label-free sample of pooled row pairs (read off the Gram if kept)."""

    def make() -> NDArray[np.float64]:
        gram = ws.get("gram")
        if gram is None:
            return pair_sqdists(ws.pooled, ws.rng(STREAM_BANDWIDTH), MAX_MEDIAN_PAIRS)
        i, j = pair_indices(ws.n, ws.rng(STREAM_BANDWIDTH), MAX_MEDIAN_PAIRS)
        sq = ws.centred_sq_norms
        out: NDArray[np.float64] = np.maximum(sq[i] + sq[j] - 2.0 * gram[i, j], 0.0)
        return out

    return ws.cached("pair_sqdists", make)


def resolve_bandwidth(ws: Workspace, bandwidth: str | float) -> tuple[float, tuple[float, ...]]:
    """Base bandwidth ``h`` and its scales.

    Unless fixed, ``h`` is the median of the non-zero pairwise distances of the
    pooled sample: with many exact duplicates (repeated queries) the plain
    median can be 0 or tiny, which turns the kernel into a duplicate detector.
    """
    fixed, scales = parse_bandwidth(bandwidth)
    if fixed is not None:
        return fixed, scales
    dist = np.sqrt(_pair_sample(ws))
    # duplicates (repeated queries) would shrink h to nothing; "zero" is relative to
    # the typical distance so that the rule survives rounding (distances read off a
    # float32 Gram matrix carry about 3e-4 of a row's norm), rotation and shifts
    positive = dist[dist > 1e-3 * dist.mean()] if dist.size else dist
    h = float(np.median(positive)) if positive.size else 1.0
    return h, scales


def _shifts(ws: Workspace, specs: dict[str, Any]) -> dict[str, float]:
    """Mean off-diagonal entry of each matrix, estimated on the bandwidth pair sample."""
    sample = _pair_sample(ws)
    out = {}
    for name, spec in specs.items():
        if spec is None:
            out[name] = -float(np.sqrt(sample).mean())
        else:
            h, scales = spec
            out[name] = float(
                np.mean([np.exp(-sample / (2.0 * (c * h) ** 2)).mean() for c in scales])
            )
    return out


def _matrices(
    ws: Workspace,
    rows: NDArray[np.intp],
    n_ref: int,
    specs: dict[str, Any],
    gram: NDArray[np.floating[Any]] | None,
) -> dict[str, KernelMatrix]:
    """Kernel matrices of one stratum; ``specs`` maps name -> (h, scales) (mmd) or None (energy)."""
    if gram is None:
        z = ws.centred_rows(rows)
        gram = z @ z.T
        del z
    return build_kernel_matrices(gram, ws.centred_sq_norms[rows], n_ref, specs, _shifts(ws, specs))


def kernel_outcomes(
    ws: Workspace,
    specs: dict[str, Any],
    *,
    n_permutations: int,
    stop_after: int | None,
    reject_at: int | None = None,
) -> dict[str, KernelOutcome]:
    """Run the kernel statistics in ``specs`` on a workspace.

    Statistics announced beforehand with ``ws.put("kernel_plan", specs)`` are
    computed in the same pass, so a suite builds the Gram matrix once.
    Results are cached per ``(name, spec, n_permutations, stop_after)``.
    """

    def key(name: str) -> tuple[Any, ...]:
        return ("kernel", name, repr(specs.get(name, plan.get(name))), n_permutations, stop_after)

    plan: dict[str, Any] = ws.cached("kernel_plan", dict)
    if all(ws.has(key(name)) for name in specs):
        return {name: ws.get(key(name)) for name in specs}
    specs = {**plan, **specs}
    rel_tol = 1e-9 if ws.dtype == np.float64 else 1e-5
    results: dict[str, KernelOutcome] = {}
    if ws.single_stratum:
        gram = ws.get("gram")
        ws.drop("gram")  # consumed in place
        mats = _matrices(ws, ws.strata[0], ws.n_ref, specs, gram)
        obs = ws.permuter.observed()
        for name, km in mats.items():
            observed, cross = km.observed(obs)
            outcome = permutation_test(
                observed,
                km.statistics,
                ws.permuter,
                n_permutations,
                stop_after=stop_after,
                rel_tol=rel_tol,
                reject_at=reject_at,
            )
            results[name] = KernelOutcome(observed, outcome, cross)
            if name in ws.cached("retain_kernels", tuple):
                ws.put(("kernel_matrix", name), km)  # a combined test evaluates it further
                ws.put(("kernel_null", name), outcome.null)
        del mats
    else:
        results = _stratified(ws, specs, n_permutations, (stop_after, reject_at), rel_tol)
    for name, value in results.items():
        ws.put(key(name), value)
    return results


#: Permutations evaluated in the first pass over the strata (blocked mode).
FIRST_PASS = 199


def _stratified(
    ws: Workspace,
    specs: dict[str, Any],
    n_permutations: int,
    rules: tuple[int | None, int | None],
    rel_tol: float,
) -> dict[str, KernelOutcome]:
    """Kernel statistics over strata whose matrices cannot all be held at once.

    The statistic is the pair-weighted mean of the per-stratum statistics.
    A first pass builds each stratum's matrices once and evaluates the first
    199 permutations; only the statistics that the sequential rules
    ``(stop_after, reject_at)`` have not stopped yet get a second pass
    (matrices rebuilt) for the remaining ones.
    """
    stop_after, reject_at = rules
    weights = []
    for rows in ws.strata:
        n_g = int(np.count_nonzero(rows < ws.n_ref))
        weights.append(n_g * (rows.size - n_g))
    w = np.asarray(weights, dtype=np.float64) / float(sum(weights))
    observed = dict.fromkeys(specs, 0.0)
    cross = dict.fromkeys(specs, 0.0)
    null = {name: np.zeros(n_permutations) for name in specs}
    batches = ws.permuter.schedule(n_permutations)
    starts = np.concatenate([[0], np.cumsum([b for _, b in batches])]).astype(int)
    split = int(np.searchsorted(starts, min(FIRST_PASS, n_permutations), side="right")) - 1
    split = max(split, 1)
    todo = list(specs)
    for first_pass, part in ((True, range(split)), (False, range(split, len(batches)))):
        if not todo or len(part) == 0:
            break
        for g, rows in enumerate(ws.strata):
            n_g = int(np.count_nonzero(rows < ws.n_ref))
            mats = _matrices(ws, rows, n_g, {k: specs[k] for k in todo}, None)
            obs = ws.permuter.observed()[rows]
            for name, km in mats.items():
                if first_pass:
                    observed_g, cross_g = km.observed(obs)
                    observed[name] += w[g] * observed_g
                    cross[name] += w[g] * cross_g
                for i in part:
                    j, size = batches[i]
                    stats = km.statistics(ws.permuter.batch(j, size)[rows])
                    null[name][starts[i] : starts[i] + size] += w[g] * stats
            del mats
        if first_pass and stop_after is not None:
            done = starts[split]
            todo = [
                name
                for name in todo
                if not outcome_from_null(
                    observed[name],
                    null[name][:done],
                    stop_after=stop_after,
                    rel_tol=rel_tol,
                    reject_at=reject_at,
                ).stopped
            ]
    return {
        name: KernelOutcome(
            observed[name],
            outcome_from_null(
                observed[name],
                null[name],
                stop_after=stop_after,
                rel_tol=rel_tol,
                reject_at=reject_at,
            ),
            cross[name],
        )
        for name in specs
    }


def kernel_result(
    name: str,
    ko: KernelOutcome,
    ws: Workspace,
    alpha: float,
    effect: float,
    effect_label: str,
    details: dict[str, Any],
) -> TestResult:
    """The :class:`TestResult` of a kernel statistic (p-value, 1 - alpha threshold, verdict)."""
    out = ko.outcome
    return TestResult(
        name=name,
        statistic=ko.observed,
        p_value=out.p_value,
        threshold=out.quantile(alpha),
        drift=out.p_value <= alpha,
        effect=effect,
        effect_label=effect_label,
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        seed=ws.seed,
        details={
            "n_permutations_used": out.n_used,
            "exceedances": out.exceedances,
            "strata": len(ws.strata),
            **details,
        },
    )


def mmd_from_workspace(
    ws: Workspace,
    *,
    alpha: float,
    n_permutations: int,
    bandwidth: str | float = "median",
    sequential: bool = True,
) -> TestResult:
    """:func:`mmd_test` on a prepared workspace."""
    h, scales = resolve_bandwidth(ws, bandwidth)
    ko = kernel_outcomes(
        ws,
        {"mmd": (h, scales)},
        n_permutations=n_permutations,
        **stopping_rules(alpha, n_permutations, sequential, ws.verdict_family),
    )
    ko_mmd = ko["mmd"]
    return kernel_result(
        "mmd",
        ko_mmd,
        ws,
        alpha,
        effect=float(np.sqrt(max(ko_mmd.observed, 0.0))),
        effect_label="MMD in RKHS units (0 = same distribution, up to sqrt(2) = disjoint)",
        details={"bandwidth": h, "scales": list(scales), "estimator": "unbiased U-statistic"},
    )


def mmd_test(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    seed: int = 0,
    bandwidth: str | float = "median",
    sequential: bool = True,
    max_block: int = DEFAULT_MAX_BLOCK,
) -> TestResult:
    """Unbiased MMD² two-sample test with an RBF kernel and a permutation p-value.

    The statistic is the unbiased estimator (Gretton et al. 2012, eq. 3)

        MMD²_u = 1/(n(n-1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m-1)) Σ_{i≠j} k(y_i, y_j)
                 - 2/(nm) Σ_{i,j} k(x_i, y_j),

    with ``k(x, y) = exp(-||x - y||² / (2 h²))``. ``h`` is the median non-zero
    pairwise distance of the pooled sample (exact for small samples, else over
    10 000 random pairs), or ``bandwidth`` if given; ``bandwidth="multi"`` averages
    the kernels at ``h`` times 1/4, 1/2, 1, 2 and 4.

    Parameters
    ----------
    ref : array_like, shape (n, d)
        Reference sample.
    cur : array_like, shape (m, d)
        Current sample.
    alpha : float
        Level of the test's own verdict.
    n_permutations : int
        Maximum number of label permutations ``B``.
    seed : int
        Seed of the permutations (and of bandwidth pair sampling).
    bandwidth : {"median", "multi"} or float
        Kernel bandwidth rule or a fixed value.
    sequential : bool
        Stop early (Besag & Clifford 1991) once ``h = max(20, ceil(alpha (B+1)))``
        permutations reach the observed statistic; the verdict at ``alpha`` is
        the same as with all ``B``.
    max_block : int
        Largest pooled size whose ``(N, N)`` matrices are built at once.

    Returns
    -------
    TestResult
        ``statistic`` = MMD²_u, ``effect`` = sqrt(max(MMD²_u, 0)),
        ``threshold`` = 1 - alpha quantile of the permutation statistics.

    Raises
    ------
    ValueError
        Invalid input or parameters.
    InsufficientDataError
        Fewer than 2 rows on either side.
    """
    alpha = check_alpha(alpha)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    seed = check_seed(seed)
    parse_bandwidth(bandwidth)
    ws = Workspace(ref, cur, seed=seed, max_block=check_int(max_block, "max_block", 8))
    require_samples(ws.n_ref, ws.n_cur, 2, "mmd")
    return mmd_from_workspace(
        ws, alpha=alpha, n_permutations=n_permutations, bandwidth=bandwidth, sequential=sequential
    )
