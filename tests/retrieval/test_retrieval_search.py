"""Exact cosine search: brute-force agreement, chunking, ties, bounded memory, Matryoshka."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from monitor.stats.retrieval import evaluate, matryoshka, search


def _brute_force(q: np.ndarray, d: np.ndarray, ids: list[str], k: int) -> list[list[int]]:
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-300)
    dn = d / np.linalg.norm(d, axis=1, keepdims=True)
    s = qn @ dn.T
    return [
        sorted(range(len(d)), key=lambda j, r=r: (s[r, j], ids[j]), reverse=True)[:k]
        for r in range(len(q))
    ]


def test_matches_brute_force_with_duplicates_and_zero_queries() -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((60, 8))
    d = rng.standard_normal((500, 8))
    d[100:140] = d[7]  # 41 identical documents: a tie group straddling every cut
    q[:2] = 0.0  # zero queries: every document ties at 0
    q[2:6] = d[7]  # queries whose best 41 documents tie
    ids = [f"doc{rng.integers(0, 10**6)}-{i}" for i in range(500)]
    expected = _brute_force(q, d, ids, 30)
    for qc, dc in [(512, 8192), (7, 33), (2, 3), (60, 499)]:
        idx, scores = search(q, d, 30, doc_ids=ids, query_chunk=qc, doc_chunk=dc)
        assert idx.tolist() == expected, (qc, dc)
        assert np.all(np.diff(scores, axis=1) <= 0)


def test_ties_by_row_index_descending_without_ids() -> None:
    d = np.ones((5, 3))
    idx, scores = search(np.ones((1, 3)), d, 3, doc_chunk=2)
    assert idx.tolist() == [[4, 3, 2]]
    assert scores == pytest.approx(np.ones((1, 3)))
    # every block ties everywhere: more candidates than pruning admits
    idx, _ = search(np.ones((2, 3)), np.ones((50, 3)), 2, doc_chunk=16)
    assert idx.tolist() == [[49, 48], [49, 48]]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param((np.ones(3), np.ones((2, 3)), 1), "2-D", id="1-d"),
        pytest.param((np.ones((1, 3), dtype=bool), np.ones((2, 3)), 1), "numeric", id="bool"),
        pytest.param((np.ones((1, 3)), np.ones((2, 3)), 0), "k must", id="k-zero"),
        pytest.param((np.ones((1, 3)), np.full((2, 3), np.inf), 1), "inf", id="inf"),
    ],
)
def test_search_rejects_bad_input(args: tuple[object, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        search(*args)  # type: ignore[arg-type]


def test_chunked_equals_unchunked_float32() -> None:
    rng = np.random.default_rng(2)
    q = rng.standard_normal((300, 32), dtype=np.float32)
    d = rng.standard_normal((3000, 32), dtype=np.float32)
    full_i, full_s = search(q, d, 25, query_chunk=300, doc_chunk=3000)
    part_i, part_s = search(q, d, 25, query_chunk=64, doc_chunk=256)
    assert (full_i == part_i).all()
    assert part_s == pytest.approx(full_s, abs=1e-6)


def test_k_larger_than_a_block_and_than_the_collection() -> None:
    rng = np.random.default_rng(3)
    q, d = rng.standard_normal((5, 4)), rng.standard_normal((50, 4))
    ids = [f"{i:03d}" for i in range(50)]
    idx, _ = search(q, d, 40, doc_ids=ids, doc_chunk=16)
    assert idx.tolist() == _brute_force(q, d, ids, 40)
    idx, scores = search(q, d, 80, doc_chunk=16)
    assert idx.shape == scores.shape == (5, 50)


def test_large_search_stays_within_block_memory() -> None:
    # a dense 2000 x 20000 float32 score matrix would take 160 MB
    rng = np.random.default_rng(4)
    d = rng.standard_normal((20_000, 64), dtype=np.float32)
    q = d[rng.integers(0, 20_000, 2000)] + 0.1 * rng.standard_normal((2000, 64), dtype=np.float32)
    tracemalloc.start()
    try:
        idx, scores = search(q, d, 10, query_chunk=256, doc_chunk=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"
    assert idx.shape == (2000, 10)
    sample = rng.choice(2000, 20, replace=False)
    exact = _brute_force(
        q[sample].astype(np.float64), d.astype(np.float64), [str(i) for i in range(20_000)], 10
    )
    agree = np.mean([set(idx[s]) == set(e) for s, e in zip(sample, exact, strict=True)])
    assert agree >= 0.95  # float32 vs float64 may swap near-equal scores at the cut


def test_evaluate_does_not_depend_on_block_shape() -> None:
    rng = np.random.default_rng(5)
    d = rng.standard_normal((800, 16))
    rel = rng.integers(0, 800, 120)
    q = d[rel] + 0.7 * rng.standard_normal((120, 16))
    qids, dids = [f"q{i}" for i in range(120)], [f"d{i}" for i in range(800)]
    qrels = {qids[i]: {dids[rel[i]]: 2, dids[(rel[i] + 1) % 800]: 1} for i in range(120)}
    a = evaluate(q, d, qids, dids, qrels)
    b = evaluate(q, d, qids, dids, qrels, query_chunk=13, doc_chunk=97)
    assert a.metrics == b.metrics
    assert a.depth == 100 and 0.0 < a.metrics["ndcg@10"] < 1.0


def _matryoshka_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # the first 16 dims carry the signal shared by a query and its document;
    # the last 48 are independent noise on each side
    n, signal, noise = 400, 16, 48
    base = rng.standard_normal((n, signal))
    docs = np.hstack([base, 1.5 * rng.standard_normal((n, noise))])
    queries = np.hstack(
        [base + 0.5 * rng.standard_normal((n, signal)), 1.5 * rng.standard_normal((n, noise))]
    )
    return queries, docs


def test_matryoshka_prefixes_carrying_the_signal_retrieve_best() -> None:
    queries, docs = _matryoshka_data(np.random.default_rng(6))
    ids = [str(i) for i in range(len(docs))]
    qrels = {i: {i: 1} for i in ids}
    out = matryoshka(queries, docs, ids, ids, qrels, dims=(4, 16, 32))
    assert list(out) == [4, 16, 32, 64]
    ndcg = {m: r.metrics["ndcg@10"] for m, r in out.items()}
    assert ndcg[16] > ndcg[32] > ndcg[64]  # each noise dimension dilutes the cosine
    assert ndcg[16] > ndcg[4]  # a 4-dim prefix holds too little of the signal
    assert ndcg[16] > 0.9
    full = evaluate(queries, docs, ids, ids, qrels)
    assert out[64].metrics == full.metrics


def test_matryoshka_rejects_a_prefix_longer_than_the_vectors() -> None:
    d = np.eye(4)
    with pytest.raises(ValueError, match="dims"):
        matryoshka(d, d, list("abcd"), list("abcd"), {"a": {"a": 1}}, dims=(8,))
