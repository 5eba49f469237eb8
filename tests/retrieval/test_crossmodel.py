"""Blue-green comparison: deltas and CIs, paired test, RBO / Jaccard, CKA, policy verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.stats._checks import InsufficientDataError
from monitor.stats.crossmodel import (
    _agreement,
    compare_models,
    default_policy,
    linear_cka,
    paired_bootstrap,
    rbo,
    reembed_estimate,
    sign_flip_test,
)

CanarySet = tuple[np.ndarray, np.ndarray, list[str], list[str], dict[str, dict[str, int]]]


@pytest.fixture(scope="module")
def canary() -> CanarySet:
    """300 docs, 120 queries near their relevant doc (grade 2) with a second one (grade 1)."""
    rng = np.random.default_rng(11)
    docs = rng.standard_normal((300, 24))
    rel = rng.integers(0, 300, 120)
    queries = docs[rel] + 1.0 * rng.standard_normal((120, 24))
    qids, dids = [f"q{i}" for i in range(120)], [f"d{i}" for i in range(300)]
    qrels = {qids[i]: {dids[rel[i]]: 2, dids[(rel[i] + 7) % 300]: 1} for i in range(120)}
    qrels["q0"] = {dids[0]: 0}  # a judged query with nothing relevant
    return queries, docs, qids, dids, qrels


def test_identical_versions_are_ready_with_zero_deltas(canary: CanarySet) -> None:
    q, d, qids, dids, qrels = canary
    res = compare_models(q, d, q.copy(), d.copy(), qids, dids, qrels, per_query=True)
    assert res.verdict == "ready" and res.reasons == ()
    assert all(c.passed for c in res.checks) and len(res.checks) == 2
    for delta in res.deltas.values():
        assert delta.delta == 0.0 and delta.ci_low == 0.0 and delta.ci_high == 0.0
        assert delta.p_value == 1.0
    assert res.cka == pytest.approx(1.0, abs=1e-12)
    assert res.rbo.min == pytest.approx(1.0) and res.jaccard.min == 1.0
    assert res.n_queries == 119 and res.n_skipped_no_relevant == 1
    assert res.per_query is not None and len(res.per_query) == 120
    assert "ndcg@10" not in res.per_query["q0"] and res.per_query["q0"]["rbo@10"] == 1.0
    json.dumps(res.to_dict())


def test_a_rotated_and_scaled_copy_is_the_same_model(canary: CanarySet) -> None:
    q, d, qids, dids, qrels = canary
    rot = np.linalg.qr(np.random.default_rng(12).standard_normal((24, 24)))[0]
    res = compare_models(q, d, 3.0 * q @ rot, 3.0 * d @ rot, qids, dids, qrels)
    assert res.verdict == "ready"
    assert res.cka == pytest.approx(1.0, abs=1e-9)
    assert res.jaccard.mean == pytest.approx(1.0)


def test_a_noisier_model_is_not_ready_with_reasons(canary: CanarySet) -> None:
    q, d, qids, dids, qrels = canary
    rng = np.random.default_rng(13)
    qb = np.hstack([q + 1.5 * rng.standard_normal(q.shape), rng.standard_normal((120, 8))])
    db = np.hstack([d + 1.5 * rng.standard_normal(d.shape), rng.standard_normal((300, 8))])
    res = compare_models(q, d, qb, db, qids, dids, qrels)
    assert (res.dim_a, res.dim_b) == (24, 32)
    assert res.verdict == "not_ready"
    assert len(res.reasons) == 2
    assert res.reasons[0].startswith("ndcg@10: lower 95% CI bound of B - A is -")
    ndcg = res.deltas["ndcg@10"]
    assert ndcg.delta < -0.05 and ndcg.ci_low < ndcg.delta < ndcg.ci_high < 0
    assert ndcg.p_value < 0.01
    assert 0.0 < res.cka < 0.9 and res.rbo.mean < 0.5


def test_policy_rules_min_value_and_confidence(canary: CanarySet) -> None:
    q, d, qids, dids, qrels = canary
    policy = [
        {"metric": "hit@10", "min_value": 1.01},
        {"metric": "mrr@10", "max_drop": 0.0, "confidence": 0.5},
    ]
    res = compare_models(q, d, q, d, qids, dids, qrels, policy=policy)
    assert [c.passed for c in res.checks] == [False, True]
    assert res.checks[1].confidence == 0.5
    assert res.verdict == "not_ready"
    assert res.reasons == (res.checks[0].message,) and "below the minimum 1.01" in res.reasons[0]
    assert compare_models(q, d, q, d, qids, dids, qrels, policy=[]).verdict == "ready"


@pytest.mark.parametrize(
    ("policy", "match"),
    [
        pytest.param([{"metric": "ndcg@3", "max_drop": 0.1}], "unknown metric", id="metric"),
        pytest.param([{"metric": "map", "max_drop": 0.1, "pvalue": 1}], "unknown key", id="key"),
        pytest.param([{"metric": "map"}], "max_drop", id="no-rule"),
        pytest.param([{"metric": "map", "max_drop": -0.1}], ">= 0", id="negative"),
        pytest.param(
            [{"metric": "map", "max_drop": 0.1, "confidence": 1.0}], "confidence", id="level"
        ),
        pytest.param(["map"], "mapping", id="not-a-mapping"),
    ],
)
def test_invalid_policies_raise(canary: CanarySet, policy: list[object], match: str) -> None:
    q, d, qids, dids, qrels = canary
    with pytest.raises(ValueError, match=match):
        compare_models(q, d, q, d, qids, dids, qrels, policy=policy)  # type: ignore[arg-type]


def test_mismatched_items_and_no_evaluable_query_raise(canary: CanarySet) -> None:
    q, d, qids, dids, qrels = canary
    with pytest.raises(ValueError, match="same items"):
        compare_models(q, d, q[:-1], d, qids, dids, qrels)
    with pytest.raises(InsufficientDataError):
        compare_models(q, d, q, d, qids, dids, {"q1": {"d1": 0}})


def test_default_policy_uses_the_largest_k() -> None:
    assert [r["metric"] for r in default_policy((1, 20))] == ["ndcg@20", "recall@20"]


def test_same_seed_same_intervals_other_seed_other_intervals(canary: CanarySet) -> None:
    q, d, qids, dids, qrels = canary
    qb = q + 0.8 * np.random.default_rng(14).standard_normal(q.shape)
    a = compare_models(q, d, qb, d, qids, dids, qrels, seed=3, n_boot=500, n_perm=500)
    b = compare_models(q, d, qb, d, qids, dids, qrels, seed=3, n_boot=500, n_perm=500)
    c = compare_models(q, d, qb, d, qids, dids, qrels, seed=4, n_boot=500, n_perm=500)
    assert a.deltas == b.deltas and a.seed == 3
    assert a.deltas["ndcg@10"].delta == c.deltas["ndcg@10"].delta
    assert a.deltas["ndcg@10"].ci_low != c.deltas["ndcg@10"].ci_low


def test_bootstrap_known_answers() -> None:
    rng = np.random.default_rng(0)
    const = paired_bootstrap(np.full((7, 2), 0.25), 100, rng)
    assert const.shape == (100, 2) and np.all(const == 0.25)
    # two queries with differences 0 and 1: each replicate mean is 0, 1/2 or 1,
    # with probabilities 1/4, 1/2, 1/4
    means = paired_bootstrap(np.array([[0.0], [1.0]]), 4000, np.random.default_rng(1))[:, 0]
    assert set(np.unique(means)) == {0.0, 0.5, 1.0}
    assert np.mean(means == 0.5) == pytest.approx(0.5, abs=0.03)


def test_sign_flip_exact_and_random() -> None:
    rng = np.random.default_rng(0)
    # three differences of +1: |mean*| >= 1 only for the all-plus and all-minus of 8 vectors
    assert sign_flip_test(np.ones((3, 1)), 2000, rng) == pytest.approx([2 / 8])
    assert sign_flip_test(np.zeros((30, 1)), 200, rng) == pytest.approx([1.0])
    p = sign_flip_test(np.ones((20, 1)), 999, rng)[0]
    assert 1 / 1000 <= p <= 2 / 1000


def test_rbo_known_answers() -> None:
    # [1,2,3] vs [1,3,2], p = 0.9: overlaps X = 1, 1, 3
    # (0.1/0.9) (1/1*0.9 + 1/2*0.81 + 3/3*0.729) + (3/3) 0.729 = 0.226 + 0.729
    assert rbo([1, 2, 3], [1, 3, 2]) == pytest.approx(0.955, abs=1e-12)
    # [1,2] vs [2,1]: X = 0, 2 -> (1/9)(0 + 2/2*0.81) + 2/2*0.81 = 0.09 + 0.81
    assert rbo(["a", "b"], ["b", "a"]) == pytest.approx(0.9, abs=1e-12)
    assert rbo([1, 2, 3], [4, 5, 6]) == 0.0
    assert rbo(list(range(10)), list(range(10))) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError):
        rbo([1, 2], [1])
    with pytest.raises(ValueError):
        rbo([1, 1], [1, 2])


def test_vectorised_agreement_matches_scalar_rbo_and_jaccard() -> None:
    rng = np.random.default_rng(5)
    a = np.array([rng.choice(30, 8, replace=False) for _ in range(50)])
    b = np.array([rng.choice(30, 8, replace=False) for _ in range(50)])
    jac, r = _agreement(a, b, 0.9)
    for i in range(50):
        assert r[i] == pytest.approx(rbo(list(a[i]), list(b[i])), abs=1e-12)
        sa, sb = set(a[i]), set(b[i])
        assert jac[i] == pytest.approx(len(sa & sb) / len(sa | sb), abs=1e-12)


def test_cka_known_answer_in_both_forms() -> None:
    # centred x = (-1, 0, 1), y = (-1, 1, 0): ||y'x||^2 = 1, ||x'x|| = ||y'y|| = 2 -> 1/4
    x, y = np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [3.0], [2.0]])
    assert linear_cka(x, y) == pytest.approx(0.25, abs=1e-12)  # feature form (n >= d1 + d2)
    pad = np.zeros((3, 1))
    assert linear_cka(np.hstack([x, pad]), np.hstack([y, pad])) == pytest.approx(0.25)  # Gram
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.ones((4, 2)), np.arange(8.0).reshape(4, 2))
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(np.ones((4, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.full((4, 2), np.nan), np.ones((4, 2)))


def test_cka_gram_and_feature_forms_agree() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 30))
    y = x[:, :20] @ rng.standard_normal((20, 25)) + rng.standard_normal((40, 25))
    gram = linear_cka(x, y)  # 40 < 30 + 25
    feature = linear_cka(np.vstack([x, x]), np.vstack([y, y]))  # duplicating rows keeps CKA
    assert gram == pytest.approx(feature, abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3), n=st.sampled_from([10, 80]))
def test_cka_is_invariant_to_rotation_and_isotropic_scaling(
    seed: int, scale: float, n: int
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12))
    y = np.tanh(x[:, :6] @ rng.standard_normal((6, 9))) + 0.3 * rng.standard_normal((n, 9))
    rot = np.linalg.qr(rng.standard_normal((9, 9)))[0]
    base = linear_cka(x, y)
    assert linear_cka(x, scale * y @ rot) == pytest.approx(base, abs=1e-9)
    assert linear_cka(scale * x, y) == pytest.approx(base, abs=1e-9)
    assert linear_cka(x, x @ np.linalg.qr(rng.standard_normal((12, 12)))[0]) == pytest.approx(1)
    assert 0.0 <= base <= 1.0


def test_reembed_estimate_arithmetic() -> None:
    # 1e6 docs x 350 tokens = 3.5e8 tokens; at 0.02 per 1e6 tokens -> 7.0; 1e6 / 500 /s = 2000 s
    est = reembed_estimate(1_000_000, 350, price_per_million_tokens=0.02, texts_per_second=500)
    assert est.total_tokens == 3.5e8
    assert est.cost == pytest.approx(7.0) and est.seconds == 2000.0
    assert est.hours == pytest.approx(2000 / 3600)
    assert json.loads(json.dumps(est.to_dict()))["cost"] == pytest.approx(7.0)
    with pytest.raises(ValueError, match="texts_per_second"):
        reembed_estimate(10, 5, price_per_million_tokens=1, texts_per_second=0)
    with pytest.raises(ValueError, match="n_documents"):
        reembed_estimate(-1, 5, price_per_million_tokens=1, texts_per_second=1)
