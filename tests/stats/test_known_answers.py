"""Every statistic on tiny arrays worked out by hand, and against scipy where scipy has it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import linalg
from scipy import stats as sps
from scipy.spatial.distance import cdist, jensenshannon

from monitor.stats import (
    adjust_p_values,
    anisotropy,
    centroid_test,
    classifier_test,
    component_test,
    effective_rank,
    energy_test,
    frechet_distance,
    frechet_test,
    geometry_test,
    holm_adjust,
    js_divergence,
    mmd_test,
    novelty_test,
    projection_test,
    psi,
)
from monitor.stats.classifier import _u_statistic
from monitor.stats.novelty import precedence_pmf, precedence_sf
from monitor.stats.univariate import ks_statistics

REF_1D = np.array([[0.0], [1.0]])
CUR_1D = np.array([[0.0], [3.0]])


def test_mmd_by_hand_with_fixed_bandwidth() -> None:
    # k(x, y) = exp(-(x - y)^2 / 2); within ref k(0,1), within cur k(0,3), cross 4 pairs
    e = math.exp
    cross = (1 + e(-4.5) + e(-0.5) + e(-2.0)) / 4
    expected = e(-0.5) + e(-4.5) - 2 * cross
    result = mmd_test(REF_1D, CUR_1D, bandwidth=1.0, n_permutations=10)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.details["bandwidth"] == 1.0
    assert result.effect == 0.0  # negative MMD² reads as "no difference"


def test_mmd_median_bandwidth_by_hand() -> None:
    # pooled {0, 1, 0, 3}: distances 1, 0, 3, 1, 2, 3; the non-zero ones have median 2
    result = mmd_test(REF_1D, CUR_1D, n_permutations=10)
    assert result.details["bandwidth"] == pytest.approx(2.0)


def test_mmd_matches_brute_force_and_multi_bandwidth(rng: np.random.Generator) -> None:
    ref = rng.standard_normal((30, 4))
    cur = rng.standard_normal((25, 4)) + 0.3
    dist = cdist(np.vstack([ref, cur]), np.vstack([ref, cur]))
    h = np.median(dist[np.triu_indices(55, 1)])  # no duplicates: all distances > 0

    def unbiased(kernel: np.ndarray) -> float:
        kxx, kyy, kxy = kernel[:30, :30], kernel[30:, 30:], kernel[:30, 30:]
        return (
            (kxx.sum() - np.trace(kxx)) / (30 * 29)
            + (kyy.sum() - np.trace(kyy)) / (25 * 24)
            - 2 * kxy.mean()
        )

    rbf = np.exp(-(dist**2) / (2 * h * h))
    assert mmd_test(ref, cur).statistic == pytest.approx(unbiased(rbf), rel=1e-10)
    multi = np.mean([np.exp(-(dist**2) / (2 * (s * h) ** 2)) for s in (0.25, 0.5, 1, 2, 4)], 0)
    result = mmd_test(ref, cur, bandwidth="multi")
    assert result.statistic == pytest.approx(unbiased(multi), rel=1e-10)
    assert result.details["scales"] == [0.25, 0.5, 1.0, 2.0, 4.0]


def test_energy_by_hand() -> None:
    # cross distances 0, 3, 1, 2 (mean 1.5); within ref 1; within cur 3
    result = energy_test(REF_1D, CUR_1D, n_permutations=10)
    assert result.statistic == pytest.approx(2 * 1.5 - 1 - 3)
    assert result.details["mean_cross_distance"] == pytest.approx(1.5)
    assert result.effect == 0.0


def test_energy_matches_brute_force_and_scipy_in_one_dimension(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((40, 1)), rng.standard_normal((35, 1)) * 2
    dxy, dxx, dyy = cdist(x, y).mean(), cdist(x, x).sum() / (40 * 39), cdist(y, y).sum() / (35 * 34)
    result = energy_test(x, y)
    assert result.statistic == pytest.approx(2 * dxy - dxx - dyy, rel=1e-10)
    # scipy's 1-D energy distance is the V-statistic form, sqrt(2 E|X-Y| - E|X-X'| - E|Y-Y'|)
    v_stat = 2 * dxy - cdist(x, x).mean() - cdist(y, y).mean()
    assert sps.energy_distance(x[:, 0], y[:, 0]) == pytest.approx(math.sqrt(v_stat), rel=1e-10)
    assert result.effect == pytest.approx(result.statistic / (2 * dxy), rel=1e-10)


def test_centroid_by_hand() -> None:
    ref = np.array([[2.0, 0.0], [0.0, 2.0]])  # mean (1, 1)
    cur = np.array([[2.0, 0.0], [0.0, 0.0]])  # mean (1, 0)
    result = centroid_test(ref, cur, n_permutations=20)
    assert result.statistic == pytest.approx(1 - 1 / math.sqrt(2))
    assert result.details["euclidean_distance"] == pytest.approx(1.0)
    assert result.effect == pytest.approx(1 / math.sqrt(2))  # / RMS radius sqrt(2) of ref


def test_ks_per_raw_dimension_matches_scipy(rng: np.random.Generator) -> None:
    ref = rng.standard_normal((40, 3))
    cur = rng.standard_normal((30, 3)) + [2.0, 0.0, 0.0]
    result = component_test(ref, cur, basis="raw", alpha=0.05, correction="bonferroni")
    expected = sps.ks_2samp(ref, cur, axis=0, method="exact")
    np.testing.assert_allclose(result.details["statistics"], expected.statistic)
    np.testing.assert_allclose(result.details["p_values"], expected.pvalue)
    assert result.p_value == pytest.approx(min(1.0, 3 * expected.pvalue.min()))
    assert result.effect == pytest.approx(1 / 3)  # only the shifted dimension
    assert result.details["worst_component"] == 0 and result.drift


def test_cvm_matches_scipy(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((40, 2)), rng.standard_normal((30, 2))
    result = component_test(ref, cur, kind="cvm", basis="raw")
    expected = sps.cramervonmises_2samp(ref, cur, axis=0)
    np.testing.assert_allclose(result.details["p_values"], expected.pvalue)
    assert result.name == "cvm"


def test_vectorised_ks_matches_scipy_asymptotic_with_ties(rng: np.random.Generator) -> None:
    x = np.round(rng.standard_normal((700, 4)), 1)
    y = np.round(rng.standard_normal((800, 4)) + 0.1, 1)
    expected = sps.ks_2samp(x, y, axis=0, method="asymp")
    np.testing.assert_allclose(ks_statistics(x, y), expected.statistic, atol=1e-12)
    result = component_test(x, y, basis="raw")
    np.testing.assert_allclose(result.details["p_values"], expected.pvalue, rtol=1e-10)


def test_benjamini_hochberg_and_bonferroni_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.5]
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), [0.04, 0.16, 0.12, 1.0])
    random = np.random.default_rng(1).random(30)
    np.testing.assert_allclose(adjust_p_values(random), sps.false_discovery_control(random))
    assert adjust_p_values([]).size == 0
    with pytest.raises(ValueError, match="must lie in"):
        adjust_p_values([1.5])
    with pytest.raises(ValueError, match="1-D"):
        adjust_p_values([[0.1]])


def test_holm_by_hand() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []


def test_mann_whitney_u_matches_scipy_with_and_without_ties(rng: np.random.Generator) -> None:
    scores = rng.standard_normal((50, 4))
    is_ref = rng.random((50, 4)) < 0.4
    for s in (scores, np.round(scores)):
        u = _u_statistic(s.T, is_ref.T)
        expected = [
            sps.mannwhitneyu(s[~is_ref[:, j], j], s[is_ref[:, j], j]).statistic for j in range(4)
        ]
        np.testing.assert_allclose(u, expected)


def test_classifier_separable_samples_give_auc_one() -> None:
    grid = np.linspace(-1, 1, 40)[:, None] * [1.0, 0.5]
    result = classifier_test(
        grid, grid + [4.0, 0.0], n_permutations=99, alpha=0.05, sequential=False
    )
    assert result.statistic == 1.0 and result.effect == 1.0
    assert result.p_value == pytest.approx(1 / 100) and result.drift
    assert result.details["n_folds"] == 5


def test_psi_and_js_by_hand() -> None:
    r = np.array([50.5, 50.5]) / 101
    c = np.array([25.5, 75.5]) / 101
    assert psi([50, 50], [25, 75]) == pytest.approx(np.sum((c - r) * np.log(c / r)))
    assert psi([10, 20], [10, 20]) == 0.0
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_divergence([3, 3], [3, 3]) == 0.0
    assert js_divergence([1, 1], [1, 0]) == pytest.approx(
        jensenshannon([0.5, 0.5], [1.0, 0.0], base=2) ** 2
    )


def test_psi_norm_projection_by_hand() -> None:
    ref = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, 4.0]])  # norms 1..4
    cur = np.array([[0.0, 5.0], [6.0, 0.0], [0.0, 7.0], [8.0, 0.0]])  # norms 5..8
    result = projection_test(ref, cur, "norm", bins=2, n_permutations=50)
    assert result.details["ref_counts"] == [4, 0] and result.details["cur_counts"] == [0, 4]
    assert result.statistic == pytest.approx(psi([4, 0], [0, 4]))
    assert result.details["js_divergence"] == pytest.approx(1.0)
    assert result.name == "psi_norm"


def test_frechet_distance_closed_form() -> None:
    k, mu = 3, np.array([1.0, 2.0, 2.0])
    fd = frechet_distance(np.zeros(k), np.eye(k), mu, 4 * np.eye(k))
    assert fd == pytest.approx(9.0 + k * (1 + 4 - 2 * 2))
    g = np.random.default_rng(5)
    a, b = g.standard_normal((2, 4, 4))
    s1, s2 = a @ a.T + np.eye(4), b @ b.T
    expected = np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(expected)


def test_frechet_test_matches_plugin_estimate_on_full_rank_pca(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((60, 3)), rng.standard_normal((50, 3)) * 1.5 + 0.5
    result = frechet_test(ref, cur, n_permutations=50)
    # with all components kept the PCA is a rotation, which leaves the distance unchanged
    expected = frechet_distance(ref.mean(0), np.cov(ref.T), cur.mean(0), np.cov(cur.T))
    assert result.statistic == pytest.approx(float(expected), rel=1e-5)
    assert result.details["n_components"] == 3


def test_anisotropy_and_effective_rank_by_hand() -> None:
    assert anisotropy([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]) == pytest.approx(math.sqrt(2) / 3)
    assert effective_rank([[1.0, 1.0], [2.0, 2.0], [-1.0, -1.0]]) == pytest.approx(1.0)
    cross = np.vstack([np.eye(4), -np.eye(4)])  # covariance proportional to I
    assert effective_rank(cross) == pytest.approx(4.0)
    assert effective_rank(np.vstack([cross, cross])) == pytest.approx(4.0)


def test_geometry_reports_both_samples() -> None:
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    cur = np.array([[1.0, 0.0], [2.0, 0.1], [3.0, -0.1]])
    result = geometry_test(ref, cur, n_permutations=20)
    d = result.details
    assert d["anisotropy_ref"] == pytest.approx(math.sqrt(2) / 3)
    assert d["anisotropy_cur"] == pytest.approx(anisotropy(cur))
    assert result.statistic == pytest.approx(abs(d["anisotropy_cur"] - d["anisotropy_ref"]))
    assert d["norm_mean_ref"] == pytest.approx((2 + math.sqrt(2)) / 3)


def test_precedence_distribution_by_enumeration() -> None:
    # RRCC arrangements: C's before the first R = 0,0,0,1,1,2
    np.testing.assert_allclose(precedence_pmf(2, 2, 1), [1 / 2, 1 / 3, 1 / 6])
    np.testing.assert_allclose(precedence_sf(2, 2, 1), [1.0, 1 / 2, 1 / 6])
    for n, m, k in [(100, 100, 1), (500, 300, 5)]:
        expected = sps.nhypergeom.sf(np.arange(m + 1) - 1, n + m, m, k)
        np.testing.assert_allclose(precedence_sf(n, m, k), expected, atol=1e-12)
        assert precedence_pmf(n, m, k) @ np.arange(m + 1) == pytest.approx(m * k / (n + 1))


def test_novelty_counts_points_far_from_every_reference() -> None:
    angles = np.linspace(0, np.pi / 2, 50)
    ref = np.c_[np.cos(angles), np.sin(angles), np.zeros(50)]
    cur = ref.copy()
    cur[:5] = [0.0, 0.0, 1.0]  # orthogonal to every reference vector
    result = novelty_test(ref, cur, alpha=0.05)
    assert result.details["n_novel"] == 5 and result.statistic == pytest.approx(0.1)
    assert result.details["rank_k"] == 1
    assert result.details["expected_rate"] == pytest.approx(1 / 51)
    assert result.p_value == pytest.approx(float(sps.nhypergeom.sf(4, 100, 50, 1)))
    assert result.drift
