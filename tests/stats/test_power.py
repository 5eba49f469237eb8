"""Power: a new topic that is a small share of current traffic is found.

Reference traffic comes from 8 topics (unit vectors around random centres,
same-topic cosine about 0.7); a share p of the current window comes from a
ninth, unseen topic. The floors are what the detection benchmark
(benchmarks/detection_bench.py) measures with margin to spare.
"""

from __future__ import annotations

import numpy as np
import pytest
from stats_data import topics

from monitor.stats import DEFAULT_TESTS, PRIMARY_TESTS, novelty_test, run_suite

REPS = 5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("share", "tests"),
    [
        pytest.param(0.1, DEFAULT_TESTS, id="10%-full-suite"),
        # only the verdict family decides; the diagnostics are skipped to save time
        pytest.param(0.05, PRIMARY_TESTS, id="5%-verdict-family"),
    ],
)
def test_suite_verdict_finds_a_new_topic(share: float, tests: tuple[str, ...]) -> None:
    sample = topics(32)
    rng = np.random.default_rng(5)
    hits = 0
    for seed in range(REPS):
        result = run_suite(sample(rng, 1000), sample(rng, 1000, new=share), seed=seed, tests=tests)
        hits += result.drift
        if result.drift and result.explanation is not None:
            # the emerging group is the new topic (cur rows 0 .. share * 1000 - 1)
            group = result.explanation.emerging[0]
            assert np.mean(np.array(group.members) < share * 1000) > 0.9
    assert hits / REPS >= 0.8


@pytest.mark.slow
def test_novelty_finds_two_percent_at_n_1000() -> None:
    sample = topics(32)
    rng = np.random.default_rng(6)
    hits = sum(
        novelty_test(sample(rng, 1000), sample(rng, 1000, new=0.02), seed=s).drift
        for s in range(REPS)
    )
    assert hits / REPS >= 0.8


def test_no_topic_no_alarm() -> None:
    sample = topics(32)
    rng = np.random.default_rng(7)
    assert not run_suite(sample(rng, 300), sample(rng, 300), seed=1).drift
