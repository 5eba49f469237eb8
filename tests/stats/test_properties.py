"""Hypothesis properties: invariances, symmetry, p in [0, 1], identical samples never drift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import special_ortho_group

from monitor.stats import (
    ALL_TESTS,
    centroid_test,
    component_test,
    energy_test,
    mmd_test,
    run_suite,
)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
values = st.floats(-5, 5, allow_nan=False, width=64)
#: a grid with many ties, on which exp and cbrt stay strictly increasing in float64
grid = st.integers(-40, 40).map(lambda v: v / 8)


@st.composite
def pairs(
    draw: st.DrawFn,
    min_rows: int = 4,
    max_rows: int = 14,
    max_dim: int = 4,
    elements: st.SearchStrategy[float] = values,
) -> tuple:
    d = draw(st.integers(1, max_dim))
    n = draw(st.integers(min_rows, max_rows))
    m = draw(st.integers(min_rows, max_rows))
    ref = draw(hnp.arrays(np.float64, (n, d), elements=elements))
    cur = draw(hnp.arrays(np.float64, (m, d), elements=elements))
    assume(np.ptp(ref, axis=0).max() > 1e-3 and np.ptp(cur, axis=0).max() > 1e-3)
    return ref, cur


@FAST
@given(pairs(max_dim=3), st.integers(0, 2**16))
def test_mmd_and_energy_are_invariant_to_joint_rotation_and_translation(
    data: tuple, seed: int
) -> None:
    ref, cur = data
    d = ref.shape[1]
    rot = special_ortho_group.rvs(d, random_state=seed) if d > 1 else np.array([[-1.0]])
    shift = np.linspace(-3, 3, d)
    for test in (mmd_test, energy_test):
        a = test(ref, cur, n_permutations=30, seed=seed)
        b = test(ref @ rot.T + shift, cur @ rot.T + shift, n_permutations=30, seed=seed)
        assert b.statistic == pytest.approx(a.statistic, rel=1e-6, abs=1e-6)


@FAST
@given(pairs())
def test_kernel_statistics_are_symmetric_and_ignore_row_order(data: tuple) -> None:
    ref, cur = data
    for test in (mmd_test, energy_test):
        a = test(ref, cur, n_permutations=10)
        assert test(cur, ref, n_permutations=10).statistic == pytest.approx(
            a.statistic, rel=1e-6, abs=1e-9
        )
        assert test(ref[::-1], cur[::-1], n_permutations=10).statistic == pytest.approx(
            a.statistic, rel=1e-6, abs=1e-9
        )


@FAST
@given(pairs(min_rows=3, elements=grid), st.sampled_from([np.exp, np.cbrt, lambda x: 3 * x - 7]))
def test_ks_is_invariant_to_a_monotone_transform_of_a_dimension(data: tuple, transform) -> None:
    ref, cur = data
    a = component_test(ref, cur, basis="raw")
    r2, c2 = ref.copy(), cur.copy()
    r2[:, 0], c2[:, 0] = transform(ref[:, 0]), transform(cur[:, 0])
    b = component_test(r2, c2, basis="raw")
    assert b.details["statistics"] == pytest.approx(a.details["statistics"])
    assert b.details["p_values"] == pytest.approx(a.details["p_values"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs(min_rows=2, max_rows=10), st.integers(0, 100))
def test_every_p_value_is_in_the_unit_interval(data: tuple, seed: int) -> None:
    ref, cur = data
    result = run_suite(ref, cur, tests=ALL_TESTS, n_permutations=20, seed=seed, min_samples=2)
    for name, t in result.tests.items():
        assert t.p_value is not None and 0.0 <= t.p_value <= 1.0, name
        assert np.isfinite(t.statistic), name
        assert t.drift == (t.p_value <= result.alpha), name
    assert result.explanation is not None and 0.0 <= result.explanation.p_value <= 1.0


#: neighbour statistics: among exactly equal rows, neighbours are drawn at random
#: (never by label), so on repeated rows their p-value is a fair draw, not 1
TIE_DRAWN = {"knn", "isolation", "combined"}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, st.tuples(st.integers(12, 30), st.integers(1, 4)), elements=values))
def test_identical_samples_never_drift(x: np.ndarray) -> None:
    """Each row's copy is its nearest neighbour across the windows; with repeated rows
    (ties) the neighbour statistics are exact tests at alpha instead, so only the
    others are held to "never" there."""
    assume(np.ptp(x, axis=0).max() > 1e-3)
    repeated = len(np.unique(x, axis=0)) < len(x)
    result = run_suite(x, x.copy(), tests=ALL_TESTS, n_permutations=50, min_samples=10, alpha=0.05)
    if not repeated:
        assert result.verdict == "no_drift"
    flagged = [
        name for name, t in result.tests.items() if t.drift and not (repeated and name in TIE_DRAWN)
    ]
    assert flagged == []
    for name in ("centroid", "ks", "psi_norm", "frechet", "geometry"):
        assert result.tests[name].statistic == pytest.approx(0.0, abs=1e-9), name


@FAST
@given(pairs(min_rows=5), st.floats(0.0, 3.0), st.floats(0.1, 3.0))
def test_a_larger_shift_never_lowers_the_centroid_distance(
    data: tuple, small: float, extra: float
) -> None:
    ref, cur = data
    direction = np.ones(ref.shape[1]) / np.sqrt(ref.shape[1])
    a = centroid_test(ref, cur + small * direction, n_permutations=5)
    b = centroid_test(ref, cur + (small + extra) * direction, n_permutations=5)
    base = ref.mean(0) - cur.mean(0)
    if base @ direction <= 0:  # moving cur's mean away from ref's along the direction
        assert b.details["euclidean_distance"] >= a.details["euclidean_distance"] - 1e-12


@FAST
@given(pairs(min_rows=5, max_dim=2))
def test_same_seed_same_result_and_seed_is_recorded(data: tuple) -> None:
    ref, cur = data
    a = run_suite(ref, cur, n_permutations=30, seed=11, min_samples=5)
    b = run_suite(ref, cur, n_permutations=30, seed=11, min_samples=5)
    assert a.to_dict() == b.to_dict()
    assert {t.seed for t in a.tests.values()} <= {11, None}
