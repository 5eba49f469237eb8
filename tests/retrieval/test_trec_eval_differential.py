"""Differential check against a ``trec_eval`` binary, when one is on PATH (skipped otherwise).

Random runs with many score ties, graded and negative judgements, relevant
documents never retrieved and judged queries without a relevant document; our
``no_relevant="zero"`` rule is trec_eval's. trec_eval prints 4 decimals, hence
the tolerance.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from monitor.stats.retrieval import evaluate_run

TREC_EVAL = shutil.which("trec_eval")
PAIRS = (
    [(f"P_{k}", f"precision@{k}") for k in (1, 5, 10)]
    + [
        (f"{t}_{k}", f"{m}@{k}")
        for t, m in (("recall", "recall"), ("ndcg_cut", "ndcg"), ("success", "hit"))
        for k in (1, 5, 10)
    ]
    + [("map", "map")]
)


@pytest.mark.skipif(TREC_EVAL is None, reason="trec_eval is not on PATH")
@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_trec_eval(tmp_path: Path, seed: int) -> None:
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
    (tmp_path / "qrels").write_text(
        "".join(f"{q} 0 {d} {r}\n" for q, m in qrels.items() for d, r in m.items())
    )
    (tmp_path / "run").write_text(
        "".join(
            f"{q} Q0 {d} {i} {s} r\n" for q, m in run.items() for i, (d, s) in enumerate(m.items())
        )
    )
    measures = [
        "-m",
        "P.1,5,10",
        "-m",
        "recall.1,5,10",
        "-m",
        "ndcg_cut.1,5,10",
        "-m",
        "map",
        "-m",
        "success.1,5,10",
        "-m",
        "recip_rank",
        "-m",
        "num_q",
    ]
    out = subprocess.run(
        [str(TREC_EVAL), *measures, str(tmp_path / "qrels"), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = {line.split()[0]: float(line.split()[2]) for line in out.stdout.splitlines()}
    ours = evaluate_run(run, qrels, ks=(1, 5, 10), no_relevant="zero")
    assert ours.n_queries == theirs["num_q"]
    for their_key, our_key in PAIRS:
        assert ours.metrics[our_key] == pytest.approx(theirs[their_key], abs=6e-5), their_key
    uncut = evaluate_run(run, qrels, ks=(1000,), no_relevant="zero")
    assert uncut.metrics["mrr@1000"] == pytest.approx(theirs["recip_rank"], abs=6e-5)
