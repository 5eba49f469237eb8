"""Differential check against trec_eval's own code, through pytrec_eval (pytrec-eval-terrier).

Random runs with many score ties, graded and negative judgements, relevant
documents never retrieved and judged queries without a relevant document; our
``no_relevant="zero"`` rule is trec_eval's. pytrec_eval gives trec_eval's
per-query values unrounded; their mean over the judged queries of the run is
trec_eval's summary line.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from monitor.stats.retrieval import evaluate_run

PAIRS = (
    [(f"P_{k}", f"precision@{k}") for k in (1, 5, 10)]
    + [
        (f"{t}_{k}", f"{m}@{k}")
        for t, m in (("recall", "recall"), ("ndcg_cut", "ndcg"), ("success", "hit"))
        for k in (1, 5, 10)
    ]
    + [("map", "map")]
)
MEASURES = {"P.1,5,10", "recall.1,5,10", "ndcg_cut.1,5,10", "map", "success.1,5,10", "recip_rank"}


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_trec_eval(seed: int) -> None:
    rng = np.random.default_rng(seed)
    docs = [f"d{rng.integers(0, 1000)}x{i}" for i in range(30)]
    run: dict[str, dict[str, float]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in range(15):
        chosen = rng.choice(30, int(rng.integers(1, 30)), replace=False)
        run[f"q{q}"] = {docs[c]: float(rng.integers(0, 4)) / 2 for c in chosen}
        if rng.random() < 0.85:
            judged = rng.choice(35, int(rng.integers(1, 12)), replace=False)
            grades = {(docs[j] if j < 30 else f"gone{j}"): int(rng.integers(-1, 4)) for j in judged}
            grades[docs[0]] = max(grades.get(docs[0], 0), 0)  # all-negative qrels crash trec_eval
            qrels[f"q{q}"] = grades
    per_query = pytrec_eval.RelevanceEvaluator(qrels, MEASURES).evaluate(run)
    theirs = {
        measure: float(np.mean([values[measure] for values in per_query.values()]))
        for measure in next(iter(per_query.values()))
    }
    ours = evaluate_run(run, qrels, ks=(1, 5, 10), no_relevant="zero")
    assert ours.n_queries == len(per_query)
    for their_key, our_key in PAIRS:
        assert ours.metrics[our_key] == pytest.approx(theirs[their_key], abs=1e-9), their_key
    uncut = evaluate_run(run, qrels, ks=(1000,), no_relevant="zero")
    assert uncut.metrics["mrr@1000"] == pytest.approx(theirs["recip_rank"], abs=1e-9)
