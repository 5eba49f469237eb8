"""The drift suite: run the registered tests on one comparison and decide one verdict.

Combined-verdict policy ("maxt-permutation")
--------------------------------------------
Each test reports its own p-value and its own unadjusted verdict at
``alpha``; those per-test flags are diagnostics. When the selection contains
``mmd`` (the default suite does), the verdict is the permutation test of the
*combined* statistic of ``monitor.stats.combined``: MMD², Schilling's
nearest-neighbour statistic and the isolated share of current rows,
standardised and maximised inside one permutation loop. It is exact at
``alpha`` and keeps the power of its strongest component, where Holm over
separate p-values (the previous policy) gave much of MMD's power away. The
components' own p-values are reported as the tests ``knn`` and
``isolation``; ``result.method`` says how the verdict was reached.

With pooled samples above ``max_block`` (blocked mode) the MMD matrix is not
kept for the combined loop: the combined statistic then has the two
neighbour components and the verdict is Holm over it and ``mmd``. Without
``mmd`` in the selection, Holm at ``alpha`` over ``novelty`` and
``classifier`` if selected, else over every selected test with a p-value.

Below ``min_samples`` rows on either side the verdict is
``"insufficient_data"`` and no test is run.

References
----------
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
Scand. J. Statist. 6(2), 65-70.
Westfall, P. H. and Young, S. S. (1993). Resampling-Based Multiple Testing.
Wiley.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from monitor.stats._checks import check_alpha, check_int, check_seed
from monitor.stats._knn import knn_graph
from monitor.stats._neighbours import gram_for_neighbours, neighbours
from monitor.stats._workspace import DEFAULT_MAX_BLOCK, Workspace
from monitor.stats.centroid import centroid_from_workspace
from monitor.stats.classifier import classifier_from_workspace
from monitor.stats.combined import combined_from_workspace
from monitor.stats.distances import mmd_from_workspace, parse_bandwidth, resolve_bandwidth
from monitor.stats.energy import energy_from_workspace
from monitor.stats.explain import explain_from_workspace
from monitor.stats.frechet import frechet_from_workspace
from monitor.stats.geometry import geometry_from_workspace
from monitor.stats.novelty import novelty_from_workspace
from monitor.stats.projections import Projection, projection_from_workspace
from monitor.stats.result import SuiteResult, TestResult
from monitor.stats.univariate import components_from_workspace

__all__ = [
    "ALL_TESTS",
    "DEFAULT_TESTS",
    "HOLM_POLICY",
    "POLICY",
    "PRIMARY_TESTS",
    "holm_adjust",
    "run_suite",
]

POLICY = "maxt-permutation"
#: Policy name when the verdict falls back to Holm (no ``mmd`` in the selection).
HOLM_POLICY = "holm-primary"

Runner = Callable[[Workspace, dict[str, Any]], TestResult]


def _mmd(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return mmd_from_workspace(
        ws, alpha=p["alpha"], n_permutations=p["n_permutations"], bandwidth=p["bandwidth"]
    )


def _energy(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return energy_from_workspace(ws, alpha=p["alpha"], n_permutations=p["n_permutations"])


def _centroid(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return centroid_from_workspace(ws, alpha=p["alpha"], n_permutations=p["n_permutations"])


def _component(kind: Literal["ks", "cvm"]) -> Runner:
    def run(ws: Workspace, p: dict[str, Any]) -> TestResult:
        return components_from_workspace(ws, kind=kind, alpha=p["alpha"])

    return run


def _classifier(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return classifier_from_workspace(ws, alpha=p["alpha"], n_permutations=p["n_permutations"])


def _projection(projection: Projection) -> Runner:
    def run(ws: Workspace, p: dict[str, Any]) -> TestResult:
        return projection_from_workspace(
            ws, projection, alpha=p["alpha"], n_permutations=p["n_permutations"]
        )

    return run


def _frechet(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return frechet_from_workspace(ws, alpha=p["alpha"], n_permutations=p["n_permutations"])


def _geometry(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return geometry_from_workspace(ws, alpha=p["alpha"], n_permutations=p["n_permutations"])


def _novelty(ws: Workspace, p: dict[str, Any]) -> TestResult:
    return novelty_from_workspace(ws, alpha=p["alpha"])


_REGISTRY: dict[str, Runner] = {
    "mmd": _mmd,
    "energy": _energy,
    "centroid": _centroid,
    "ks": _component("ks"),
    "cvm": _component("cvm"),
    "classifier": _classifier,
    "psi_norm": _projection("norm"),
    "psi_centroid_cosine": _projection("centroid_cosine"),
    "psi_nn_similarity": _projection("nn_similarity"),
    "frechet": _frechet,
    "geometry": _geometry,
    "novelty": _novelty,
}
_KERNEL_TESTS = ("mmd", "energy")
_NEIGHBOUR_TESTS = ("novelty", "psi_nn_similarity")

#: Tests whose p-values decide the suite verdict by Holm when ``mmd`` is not selected.
PRIMARY_TESTS: tuple[str, ...] = ("mmd", "novelty", "classifier")
#: Every registered test name.
ALL_TESTS: tuple[str, ...] = tuple(_REGISTRY)
#: Tests run when ``tests`` is None (all but the Cramér-von Mises variant of ``ks``).
DEFAULT_TESTS: tuple[str, ...] = tuple(t for t in ALL_TESTS if t != "cvm")


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    ``p~_(i) = max_{j <= i} min(1, (k - j + 1) p_(j))`` for sorted p-values.
    """
    p = np.asarray(p_values, dtype=np.float64)
    k = p.size
    if k == 0:
        return []
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, (k - np.arange(k)) * p[order])
    adj = np.maximum.accumulate(adj)
    out = np.empty(k)
    out[order] = adj
    return out.tolist()


