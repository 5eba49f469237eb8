"""The verdict on real text: manual-page paragraphs embedded by multilingual-e5-small.

The fixture ``data/realtext_slice.npz`` is a float16 slice of the corpus of
``benchmarks/realtext_corpus.py`` (up to 250 paragraphs per topic, 12 topics,
384 dimensions, no texts). The full benchmark is ``benchmarks/realtext_bench.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.stats import run_suite

DATA = Path(__file__).parent / "data" / "realtext_slice.npz"
ALPHA = 0.05


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA, allow_pickle=False) as f:
        return f["emb"].astype(np.float32), f["topic"].astype(int)


def _verdict(ref: np.ndarray, cur: np.ndarray, seed: int) -> bool:
    # "mmd" in the selection is enough for the combined verdict (mmd, knn, isolation)
    result = run_suite(
        ref, cur, alpha=ALPHA, n_permutations=300, seed=seed, tests=["mmd"], explain=False
    )
    assert result.policy == "maxt-permutation"
    return result.drift


def test_fixture_is_real_embeddings(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    emb, topic = corpus
    assert emb.shape[1] == 384 and emb.shape[0] >= 2000
    assert len(np.unique(topic)) >= 8
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=2e-3)
    # topics are real structure: same-topic pairs are closer than cross-topic pairs
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(emb), (2, 4000))
    cos = np.einsum("ij,ij->i", emb[i], emb[j])
    same = topic[i] == topic[j]
    assert cos[same].mean() > cos[~same].mean() + 0.005


@pytest.mark.slow
def test_null_pairs_of_real_text_rarely_alarm(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    emb, _ = corpus
    rng = np.random.default_rng(1)
    alarms = 0
    for seed in range(10):
        order = rng.permutation(len(emb))
        alarms += _verdict(emb[order[:200]], emb[order[200:400]], seed)
    # P(>= 3 of 10 | size 0.05) = 0.012
    assert alarms <= 2


@pytest.mark.slow
def test_a_new_topic_at_20_percent_is_found_at_n_500(
    corpus: tuple[np.ndarray, np.ndarray],
) -> None:
    emb, topic = corpus
    rng = np.random.default_rng(2)
    topics = [t for t in np.unique(topic) if (topic == t).sum() >= 100]
    hits = 0
    for seed in range(4):
        new = topics[seed % len(topics)]
        others = rng.permutation(np.flatnonzero(topic != new))
        fresh = rng.permutation(np.flatnonzero(topic == new))[:100]
        hits += _verdict(emb[others[:500]], emb[np.concatenate([others[500:900], fresh])], seed)
    assert hits >= 3
