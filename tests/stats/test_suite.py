"""run_suite: combined-verdict policy, shared work, blocked mode, explanation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from stats_data import topics

from monitor.stats import (
    ALL_TESTS,
    DEFAULT_TESTS,
    PRIMARY_TESTS,
    classifier_test,
    energy_test,
    explain,
    mmd_test,
    novelty_test,
    run_suite,
)


def test_verdict_is_the_combined_permutation_test(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((80, 5)), rng.standard_normal((80, 5)) + 0.4
    result = run_suite(ref, cur, alpha=0.05, n_permutations=200)
    combined = result.tests["combined"]
    assert result.policy == "maxt-permutation"
    assert result.method is not None
    assert result.method["components"] == ["mmd", "knn", "isolation"]
    assert result.method["p_value"] == combined.p_value
    assert result.drift == (combined.p_value <= 0.05)
    assert result.drift
    # every component keeps its own p-value; mmd's is its own test's
    for name in ("mmd", "knn", "isolation", "novelty", "classifier"):
        assert result.tests[name].p_value is not None
    assert combined.details["components"]["mmd"]["statistic"] == pytest.approx(
        result.tests["mmd"].statistic
    )
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["method"]["policy"] == "maxt-permutation"
    assert data["tests"]["combined"]["p_value"] == combined.p_value


def test_diagnostic_flags_alone_do_not_make_drift() -> None:
    # a pure scale change of the norms: psi_norm sees it; the verdict follows the combined test
    g = np.random.default_rng(4)
    ref = g.standard_normal((200, 8))
    cur = ref[::-1] * 1.02
    result = run_suite(ref, cur, alpha=0.05, n_permutations=200)
    assert result.drift == (result.tests["combined"].p_value <= 0.05)


def test_combined_stops_early_both_ways(rng: np.random.Generator) -> None:
    ref = rng.standard_normal((150, 6))
    same = run_suite(ref, rng.standard_normal((150, 6)), alpha=0.05, seed=2, explain=False)
    moved = run_suite(ref, rng.standard_normal((150, 6)) + 0.8, alpha=0.05, seed=2, explain=False)
    assert same.tests["combined"].details["n_permutations_used"] < 1000
    assert moved.drift
    assert moved.tests["combined"].details["n_permutations_used"] == 39  # the early look
    assert moved.tests["combined"].p_value == pytest.approx(1 / 40)


def test_every_permutation_test_stops_early_both_ways(rng: np.random.Generator) -> None:
    # a drift run should cost about what a quiet one does: no test of the default
    # suite runs all its permutations, and each one that rejects stops at the look
    ref = rng.standard_normal((150, 6))
    same = run_suite(ref, rng.standard_normal((150, 6)), alpha=0.05, seed=3, explain=False)
    moved = run_suite(
        ref, rng.standard_normal((150, 6)) * 1.3 + 0.8, alpha=0.05, seed=3, explain=False
    )
    permuted = {n for n, t in moved.tests.items() if "n_permutations_used" in t.details}
    assert {"mmd", "energy", "centroid", "psi_norm", "geometry", "classifier"} <= permuted
    for result in (same, moved):
        for name in permuted:
            t = result.tests[name]
            # only a p-value near alpha needs every permutation to decide
            near_alpha = 0.01 < t.p_value < 0.06  # type: ignore[operator]
            assert t.details["n_permutations_used"] < 1000 or near_alpha, name
    for name in ("mmd", "energy", "centroid", "psi_norm", "geometry"):  # clear rejections
        assert moved.tests[name].details["n_permutations_used"] == 39, name
        assert moved.tests[name].p_value == pytest.approx(1 / 40), name


def test_a_verdict_that_rejects_at_the_look_draws_no_permutation_beyond_it(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.stats.permutation import CALIBRATION_STREAM, Permuter

    drawn: list[int] = []
    batch = Permuter.batch

    def spy(self: Permuter, j: int, size: int) -> np.ndarray:
        if self.stream != CALIBRATION_STREAM:  # the verdict's own permutations
            drawn.append(j)
        return batch(self, j, size)

    monkeypatch.setattr(Permuter, "batch", spy)
    ref = rng.standard_normal((150, 6))
    moved = run_suite(ref, ref[::-1] + 0.8, alpha=0.05, tests=["mmd"], explain=False)
    assert moved.drift and moved.tests["combined"].details["n_permutations_used"] == 39
    ends = np.cumsum([size for _, size in Permuter.schedule(1000)])
    assert ends[max(drawn)] == 39  # the look ends a batch; nothing after it was drawn


def test_the_knn_graph_does_not_depend_on_the_threads(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.stats import _knn
    from monitor.stats._workspace import Workspace

    # 1,300 pooled rows: three blocks; repeated rows exercise the per-block tie jitter
    base = rng.standard_normal((500, 8))
    ref, cur = np.concatenate([base, base[:150]]), rng.standard_normal((650, 8))
    graphs = []
    for workers in (1, 2, 4):
        monkeypatch.setattr(_knn, "_WORKERS", workers)
        graphs.append(_knn.knn_graph(Workspace(ref, cur, seed=5)).index)
    assert (graphs[0] == graphs[1]).all() and (graphs[0] == graphs[2]).all()


def test_the_bandwidth_read_off_the_gram_matrix_is_the_direct_one(
    rng: np.random.Generator,
) -> None:
    from monitor.stats._neighbours import gram_for_neighbours
    from monitor.stats._workspace import Workspace
    from monitor.stats.distances import resolve_bandwidth

    ref = rng.standard_normal((300, 16)).astype(np.float32) + 3.0  # a large shared mean
    cur = np.concatenate([ref[:200], rng.standard_normal((100, 16)).astype(np.float32) + 3.0])
    direct = resolve_bandwidth(Workspace(ref, cur, seed=1), "median")[0]
    ws = Workspace(ref, cur, seed=1)
    gram_for_neighbours(ws)
    assert ws.has("gram")
    assert resolve_bandwidth(ws, "median")[0] == pytest.approx(direct, rel=1e-5)


def test_without_mmd_holm_decides(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((80, 5)), rng.standard_normal((80, 5)) + 0.4
    result = run_suite(ref, cur, tests=PRIMARY_TESTS[1:], alpha=0.05, n_permutations=200)
    family = [n for n in result.tests if result.tests[n].details.get("in_verdict")]
    assert set(family) == set(PRIMARY_TESTS[1:])
    ps = sorted(result.tests[n].p_value for n in family)
    assert result.policy == "holm-primary"
    assert result.drift == (min(1.0, 2 * ps[0]) <= 0.05)


def test_without_primary_tests_holm_covers_the_selected_tests(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((60, 3)), rng.standard_normal((60, 3)) + 1.0
    result = run_suite(ref, cur, tests=["energy", "ks"], alpha=0.05, n_permutations=100)
    assert list(result.tests) == ["energy", "ks"]
    assert all(t.details["in_verdict"] for t in result.tests.values())
    assert result.drift


def test_single_tests_equal_their_suite_counterparts(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((70, 6)), rng.standard_normal((90, 6)) * 1.1
    suite = run_suite(ref, cur, n_permutations=300, seed=5, tests=ALL_TESTS)
    for single in (mmd_test, energy_test, classifier_test):
        alone = single(ref, cur, n_permutations=300, seed=5)
        assert alone.statistic == pytest.approx(suite.tests[alone.name].statistic, rel=1e-10)
        assert alone.p_value == suite.tests[alone.name].p_value
    nov = novelty_test(ref, cur, seed=5)
    assert nov.p_value == suite.tests["novelty"].p_value
    assert explain(ref, cur, seed=5).to_dict() == suite.explanation.to_dict()


def test_seed_makes_results_reproducible(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((60, 4)), rng.standard_normal((60, 4))
    a = run_suite(ref, cur, seed=1, n_permutations=100).to_dict()
    assert a == run_suite(ref, cur, seed=1, n_permutations=100).to_dict()
    b = run_suite(ref, cur, seed=2, n_permutations=100).to_dict()
    assert a["tests"]["mmd"]["statistic"] == b["tests"]["mmd"]["statistic"]
    assert a["tests"]["mmd"]["p_value"] != b["tests"]["mmd"]["p_value"]


def test_default_tests_skip_only_cvm(rng: np.random.Generator) -> None:
    result = run_suite(
        rng.standard_normal((60, 3)), rng.standard_normal((60, 3)), n_permutations=50
    )
    assert tuple(result.tests) == (*DEFAULT_TESTS, "knn", "isolation", "combined")
    assert set(ALL_TESTS) - set(DEFAULT_TESTS) == {"cvm"}


def test_multi_bandwidth_suite(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((60, 3)), rng.standard_normal((60, 3)) * 2
    result = run_suite(ref, cur, tests=["mmd"], bandwidth="multi", n_permutations=200)
    assert len(result.tests["mmd"].details["scales"]) == 5 and result.drift


@pytest.mark.parametrize("shift", [pytest.param(0.0, id="null"), pytest.param(0.8, id="shift")])
def test_blocked_mode_bounds_the_matrix_and_keeps_its_answer(shift: float) -> None:
    g = np.random.default_rng(8)
    ref, cur = g.standard_normal((150, 4)), g.standard_normal((150, 4)) + shift
    whole = mmd_test(ref, cur, n_permutations=200, alpha=0.05)
    blocked = mmd_test(ref, cur, n_permutations=200, alpha=0.05, max_block=100)
    assert (whole.details["strata"], blocked.details["strata"]) == (1, 6)
    assert blocked.drift == whole.drift == (shift > 0)
    assert blocked.statistic == pytest.approx(whole.statistic, abs=0.02)
    suite = run_suite(ref, cur, n_permutations=100, alpha=0.05, max_block=100)
    assert suite.tests["energy"].details["strata"] == 6
    assert suite.drift == (shift > 0)


def test_explanation_points_at_the_new_topic() -> None:
    sample = topics(24)
    g = np.random.default_rng(2)
    ref = sample(g, 400)
    cur = sample(g, 400, new=0.1)  # rows 0..39 of cur are the new topic
    result = run_suite(ref, cur, n_permutations=200)
    assert result.drift
    ex = result.explanation
    assert ex is not None and ex.novel_share >= 0.08
    top = ex.emerging[0]
    assert top.size >= 30
    assert set(top.cur_examples) <= set(range(40))
    assert sum(i < 40 for i in top.members) >= 0.9 * len(top.members)
    assert all(0 <= i < 400 for i in top.nearest_ref)
    assert top.max_cosine_to_ref < ex.novelty_threshold + 0.3
    data = json.loads(json.dumps(ex.to_dict(), allow_nan=False))
    assert data["emerging"][0]["cur_examples"] == list(top.cur_examples)


def test_explanation_flags_a_reference_topic_that_grew() -> None:
    sample = topics(24, k=4, seed=5)
    g = np.random.default_rng(3)
    ref = sample(g, 400)
    cur = sample(g, 400)
    cur[:120] = ref[np.argsort(-(ref @ ref[0]))[:120]]  # triple one topic's share
    result = explain(ref, cur, n_clusters=4, alpha=0.01)
    grew = [c for c in result.clusters if c.status == "grew"]
    assert len(grew) == 1 and grew[0].ratio is not None and grew[0].ratio > 1.5
    assert result.p_value < 1e-3
    assert all(cur[i] @ ref[0] > 0.5 for i in grew[0].cur_examples)
    assert {c.status for c in result.clusters} <= {"grew", "shrank", "stable"}


@pytest.mark.parametrize("alpha", [0.01, 0.05])
@pytest.mark.parametrize(
    ("tests", "max_block", "family"),
    [
        pytest.param(["classifier", "novelty"], 4096, 2, id="holm-primary"),
        pytest.param(["energy", "centroid", "ks", "psi_norm", "frechet"], 4096, 5, id="holm-all"),
        pytest.param(None, 100, 2, id="blocked-holm-mmd"),
    ],
)
def test_an_early_rejection_survives_the_verdicts_holm_step(
    tests: list[str] | None, max_block: int, family: int, alpha: float
) -> None:
    # a test stopped at its look reports p = 1 / (L + 1); when the verdict multiplies
    # p-values by the family size (Holm) the look must spend alpha / (2 family)
    from monitor.stats.permutation import early_rejection_look

    g = np.random.default_rng(11)
    ref = g.standard_normal((150, 5))
    cur = g.standard_normal((150, 5)) * 1.3 + 1.0
    result = run_suite(ref, cur, alpha=alpha, tests=tests, max_block=max_block, explain=False)
    assert result.drift and result.method is not None and result.method["p_value"] <= alpha
    # (no look at all when that is beyond half of the permutations: all 1000 run)
    look = early_rejection_look(alpha, 1000, family) or 1000
    stopped = [
        t
        for t in result.tests.values()
        if t.details.get("n_permutations_used") == look
        and t.p_value == pytest.approx(1 / (look + 1))
    ]
    assert stopped  # the clear rejections stopped at the family's look
