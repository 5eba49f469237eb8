"""The drift map: the horizontal axis shows a shift, and shows none where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.stats.drift_map import drift_map


def _topics(
    rng: np.random.Generator, n: int, centres: np.ndarray, weights: list[float]
) -> np.ndarray:
    labels = rng.choice(len(centres), size=n, p=weights)
    return centres[labels] + 0.35 * rng.standard_normal((n, centres.shape[1]))


@pytest.fixture
def centres() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((6, 64))


def test_a_new_topic_moves_right_and_nothing_else_does(centres: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    ref = _topics(rng, 400, centres[:5], [0.2] * 5)
    stable = _topics(rng, 300, centres[:5], [0.2] * 5)
    new = _topics(rng, 300, centres, [0.16] * 5 + [0.2])
    null_map = drift_map(ref, stable)
    shift_map = drift_map(ref, new)
    assert len(shift_map.x) == len(shift_map.y) == 700
    assert abs(null_map.separation) < 0.6
    assert shift_map.separation > 2.0
    # the new topic's points sit to the right of the reference
    right = np.quantile(shift_map.x[:400], 0.95)
    assert np.mean(shift_map.x[400:] > right) > 0.15


def test_identical_windows_fall_back_to_principal_axes(centres: np.ndarray) -> None:
    ref = _topics(np.random.default_rng(2), 50, centres, [1 / 6] * 6)
    m = drift_map(ref, ref)
    assert m.separation == 0.0
    assert "principal" in m.x_label


@pytest.mark.parametrize(
    "ref, cur",
    [
        pytest.param(np.zeros((1, 4)), np.zeros((3, 4)), id="one-reference-row"),
        pytest.param(np.zeros((3, 4)), np.zeros((3, 5)), id="dimensions-differ"),
        pytest.param(np.zeros((3, 4)), np.zeros((0, 4)), id="empty-current"),
    ],
)
def test_unusable_shapes_are_refused(ref: np.ndarray, cur: np.ndarray) -> None:
    with pytest.raises(ValueError, match="drift_map"):
        drift_map(ref, cur)


def test_zero_rows_do_not_divide_by_zero() -> None:
    rng = np.random.default_rng(3)
    ref = np.vstack([np.zeros((2, 8)), rng.standard_normal((20, 8))])
    m = drift_map(ref, rng.standard_normal((10, 8)) + 1.0)
    assert np.all(np.isfinite(m.x)) and np.all(np.isfinite(m.y))
