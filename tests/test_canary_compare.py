"""monitor.stats.canary: every kind of silent model change is called, noise is not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.config import ModelSettings
from monitor.demo_data import canary_set
from monitor.providers import build_provider
from monitor.stats.canary import compare_to_baseline, noise_floor, rowwise_cosine


@pytest.fixture(scope="module")
def texts() -> list[str]:
    items, _ = canary_set(np.random.default_rng(3))
    return [i["text"] for i in items]


def _embed(texts: list[str], **kw: object) -> np.ndarray:
    settings = dataclasses.replace(ModelSettings(name="m"), **kw)  # type: ignore[arg-type]
    return build_provider(settings).embed(texts, "query").vectors


def test_rowwise_cosine_known_values() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0]])
    np.testing.assert_allclose(rowwise_cosine(a, b), [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="differ"):
        rowwise_cosine(a, b[:2])


def test_identical_embeddings_are_unchanged(texts: list[str]) -> None:
    base = _embed(texts)
    result = compare_to_baseline(base, _embed(texts), floor=1.0)
    assert result.verdict == "unchanged" and result.min_cosine == pytest.approx(1.0)


@pytest.mark.parametrize("variant", ["rotated", "quantized", "unnormalized", "other"])
def test_silent_changes_are_called_changed(texts: list[str], variant: str) -> None:
    base = _embed(texts)
    floor = noise_floor([base, _embed(texts), _embed(texts)])
    result = compare_to_baseline(base, _embed(texts, variant=variant), floor=floor)
    assert result.verdict == "changed", result.reasons
    assert result.reasons


def test_dimension_change_is_changed(texts: list[str]) -> None:
    result = compare_to_baseline(_embed(texts), _embed(texts, dimensions=128), floor=1.0)
    assert result.verdict == "changed"
    assert any("dimension" in r for r in result.reasons)


def test_noisy_endpoint_within_its_floor_is_noise_not_change(texts: list[str]) -> None:
    repeats = [_embed(texts, variant="noisy") for _ in range(3)]
    floor = noise_floor(repeats)
    assert 0.99 < floor < 1.0
    verdicts = {
        compare_to_baseline(repeats[0], _embed(texts, variant="noisy"), floor=floor).verdict
        for _ in range(20)
    }
    assert verdicts == {"noise"}
    # yet a real change on the same noisy endpoint is still caught
    changed = compare_to_baseline(repeats[0], _embed(texts, variant="other"), floor=floor)
    assert changed.verdict == "changed"


def test_input_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="same n"):
        compare_to_baseline(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        compare_to_baseline(np.ones((0, 2)), np.ones((0, 2)))
    with pytest.raises(ValueError, match="at least one"):
        noise_floor([])
