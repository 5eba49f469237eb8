"""The combined verdict: several statistics in one permutation loop (max standardised statistic).

Components, evaluated on the same label permutations:

* ``mmd`` -- unbiased MMD² with the median-bandwidth RBF kernel (global
  shape; its own test is ``monitor.stats.distances``),
* ``knn`` -- Schilling's share of within-sample nearest-neighbour pairs
  (any change of the topic mix, see ``_knn``),
* ``isolation`` -- share of current rows whose nearest pooled neighbours are
  all current rows (a small new topic, see ``_knn``).

Each component ``S_k`` is standardised with the mean and standard deviation
of its statistics on ``N_CALIBRATION`` calibration permutations drawn from a
separate random stream, and the combined statistic is

    T = max_k (S_k - mean_k) / sd_k.

The calibration permutations depend on the pooled sample only through its
unordered set of rows (they are uniform relabellings), so conditionally on
them ``T`` is a fixed function of the labels and its permutation p-value,
computed on the main permutation stream, is exact. Unlike Holm over separate
p-values, ``T`` pays for the multiplicity only through the correlation-aware
null distribution of the maximum (Westfall and Young 1993): when one
component carries the signal, ``T`` loses little against that component
alone. Early stopping works both ways (Besag-Clifford for "no drift", the
early rejection look of ``permutation`` for "drift").

References
----------
Westfall, P. H. and Young, S. S. (1993). Resampling-Based Multiple Testing.
Wiley.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.stats._kernel import KernelMatrix
from monitor.stats._knn import K_GRAPH, K_ISOLATION, knn_graph
from monitor.stats._workspace import Workspace
from monitor.stats.permutation import (
    CALIBRATION_STREAM,
    Permuter,
    outcome_from_null,
    stopping_rules,
)
from monitor.stats.result import TestResult

__all__ = ["METHOD", "N_CALIBRATION", "combined_from_workspace"]

METHOD = "max-standardised-permutation"
N_CALIBRATION = 64

Evaluate = Callable[[int, NDArray[np.bool_]], NDArray[np.float64]]


def _components(ws: Workspace) -> dict[str, Evaluate]:
    """Batch evaluators ``(first permutation index, indicators) -> statistics``."""
    graph = knn_graph(ws)
    schilling, isolation = graph.schilling(), graph.isolation()
    out: dict[str, Evaluate] = {}
    km: KernelMatrix | None = ws.get(("kernel_matrix", "mmd"))
    if km is not None:
        known: NDArray[np.float64] = ws.cached(("kernel_null", "mmd"), lambda: np.empty(0))

        def mmd(start: int, batch: NDArray[np.bool_]) -> NDArray[np.float64]:
            if 0 <= start and start + batch.shape[1] <= known.size:
                return known[start : start + batch.shape[1]]  # the mmd test evaluated these
            return km.statistics(batch)

        out["mmd"] = mmd
    out["knn"] = lambda _start, batch: schilling(batch)
    out["isolation"] = lambda _start, batch: isolation(batch)
    return out


def _calibrate(
    ws: Workspace, comps: dict[str, Evaluate]
) -> tuple[dict[str, float], dict[str, float]]:
    cal = Permuter(ws.n_ref, ws.n_cur, ws.seed, ws.strata, stream=CALIBRATION_STREAM)
    stats: dict[str, list[NDArray[np.float64]]] = {k: [] for k in comps}
    for j, size in Permuter.schedule(N_CALIBRATION):
        batch = cal.batch(j, size)
        for name, f in comps.items():
            stats[name].append(f(-1, batch))
    mean, sd = {}, {}
    for name, parts in stats.items():
        v = np.concatenate(parts)
        mean[name] = float(v.mean())
        floor = 1e-12 * max(abs(mean[name]), 1e-300)
        if name == "isolation":  # sqrt of a count: at least the step of one more row
            floor = max(floor, float(np.sqrt(1.375 / ws.n_cur) - np.sqrt(0.375 / ws.n_cur)))
        sd[name] = max(float(v.std(ddof=1)), floor)
    return mean, sd


def combined_from_workspace(
    ws: Workspace, *, alpha: float, n_permutations: int
) -> tuple[TestResult, dict[str, TestResult]]:
    """The combined test and the per-component tests (``knn``, ``isolation``) of ``ws``.

    Reads the retained MMD kernel matrix and its permutation statistics when
    the suite kept them (``retain_kernels``), then drops the matrix.
    """
    comps = _components(ws)
    ws.drop(("kernel_matrix", "mmd"))  # the evaluators hold it; freed when they go
    mean, sd = _calibrate(ws, comps)
    obs_ind = ws.permuter.observed()
    obs = {name: float(f(-2, obs_ind)[0]) for name, f in comps.items()}

    def combine(values: dict[str, NDArray[np.float64]]) -> NDArray[np.float64]:
        z = np.stack([(values[k] - mean[k]) / sd[k] for k in comps])
        out: NDArray[np.float64] = z.max(axis=0)
        return out

    t_obs = float(combine({k: np.asarray([v]) for k, v in obs.items()})[0])
    rules = stopping_rules(alpha, n_permutations, True, ws.verdict_family)
    nulls: dict[str, list[NDArray[np.float64]]] = {k: [] for k in comps}
    t_null: list[NDArray[np.float64]] = []
    start = 0
    for j, size in Permuter.schedule(n_permutations):
        batch = ws.permuter.batch(j, size)
        values = {name: np.asarray(f(start, batch), dtype=np.float64) for name, f in comps.items()}
        for name, v in values.items():
            nulls[name].append(v)
        t_null.append(combine(values))
        start += size
        sofar = outcome_from_null(t_obs, np.concatenate(t_null), rel_tol=1e-6, **rules)
        if sofar.stopped:
            break
    outcome = sofar
    used = outcome.n_used
    per: dict[str, TestResult] = {}
    details: dict[str, Any] = {}
    for name in comps:
        null = np.concatenate(nulls[name])[:used]
        own = outcome_from_null(obs[name], null, stop_after=None, rel_tol=1e-6)
        z = (obs[name] - mean[name]) / sd[name]
        details[name] = {"statistic": obs[name], "z": z, "p_value": own.p_value}
        if name != "mmd":
            per[name] = _component_result(name, ws, obs[name], own.p_value, alpha, z, mean[name])
    result = TestResult(
        name="combined",
        statistic=t_obs,
        p_value=outcome.p_value,
        threshold=outcome.quantile(alpha),
        drift=outcome.p_value <= alpha,
        effect=t_obs,
        effect_label="largest standardised component (permutation z-score)",
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        seed=ws.seed,
        details={
            "method": METHOD,
            "components": details,
            "n_calibration": N_CALIBRATION,
            "n_permutations_used": used,
            "exceedances": outcome.exceedances,
            "k_graph": K_GRAPH,
            "k_isolation": K_ISOLATION,
        },
    )
    return result, per


_LABELS = {
    "knn": "share of nearest-neighbour pairs within one sample, minus its permutation mean",
    "isolation": "sqrt share of cur with no ref among its nearest neighbours, minus null mean",
}


def _component_result(
    name: str, ws: Workspace, stat: float, p: float, alpha: float, z: float, null_mean: float
) -> TestResult:
    return TestResult(
        name=name,
        statistic=stat,
        p_value=p,
        threshold=None,
        drift=p <= alpha,
        effect=stat - null_mean,
        effect_label=_LABELS[name],
        n_ref=ws.n_ref,
        n_cur=ws.n_cur,
        seed=ws.seed,
        details={
            "z": z,
            "from": "combined",
            "note": "permutations shared with the combined test (a diagnostic p-value)",
        },
    )