def _select(tests: Sequence[str] | None) -> tuple[str, ...]:
    if tests is None:
        return DEFAULT_TESTS
    if isinstance(tests, str):
        raise ValueError("tests must be a sequence of test names, not a single string")
    names = tuple(dict.fromkeys(tests))
    unknown = [t for t in names if t not in _REGISTRY]
    if unknown:
        raise ValueError(
            f"tests contains unknown test name(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(ALL_TESTS)}"
        )
    if not names:
        raise ValueError("tests is empty; give at least one test name")
    return names


def run_suite(
    ref: ArrayLike,
    cur: ArrayLike,
    *,
    alpha: float = 0.01,
    n_permutations: int = 1000,
    seed: int = 0,
    tests: Sequence[str] | None = None,
    min_samples: int = 50,
    explain: bool = True,
    bandwidth: str | float = "median",
    max_block: int = DEFAULT_MAX_BLOCK,
) -> SuiteResult:
    """Compare ``cur`` with ``ref`` using several drift tests and one combined verdict.

    Parameters
    ----------
    ref : array_like, shape (n, d)
        Reference window of embeddings.
    cur : array_like, shape (m, d)
        Current window of embeddings.
    alpha : float
        Family-wise false-alarm rate of the verdict (and level of each test's
        own flag).
    n_permutations : int
        Maximum permutations per permutation test.
    seed : int
        Seed of every random choice; the result is a deterministic function of
        ``(ref, cur, parameters, seed)``.
    tests : sequence of str, optional
        Subset of :data:`ALL_TESTS`; default :data:`DEFAULT_TESTS`.
    min_samples : int
        Minimum rows per side; below it the verdict is ``"insufficient_data"``.
    explain : bool
        Compute the cluster explanation.
    bandwidth : {"median", "multi"} or float
        RBF bandwidth rule of the MMD test.
    max_block : int
        Largest pooled size whose (N, N) kernel matrices are held at once.

    Returns
    -------
    SuiteResult

    Raises
    ------
    ValueError
        Invalid arrays (NaN/inf, not 2-D, empty, constant, dimension mismatch)
        or parameters, naming the argument.
    """
    alpha = check_alpha(alpha)
    n_permutations = check_int(n_permutations, "n_permutations", 1)
    seed = check_seed(seed)
    min_samples = check_int(min_samples, "min_samples", 2)
    max_block = check_int(max_block, "max_block", 8)
    parse_bandwidth(bandwidth)
    names = _select(tests)
    ws = Workspace(ref, cur, seed=seed, max_block=max_block)
    if ws.n_ref < min_samples or ws.n_cur < min_samples:
        return SuiteResult(
            verdict="insufficient_data",
            tests={},
            explanation=None,
            n_ref=ws.n_ref,
            n_cur=ws.n_cur,
            dim=ws.dim,
            alpha=alpha,
            seed=seed,
            policy=POLICY,
            method=None,
        )
    params = {"alpha": alpha, "n_permutations": n_permutations, "bandwidth": bandwidth}
    combined = "mmd" in names
    ws.verdict_family = _verdict_family(names, combined, ws.single_stratum)
    kernels = [t for t in names if t in _KERNEL_TESTS]
    if kernels and (combined or explain or any(t in names for t in _NEIGHBOUR_TESTS)):
        # neighbours, the k-NN graph and the bandwidth read the pooled Gram matrix
        # before the kernels are built from it
        gram_for_neighbours(ws)
    plan: dict[str, Any] = {}
    if "mmd" in names:
        plan["mmd"] = resolve_bandwidth(ws, bandwidth)
        ws.put("retain_kernels", ("mmd",))
    if "energy" in names:
        plan["energy"] = None
    ws.put("kernel_plan", plan)
    if explain or any(t in names for t in _NEIGHBOUR_TESTS):
        neighbours(ws)
    if combined:
        knn_graph(ws)
    # kernel tests first: they free the Gram matrix before other tests allocate
    order = [t for t in names if t in _KERNEL_TESTS] + [t for t in names if t not in _KERNEL_TESTS]
    computed: dict[str, TestResult] = {}
    for name in order:
        computed[name] = _REGISTRY[name](ws, params)
        if combined and name == order[0]:  # right after the kernels: frees the MMD matrix
            verdict_test, parts = combined_from_workspace(
                ws, alpha=alpha, n_permutations=n_permutations
            )
    results = {name: computed[name] for name in names}
    if combined:
        results.update(parts)
        results, method = _combined_policy(results, verdict_test, alpha)
    else:
        results, method = _apply_policy(results, alpha)
    explanation = explain_from_workspace(ws, alpha=alpha) if explain else None
    return SuiteResult(
        verdict="drift" if method["rejects"] else "no_drift",
        tests=results,
        explanation=explanation,
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        dim=ws.dim,
        alpha=alpha,
        seed=seed,
        policy=method["policy"],
        method=method,
    )


