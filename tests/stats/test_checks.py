"""Invalid input raises ValueError naming the argument and problem; too few rows is separate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from monitor.stats import (
    InsufficientDataError,
    centroid_test,
    classifier_test,
    component_test,
    energy_test,
    explain,
    frechet_test,
    geometry_test,
    mmd_test,
    novelty_test,
    projection_test,
    run_suite,
)

GOOD = np.arange(12.0).reshape(6, 2) ** 1.5
ALL_ENTRY_POINTS: list[Callable[..., Any]] = [
    run_suite,
    mmd_test,
    energy_test,
    centroid_test,
    component_test,
    classifier_test,
    projection_test,
    frechet_test,
    geometry_test,
    novelty_test,
    explain,
]


def _nan() -> np.ndarray:
    x = GOOD.copy()
    x[2, 1] = np.nan
    return x


def _inf() -> np.ndarray:
    x = GOOD.copy()
    x[0, 0] = -np.inf
    return x


BAD_INPUTS = [
    pytest.param(_nan(), "contains NaN", id="nan"),
    pytest.param(_inf(), "contains inf", id="inf"),
    pytest.param(np.arange(5.0), "2-D array", id="one-dimensional"),
    pytest.param(np.zeros((2, 3, 2)), "2-D array", id="three-dimensional"),
    pytest.param(np.empty((0, 2)), "is empty", id="no-rows"),
    pytest.param(np.empty((4, 0)), "is empty", id="no-columns"),
    pytest.param(np.ones((6, 2)), "is constant", id="constant"),
    pytest.param(np.array([["a", "b"], ["c", "d"]]), "numeric", id="strings"),
    pytest.param([[1.0, 2.0], [3.0]], "rectangular", id="ragged"),
    pytest.param(np.ones((3, 2)) * 1j, "real-valued", id="complex"),
]


@pytest.mark.parametrize("func", ALL_ENTRY_POINTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("bad", "message"), BAD_INPUTS)
@pytest.mark.parametrize("side", ["ref", "cur"])
def test_bad_array_names_argument_and_problem(
    func: Callable[..., Any], bad: Any, message: str, side: str
) -> None:
    args = (bad, GOOD) if side == "ref" else (GOOD, bad)
    with pytest.raises(ValueError, match=message) as info:
        func(*args)
    assert not isinstance(info.value, InsufficientDataError)
    assert str(info.value).startswith(side)


@pytest.mark.parametrize("func", ALL_ENTRY_POINTS, ids=lambda f: f.__name__)
def test_dimension_mismatch(func: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="different dimensions: ref has d=2, cur has d=3"):
        func(GOOD, np.arange(18.0).reshape(6, 3))


def test_integer_and_float32_input_is_accepted() -> None:
    ints = np.arange(120).reshape(60, 2) % 7
    result = mmd_test(ints, ints[::-1].astype(np.float32) + 1, n_permutations=20)
    assert result.n_ref == result.n_cur == 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"alpha": 0.0}, "alpha must be in", id="alpha-zero"),
        pytest.param({"alpha": 1.0}, "alpha must be in", id="alpha-one"),
        pytest.param({"alpha": float("nan")}, "alpha must be in", id="alpha-nan"),
        pytest.param({"alpha": "0.1"}, "alpha must be a number", id="alpha-string"),
        pytest.param({"alpha": True}, "alpha must be a number", id="alpha-bool"),
        pytest.param({"n_permutations": 0}, "n_permutations must be >= 1", id="no-permutations"),
        pytest.param({"n_permutations": 2.5}, "n_permutations must be an integer", id="float-b"),
        pytest.param({"seed": -1}, "seed must be >= 0", id="negative-seed"),
        pytest.param({"min_samples": 1}, "min_samples must be >= 2", id="min-samples"),
        pytest.param({"tests": ["mmd", "nope"]}, "unknown test name.*'nope'", id="unknown-test"),
        pytest.param({"tests": []}, "tests is empty", id="empty-tests"),
        pytest.param({"tests": "mmd"}, "not a single string", id="string-tests"),
        pytest.param({"bandwidth": "wide"}, "bandwidth must be", id="bad-bandwidth"),
        pytest.param({"bandwidth": -1.0}, "bandwidth must be", id="negative-bandwidth"),
    ],
)
def test_bad_suite_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_suite(GOOD, GOOD + 1, **kwargs)


@pytest.mark.parametrize(
    ("func", "kwargs", "message"),
    [
        pytest.param(component_test, {"kind": "ad"}, "kind must be", id="kind"),
        pytest.param(component_test, {"basis": "ica"}, "basis must be", id="basis"),
        pytest.param(component_test, {"correction": "holm"}, "correction must be", id="correction"),
        pytest.param(component_test, {"n_components": 0}, "n_components must be", id="components"),
        pytest.param(classifier_test, {"n_folds": 1}, "n_folds must be >= 2", id="folds"),
        pytest.param(classifier_test, {"l2": 0.0}, "l2 must be a positive", id="l2"),
        pytest.param(projection_test, {"projection": "length"}, "projection must be", id="proj"),
        pytest.param(projection_test, {"bins": 1}, "bins must be >= 2", id="bins"),
        pytest.param(novelty_test, {"quantile": 0.0}, "quantile must be in", id="quantile"),
        pytest.param(explain, {"n_clusters": 0}, "n_clusters must be >= 1", id="clusters"),
        pytest.param(mmd_test, {"max_block": 3}, "max_block must be >= 8", id="max-block"),
    ],
)
def test_bad_test_parameters(
    func: Callable[..., Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        func(GOOD, GOOD + 1, **kwargs)


@pytest.mark.parametrize("func", ALL_ENTRY_POINTS[1:], ids=lambda f: f.__name__)
def test_single_test_with_one_row_is_insufficient_data(func: Callable[..., Any]) -> None:
    one = np.array([[1.0, 2.0]])
    if func is centroid_test:  # a mean exists for one row; the cosine is still defined
        assert func(one, GOOD).n_ref == 1
        return
    with pytest.raises(InsufficientDataError, match="needs at least 2 samples per side"):
        func(one, GOOD)


def test_suite_below_min_samples_is_insufficient_data_never_drift(
    rng: np.random.Generator,
) -> None:
    ref = rng.standard_normal((20, 3))
    far = rng.standard_normal((20, 3)) + 50.0
    result = run_suite(ref, far, min_samples=21)
    assert result.verdict == "insufficient_data" and not result.drift
    assert result.tests == {} and result.explanation is None
    assert result.to_dict()["tests"] == {}
    assert run_suite(ref, far, min_samples=20).verdict == "drift"
