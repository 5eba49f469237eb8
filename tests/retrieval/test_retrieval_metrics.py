"""Known-answer tests of the retrieval measures against trec_eval's definitions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from monitor.stats._checks import InsufficientDataError
from monitor.stats.retrieval import evaluate, evaluate_run, rank_metrics, score_stats

TOL = 1e-9

# q1: five documents ranked d1 > d2 > d3 > d4 > d5 by score.
#     qrels: d1 judged non-relevant (0), d2 grade 2, d4 grade 1, d9 grade 3 (never
#     retrieved); d3 and d5 are unjudged. R = 3 relevant (d2, d4, d9).
# q2: d1, d10 and d9 tie at 0.5; trec_eval breaks ties by doc id descending in
#     string order: "d9" > "d10" > "d1", so the ranking is d9, d10, d1, then d2.
#     qrels: d1 grade 1 only, so the single relevant document sits at rank 3.
# q3: judged, but with a non-relevant document only (R = 0).
# q4: no qrels at all.
RUN = {
    "q1": {"d1": 0.9, "d2": 0.8, "d3": 0.7, "d4": 0.6, "d5": 0.5},
    "q2": {"d1": 0.5, "d10": 0.5, "d9": 0.5, "d2": 0.1},
    "q3": {"d1": 0.3, "d2": 0.2},
    "q4": {"d1": 0.3},
}
QRELS = {
    "q1": {"d1": 0, "d2": 2, "d4": 1, "d9": 3},
    "q2": {"d1": 1},
    "q3": {"d1": 0},
    "q_not_in_run": {"d1": 1},
}
L3, L4, L5 = math.log2(3), math.log2(4), math.log2(5)
# q1: DCG@5 = 0/log2(2) + 2/log2(3) + 0/log2(4) + 1/log2(5) + 0/log2(6)
#     ideal grades 3, 2, 1: IDCG@5 = 3/log2(2) + 2/log2(3) + 1/log2(4)
Q1_NDCG5 = (2 / L3 + 1 / L5) / (3 + 2 / L3 + 1 / L4)
Q1 = {
    "precision@1": 0.0,
    "precision@5": 2 / 5,
    "precision@10": 2 / 10,  # P_10: pad with non-rel
    "recall@1": 0.0,
    "recall@5": 2 / 3,
    "recall@10": 2 / 3,  # d9 is never retrieved
    "hit@1": 0.0,
    "hit@5": 1.0,
    "hit@10": 1.0,
    "mrr@1": 0.0,
    "mrr@5": 1 / 2,
    "mrr@10": 1 / 2,  # first relevant at rank 2
    "ndcg@1": 0.0 / 3,
    "ndcg@5": Q1_NDCG5,
    "ndcg@10": Q1_NDCG5,  # same DCG, same ideal
    "judged@1": 1 / 1,
    "judged@5": 3 / 5,
    "judged@10": 3 / 10,  # d1, d2, d4 judged
    "map": (1 / 2 + 2 / 4) / 3,  # P@2 and P@4 at the relevant ranks, over R = 3
}
Q2 = {
    "precision@1": 0.0,
    "precision@5": 1 / 5,
    "precision@10": 1 / 10,
    "recall@1": 0.0,
    "recall@5": 1.0,
    "recall@10": 1.0,
    "hit@1": 0.0,
    "hit@5": 1.0,
    "hit@10": 1.0,
    "mrr@1": 0.0,
    "mrr@5": 1 / 3,
    "mrr@10": 1 / 3,
    "ndcg@1": 0.0,
    "ndcg@5": (1 / L4) / 1,
    "ndcg@10": (1 / L4) / 1,  # 1/log2(3+1) over 1/log2(2)
    "judged@1": 0.0,
    "judged@5": 1 / 5,
    "judged@10": 1 / 10,
    "map": (1 / 3) / 1,
}
Q3_ZERO = {k: 0.0 for k in Q1} | {"judged@1": 1.0, "judged@5": 1 / 5, "judged@10": 1 / 10}


def test_each_measure_per_query_matches_hand_computation() -> None:
    res = evaluate_run(RUN, QRELS, ks=(1, 5, 10), per_query=True)
    assert res.per_query is not None
    assert set(res.per_query) == {"q1", "q2"}
    for qid, expected in (("q1", Q1), ("q2", Q2)):
        got = res.per_query[qid]
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=TOL), (qid, key)


def test_means_skip_queries_without_relevant_documents() -> None:
    res = evaluate_run(RUN, QRELS, ks=(1, 5, 10))
    assert res.n_queries == 2  # q1, q2
    assert res.n_skipped_no_relevant == 2  # q3 (judged, nothing relevant), q4 (no qrels)
    for key in Q1:
        assert res.metrics[key] == pytest.approx((Q1[key] + Q2[key]) / 2, abs=TOL), key
    assert res.metrics["map"] == pytest.approx(1 / 3, abs=TOL)  # (1/3 + 1/3) / 2
    assert res.metrics["mrr@5"] == pytest.approx(5 / 12, abs=TOL)  # (1/2 + 1/3) / 2


def test_zero_rule_reproduces_trec_eval_for_judged_queries_with_no_relevant_doc() -> None:
    res = evaluate_run(RUN, QRELS, ks=(1, 5, 10), no_relevant="zero", per_query=True)
    assert res.n_queries == 3  # q3 counts with zeros; q4 has no qrels and is still ignored
    assert res.n_skipped_no_relevant == 1
    assert res.per_query is not None
    for key, value in Q3_ZERO.items():
        assert res.per_query["q3"][key] == pytest.approx(value, abs=TOL)
    assert res.metrics["map"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3, abs=TOL)


def test_metric_keys_are_ordered_by_measure_then_k() -> None:
    res = evaluate_run(RUN, QRELS, ks=(10, 1))
    assert list(res.metrics) == [
        f"{m}@{k}" for m in ("recall", "precision", "ndcg", "mrr", "hit", "judged") for k in (1, 10)
    ] + ["map"]
    assert res.ks == (1, 10)


def test_graded_ndcg_prefers_the_higher_grade_first() -> None:
    # grades 3 then 1: DCG = 3 + 1/log2(3) = ideal -> 1.0; swapped: (1 + 3/log2 3) / ideal
    qrels = {"q": {"a": 3, "b": 1}}
    best = evaluate_run({"q": {"a": 2.0, "b": 1.0}}, qrels, ks=(2,))
    worst = evaluate_run({"q": {"a": 1.0, "b": 2.0}}, qrels, ks=(2,))
    assert best.metrics["ndcg@2"] == pytest.approx(1.0, abs=TOL)
    assert worst.metrics["ndcg@2"] == pytest.approx((1 + 3 / L3) / (3 + 1 / L3), abs=TOL)
    assert worst.metrics["recall@2"] == best.metrics["recall@2"] == 1.0


def test_negative_grades_count_as_unjudged_and_not_relevant() -> None:
    res = evaluate_run(
        {"q": {"a": 2.0, "b": 1.0}}, {"q": {"a": -1, "b": 1}}, ks=(1, 2), per_query=True
    )
    assert res.per_query is not None
    row = res.per_query["q"]
    assert row["judged@1"] == 0.0 and row["judged@2"] == pytest.approx(1 / 2)
    assert row["mrr@2"] == pytest.approx(1 / 2) and row["precision@1"] == 0.0


def test_map_is_cut_at_the_depth() -> None:
    # relevant at ranks 1 and 4 of a four-document list, R = 2
    run = {"q": {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}}
    qrels = {"q": {"a": 1, "d": 1}}
    assert evaluate_run(run, qrels).metrics["map"] == pytest.approx((1 / 1 + 2 / 4) / 2)
    cut = evaluate_run(run, qrels, depth=3)
    assert cut.depth == 3
    assert cut.metrics["map"] == pytest.approx((1 / 1) / 2)  # rank 4 is beyond the depth


def test_search_ties_follow_doc_id_descending() -> None:
    # query e1; d2 scores 1, d1 / d10 / d9 tie at 1/sqrt(2) (identical rows)
    docs = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    doc_ids = ["d1", "d10", "d9", "d2"]
    queries = np.array([[1.0, 0.0], [0.0, 0.0]])  # the zero query ties everywhere at 0
    for chunk in (1, 2, 8192):
        res = evaluate(
            queries,
            docs,
            ["q", "zero"],
            doc_ids,
            {"q": {"d1": 1}, "zero": {"d9": 1}},
            ks=(1, 4),
            per_query=True,
            doc_chunk=chunk,
            query_chunk=1,
        )
        assert res.per_query is not None
        # ranking d2, d9, d10, d1: the relevant d1 is 4th -> mrr 1/4
        assert res.per_query["q"]["mrr@4"] == pytest.approx(1 / 4, abs=TOL)
        # all ties: d9 > d2 > d10 > d1 in string order -> d9 first
        assert res.per_query["zero"]["mrr@1"] == pytest.approx(1.0, abs=TOL)


def test_rank_metrics_reads_ranked_rows_and_empty_slots() -> None:
    # row 0 ranks doc rows 2, 0 (then an empty slot); doc 0 is relevant
    out = rank_metrics(np.array([[2, 0, -1]]), ["q"], ["a", "b", "c"], {"q": {"a": 1}}, ks=(1, 3))
    assert out.depth == 3 and out.query_ids == ("q",)
    row = out.per_query()["q"]
    assert row["precision@3"] == pytest.approx(1 / 3) and row["mrr@3"] == pytest.approx(1 / 2)
    assert row["judged@3"] == pytest.approx(1 / 3) and row["map"] == pytest.approx(1 / 2)


def test_relevant_documents_absent_from_the_collection_are_counted() -> None:
    docs = np.eye(3)
    res = evaluate(
        docs,
        docs,
        ["a", "b", "c"],
        ["a", "b", "c"],
        {"a": {"a": 1, "zz": 1}, "b": {"b": 1}},
        ks=(1,),
    )
    assert res.n_missing_relevant == 1
    assert res.metrics["recall@1"] == pytest.approx((1 / 2 + 1) / 2)
    assert res.n_skipped_no_relevant == 1  # "c" has no qrels


def test_k_beyond_the_collection_pads_with_non_relevant() -> None:
    docs = np.eye(2)
    res = evaluate(docs[:1], docs, ["q"], ["a", "b"], {"q": {"a": 1}}, ks=(5,))
    assert res.depth == 2
    assert res.metrics["precision@5"] == pytest.approx(1 / 5)
    assert res.metrics["judged@5"] == pytest.approx(1 / 5)
    assert res.metrics["ndcg@5"] == pytest.approx(1.0)


def test_score_stats_quantiles_and_pass_rates() -> None:
    # five queries with top-1 scores 0.1 .. 0.9 and second scores 0.0 .. 0.4
    top1 = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    s = score_stats(np.column_stack([top1, top1 / 2 - 0.05]), k=2, cutoffs=(0.3, 0.5, 0.7))
    assert s.k == 2 and s.n_queries == 5
    assert (s.top1.min, s.top1.median, s.top1.max) == pytest.approx((0.1, 0.5, 0.9))
    assert s.top1.p25 == pytest.approx(0.3) and s.top1.p05 == pytest.approx(0.14)  # 0.1 + 0.2*0.2
    assert s.top1.mean == pytest.approx(0.5) and s.topk.mean == pytest.approx(0.2)
    # top-1 >= 0.3: 4 of 5; >= 0.5: 3 of 5; >= 0.7: 2 of 5
    assert s.pass_rates == pytest.approx({"0.3": 0.8, "0.5": 0.6, "0.7": 0.4})


def test_rank_metrics_and_score_stats_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="2-D integer"):
        rank_metrics(np.array([[0.5]]), ["q"], ["a"], {"q": {"a": 1}})
    with pytest.raises(ValueError, match="lie in"):
        rank_metrics(np.array([[3]]), ["q"], ["a"], {"q": {"a": 1}})
    with pytest.raises(ValueError, match="duplicate"):
        rank_metrics(np.array([[0]]), ["q"], ["a", "a"], {"q": {"a": 1}})
    with pytest.raises(ValueError, match="finite"):
        score_stats(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="positive"):
        score_stats(np.ones((2, 2)), k=0)


def test_explicit_depth_is_raised_to_the_largest_k() -> None:
    docs = np.eye(12)
    ids = [str(i) for i in range(12)]
    res = evaluate(docs, docs, ids, ids, {"0": {"0": 1}}, ks=(1, 5), depth=3)
    assert res.depth == 5 and res.metrics["map"] == 1.0


def test_result_is_json_serialisable() -> None:
    docs = np.eye(3)
    res = evaluate(docs, docs, ["a", "b", "c"], ["a", "b", "c"], {"a": {"a": 1}}, per_query=True)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["metrics"]["recall@1"] == 1.0 and data["n_queries"] == 1
    assert set(data["scores"]) == {"n_queries", "k", "top1", "topk", "pass_rates"}
    assert data["per_query"]["a"]["map"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"ks": ()}, "ks", id="no-k"),
        pytest.param({"ks": (0,)}, "positive", id="k-zero"),
        pytest.param({"no_relevant": "drop"}, "no_relevant", id="bad-rule"),
        pytest.param({"depth": 0}, "depth", id="depth-zero"),
    ],
)
def test_invalid_arguments_raise(kwargs: dict[str, object], match: str) -> None:
    docs = np.eye(3)
    with pytest.raises(ValueError, match=match):
        evaluate(docs, docs, ["a", "b", "c"], ["a", "b", "c"], {"a": {"a": 1}}, **kwargs)  # type: ignore[arg-type]


def test_invalid_inputs_raise() -> None:
    docs = np.eye(3)
    ids = ["a", "b", "c"]
    with pytest.raises(ValueError, match="duplicate"):
        evaluate(docs, docs, ids, ["a", "a", "c"], {"a": {"a": 1}})
    with pytest.raises(ValueError, match="ids for"):
        evaluate(docs, docs, ids[:2], ids, {"a": {"a": 1}})
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.full((3, 3), np.nan), docs, ids, ids, {"a": {"a": 1}})
    with pytest.raises(ValueError, match="integer grade"):
        evaluate(docs, docs, ids, ids, {"a": {"a": 1.5}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="d=2"):
        evaluate(docs[:, :2], docs, ids, ids, {"a": {"a": 1}})
    with pytest.raises(InsufficientDataError):
        evaluate(docs, docs, ids, ids, {"a": {"a": 0}})
    with pytest.raises(InsufficientDataError):
        evaluate_run({}, {"a": {"a": 1}})