def _verdict_family(names: tuple[str, ...], combined: bool, single_stratum: bool) -> int:
    """How many p-values the verdict will adjust each test's over (``Workspace.verdict_family``)."""
    if combined:
        return 1 if single_stratum else 2  # blocked mode: Holm over combined and mmd
    return sum(n in names for n in PRIMARY_TESTS) or len(names)


def _combined_policy(
    results: dict[str, TestResult], combined: TestResult, alpha: float
) -> tuple[dict[str, TestResult], dict[str, Any]]:
    """Verdict from the combined test (Holm with ``mmd`` when MMD was not inside it)."""
    assert combined.p_value is not None
    comps = list(combined.details["components"])
    out = dict(results)
    out["combined"] = combined
    if "mmd" in comps:
        p = combined.p_value
        family = ["combined"]
    else:
        mmd_p = results["mmd"].p_value
        assert mmd_p is not None
        p = min(holm_adjust([combined.p_value, mmd_p]))
        family = ["combined", "mmd"]
    for name in family:
        out[name] = replace(out[name], details={**out[name].details, "in_verdict": True})
    return out, {
        "policy": POLICY if family == ["combined"] else "maxt-permutation+holm-mmd",
        "p_value": p,
        "rejects": p <= alpha,
        "family": family,
        "components": comps,
        "description": (
            "exact permutation test of the largest standardised component "
            f"({', '.join(comps)}) on shared permutations"
            + ("" if family == ["combined"] else "; Holm with mmd (blocked mode)")
        ),
    }


def _apply_policy(
    results: dict[str, TestResult], alpha: float
) -> tuple[dict[str, TestResult], dict[str, Any]]:
    family = [n for n in PRIMARY_TESTS if n in results and results[n].p_value is not None]
    if not family:
        family = [n for n, r in results.items() if r.p_value is not None]
    adjusted = holm_adjust([float(results[n].p_value) for n in family])  # type: ignore[arg-type]
    out = dict(results)
    for name, p_adj in zip(family, adjusted, strict=True):
        r = results[name]
        out[name] = replace(
            r,
            details={
                **r.details,
                "in_verdict": True,
                "holm_p_value": p_adj,
                "verdict_rejects": p_adj <= alpha,
            },
        )
    p = min(adjusted)
    return out, {
        "policy": HOLM_POLICY,
        "p_value": p,
        "rejects": p <= alpha,
        "family": family,
        "components": family,
        "description": f"Holm at alpha over {', '.join(family)}",
    }
