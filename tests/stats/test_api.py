"""The public front door of monitor.stats: exports, result records, JSON shapes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import monitor.stats as stats
from monitor.stats import (
    ALL_TESTS,
    DEFAULT_TESTS,
    PRIMARY_TESTS,
    InsufficientDataError,
    SuiteResult,
    TestResult,
    run_suite,
)

SUITE_KEYS = {
    "n_ref",
    "n_cur",
    "dim",
    "alpha",
    "seed",
    "drift",
    "verdict",
    "method",
    "tests",
    "explanation",
}
TEST_KEYS = {"statistic", "p_value", "threshold", "drift", "effect"}
DOCUMENTED_NAMES = {
    "mmd",
    "energy",
    "centroid",
    "ks",
    "classifier",
    "psi_norm",
    "psi_centroid_cosine",
    "frechet",
    "novelty",
}


def test_all_matches_public_names() -> None:
    public = {n for n in dir(stats) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(stats, n)).__name__ == "module"}
    assert set(stats.__all__) == public - modules - {"annotations"}
    for name in stats.__all__:
        assert getattr(stats, name) is not None


def test_test_names_cover_the_documented_json_names() -> None:
    assert DOCUMENTED_NAMES <= set(DEFAULT_TESTS) <= set(ALL_TESTS)
    assert set(PRIMARY_TESTS) <= set(DEFAULT_TESTS)


def test_insufficient_data_error_is_a_value_error() -> None:
    assert issubclass(InsufficientDataError, ValueError)


def test_suite_to_dict_is_the_compare_json_shape(rng: np.random.Generator) -> None:
    ref, cur = rng.standard_normal((60, 6)), rng.standard_normal((70, 6))
    result = run_suite(ref, cur, alpha=0.05, n_permutations=50, seed=3)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(data) == SUITE_KEYS
    assert (data["n_ref"], data["n_cur"], data["dim"], data["seed"]) == (60, 70, 6, 3)
    assert data["alpha"] == 0.05
    assert data["verdict"] in {"drift", "no_drift"}
    assert data["drift"] is (data["verdict"] == "drift")
    assert set(data["tests"]) == {*DEFAULT_TESTS, "knn", "isolation", "combined"}
    assert data["method"]["policy"] == "maxt-permutation"
    assert data["method"]["p_value"] == data["tests"]["combined"]["p_value"]
    for name, entry in data["tests"].items():
        assert TEST_KEYS <= set(entry), name
        assert entry["name"] == name
        assert isinstance(entry["drift"], bool)
        assert entry["p_value"] is None or 0.0 <= entry["p_value"] <= 1.0
    explanation = data["explanation"]
    assert explanation["k"] == len(explanation["clusters"]) >= 2
    for cluster in explanation["clusters"]:
        assert all(0 <= i < 70 for i in cluster["cur_examples"])
        assert all(0 <= i < 60 for i in cluster["ref_examples"])


def test_result_records_are_frozen(rng: np.random.Generator) -> None:
    result = run_suite(
        rng.standard_normal((60, 3)),
        rng.standard_normal((60, 3)),
        tests=["mmd"],
        n_permutations=20,
        explain=False,
    )
    assert isinstance(result, SuiteResult) and result.explanation is None
    mmd = result.tests["mmd"]
    assert isinstance(mmd, TestResult)
    with pytest.raises(AttributeError):
        mmd.statistic = 0.0  # type: ignore[misc]
    assert (mmd.name, mmd.n_ref, mmd.n_cur, mmd.seed) == ("mmd", 60, 60, 0)


def test_to_dict_turns_non_finite_numbers_into_null() -> None:
    result = TestResult(
        name="x",
        statistic=math.nan,
        p_value=None,
        threshold=math.inf,
        drift=False,
        effect=np.float32(0.5),
        effect_label="e",
        n_ref=1,
        n_cur=2,
        seed=None,
        details={"a": np.arange(2), "b": (np.float64(-math.inf), np.bool_(True))},
    )
    data = result.to_dict()
    assert data["statistic"] is None and data["threshold"] is None
    assert data["effect"] == 0.5 and isinstance(data["effect"], float)
    assert data["details"] == {"a": [0, 1], "b": [None, True]}
    json.dumps(data, allow_nan=False)


def test_to_dict_rejects_unserialisable_details() -> None:
    result = TestResult(
        name="x",
        statistic=0.0,
        p_value=None,
        threshold=None,
        drift=False,
        effect=None,
        effect_label="",
        n_ref=1,
        n_cur=1,
        seed=None,
        details={"bad": object()},
    )
    with pytest.raises(TypeError, match="cannot serialise object"):
        result.to_dict()
