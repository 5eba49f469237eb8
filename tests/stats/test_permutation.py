"""Permutation machinery: seeded batches, strata, Besag-Clifford stopping, p-value formulas."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.stats import mmd_test
from monitor.stats.permutation import (
    Permuter,
    besag_clifford_h,
    early_rejection_look,
    outcome_from_null,
    permutation_test,
    two_stage_p_value,
)


def test_batches_end_at_the_early_looks_and_only_the_last_is_truncated() -> None:
    assert Permuter.schedule(1000) == [
        (0, 39),
        (1, 40),
        (2, 120),
        (3, 256),
        (4, 256),
        (5, 256),
        (6, 33),
    ]
    ends = np.cumsum([size for _, size in Permuter.schedule(1000)])
    for alpha in (0.05, 0.01):  # a test that rejects at its look evaluates nothing beyond it
        assert early_rejection_look(alpha, 1000) in ends
    assert Permuter.schedule(10) == [(0, 10)]
    assert Permuter.schedule(0) == []


def test_batches_mark_exactly_n_ref_rows_and_depend_only_on_seed_and_index() -> None:
    a = Permuter(7, 5, seed=3)
    b = Permuter(7, 5, seed=3)
    first = a.batch(1, 64)
    assert first.shape == (12, 64) and (first.sum(axis=0) == 7).all()
    b.batch(0, 32)  # consuming another batch first changes nothing
    np.testing.assert_array_equal(b.batch(1, 10), first[:, :10])
    assert not np.array_equal(Permuter(7, 5, seed=4).batch(1, 64), first)
    assert a.observed()[:, 0].tolist() == [True] * 7 + [False] * 5


def test_permutations_are_uniform_over_labellings() -> None:
    batch = Permuter(2, 2, seed=0).batch(3, 256)
    hits = batch.mean(axis=1)
    assert hits == pytest.approx([0.5] * 4, abs=0.08)


def test_strata_keep_their_ref_count() -> None:
    strata = [np.array([0, 1, 5, 6, 7]), np.array([2, 3, 4, 8, 9])]
    batch = Permuter(5, 5, seed=1, strata=strata).batch(2, 128)
    assert (batch[strata[0]].sum(axis=0) == 2).all()
    assert (batch[strata[1]].sum(axis=0) == 3).all()


def test_full_permutation_p_value_counts_ties_and_never_returns_zero() -> None:
    out = outcome_from_null(2.0, np.array([1.0, 2.0, 3.0, 0.5]), stop_after=None)
    assert out.p_value == pytest.approx((1 + 2) / (1 + 4))
    assert out.exceedances == 2 and out.n_used == 4
    assert outcome_from_null(9.0, np.zeros(99), stop_after=None).p_value == pytest.approx(0.01)


def test_besag_clifford_stops_at_the_h_th_exceedance() -> None:
    null = np.array([5.0, 0.0, 6.0, 7.0, 0.0, 8.0, 9.0])
    out = outcome_from_null(4.0, null, stop_after=3)
    assert (out.n_used, out.exceedances, out.p_value) == (4, 3, 3 / 4)
    assert out.null.tolist() == [5.0, 0.0, 6.0, 7.0]
    # never reaching h falls back to the full-sample formula
    assert outcome_from_null(100.0, null, stop_after=3).p_value == pytest.approx(1 / 8)


def test_besag_clifford_h_keeps_the_verdict_of_all_permutations() -> None:
    assert besag_clifford_h(0.01, 1000) == 20
    assert besag_clifford_h(0.05, 1000) == 51
    h = besag_clifford_h(0.05, 200)
    assert h / 200 > 0.05  # an early stop always reports p > alpha


def test_sequential_and_batched_evaluation_agree() -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal(12)
    permuter = Permuter(6, 6, seed=9)

    def mean_diff(a: np.ndarray) -> np.ndarray:
        return values @ a / 6 - values @ ~a / 6

    seq = permutation_test(0.3, mean_diff, permuter, 500, stop_after=None)
    batches = np.concatenate([mean_diff(permuter.batch(j, s)) for j, s in permuter.schedule(500)])
    assert seq.null == pytest.approx(batches)
    assert outcome_from_null(0.3, batches, stop_after=None).p_value == seq.p_value


def test_mmd_stops_early_when_nothing_changed_and_not_when_it_did(
    rng: np.random.Generator,
) -> None:
    ref = rng.standard_normal((80, 4))
    same = mmd_test(ref, rng.standard_normal((80, 4)), n_permutations=1000)
    assert same.details["n_permutations_used"] < 300 and not same.drift
    moved = mmd_test(ref, rng.standard_normal((80, 4)) + 1.0, n_permutations=1000)
    # drift stops at the early rejection look (199 permutations at alpha 0.01)
    assert moved.details["n_permutations_used"] == 199
    assert moved.p_value == pytest.approx(1 / 200) and moved.drift
    full = mmd_test(ref, rng.standard_normal((80, 4)), n_permutations=300, sequential=False)
    assert full.details["n_permutations_used"] == 300


@pytest.mark.parametrize("alpha", [0.01, 0.02, 0.05, 0.1])
def test_the_two_stage_design_keeps_its_level_exactly(alpha: float) -> None:
    # under the null the observed statistic's quantile u is uniform and each
    # permutation exceeds it with probability u: integrate the rejection chance
    from scipy import integrate, stats

    big = 1000
    look = early_rejection_look(alpha, big)
    assert look is not None and 1 / (look + 1) <= alpha / 2
    c_max = max(c for c in range(big) if two_stage_p_value(c, look, big) <= alpha)

    def reject(u: float) -> float:
        early = (1 - u) ** look
        late = stats.binom.cdf(c_max, big, u)
        both = early * stats.binom.cdf(c_max, big - look, u)
        return float(early + late - both)

    size = integrate.quad(reject, 0, 1, limit=200, points=[c_max / big])[0]
    assert alpha * 0.9 < size <= alpha + 1e-9
    # the look costs little at the margin: a p-value of 0.85 alpha still rejects
    assert (c_max + 1) / (big + 1) >= 0.85 * alpha
