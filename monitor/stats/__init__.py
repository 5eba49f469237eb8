"""Drift statistics: calibrated, explainable two-sample tests on embeddings.

A pure library (numpy and scipy only): arrays in, frozen results out; no I/O,
logging, clock, environment or global random state. Every random choice comes
from a ``numpy.random.Generator`` seeded with the ``seed`` argument, which is
stored in each result.

Entry points: :func:`run_suite` (every test plus one combined verdict, see
``monitor.stats.suite`` for the multiple-testing policy) and one function per
test. Invalid input raises ``ValueError`` naming the argument;
:class:`InsufficientDataError` (a ``ValueError``) is raised only when a single
test is asked for with too few rows.
"""

from __future__ import annotations

from monitor.stats._checks import InsufficientDataError
from monitor.stats.centroid import centroid_test
from monitor.stats.classifier import classifier_test
from monitor.stats.distances import mmd_test
from monitor.stats.energy import energy_test
from monitor.stats.explain import explain
from monitor.stats.frechet import frechet_distance, frechet_test
from monitor.stats.geometry import anisotropy, effective_rank, geometry_test
from monitor.stats.novelty import novelty_test
from monitor.stats.projections import js_divergence, projection_test, psi
from monitor.stats.result import (
    ClusterShift,
    EmergingGroup,
    Explanation,
    SuiteResult,
    TestResult,
)
from monitor.stats.suite import (
    ALL_TESTS,
    DEFAULT_TESTS,
    POLICY,
    PRIMARY_TESTS,
    holm_adjust,
    run_suite,
)
from monitor.stats.univariate import adjust_p_values, component_test

__all__ = [
    "ALL_TESTS",
    "DEFAULT_TESTS",
    "POLICY",
    "PRIMARY_TESTS",
    "ClusterShift",
    "EmergingGroup",
    "Explanation",
    "InsufficientDataError",
    "SuiteResult",
    "TestResult",
    "adjust_p_values",
    "anisotropy",
    "centroid_test",
    "classifier_test",
    "component_test",
    "effective_rank",
    "energy_test",
    "explain",
    "frechet_distance",
    "frechet_test",
    "geometry_test",
    "holm_adjust",
    "js_divergence",
    "mmd_test",
    "novelty_test",
    "projection_test",
    "psi",
    "run_suite",
]
