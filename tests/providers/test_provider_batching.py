"""Batching by count and token budget, truncation rules, token estimates, payload decoding."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.providers._policy import retry_after_seconds
from monitor.providers._text import (
    estimate_tokens,
    plan_batches,
    prepare_texts,
    truncate_text,
)
from monitor.providers._wire import (
    BadResponse,
    check_finite,
    error_excerpt,
    finish,
    rows_to_matrix,
)


def test_batches_follow_the_token_budget(server, make_provider):
    texts = [("w" * 20) + str(i % 10) for i in range(10)]  # 21 chars -> 6 tokens each
    p = make_provider("openai", batch_size=100, max_batch_tokens=13)
    result = p.embed(texts, "query")
    sizes = sorted(len(r.body["input"]) for r in server.embed_requests())
    assert sizes == [2, 2, 2, 2, 2]
    assert result.failed == frozenset()


def test_batches_follow_the_count(server, make_provider):
    make_provider("openai", batch_size=3).embed([f"t{i}" for i in range(7)], "query")
    assert sorted(len(r.body["input"]) for r in server.embed_requests()) == [1, 3, 3]


@pytest.mark.parametrize(
    ("rule", "sent"),
    [
        pytest.param("end", "0123456789abcdefghij", id="cut-end"),
        pytest.param("start", "QRSTUVWXYZ0123456789", id="cut-start"),
    ],
)
def test_over_long_texts_are_truncated_and_counted(server, make_provider, rule, sent):
    long = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    p = make_provider("openai", max_input_tokens=5, truncate=rule)
    result = p.embed([long, "short"], "query")
    (req,) = server.embed_requests()
    assert req.body["input"] == [sent, "short"]
    assert result.usage.truncated == 1
    assert result.failed == frozenset()


def test_truncation_keeps_the_prefix(server, make_provider):
    p = make_provider("openai", max_input_tokens=5, query_prefix="q: ")
    p.embed(["x" * 100], "query")
    (req,) = server.embed_requests()
    sent = req.body["input"][0]
    assert sent.startswith("q: x") and estimate_tokens(sent) <= 5


def test_skip_rule_fails_over_long_texts_without_sending(server, make_provider):
    p = make_provider("openai", max_input_tokens=5, truncate="skip")
    result = p.embed(["y" * 100, "ok"], "query")
    (req,) = server.embed_requests()
    assert req.body["input"] == ["ok"]
    assert result.failed == frozenset({0})
    assert result.usage.truncated == 0


def test_none_rule_sends_as_is(server, make_provider):
    p = make_provider("openai", max_input_tokens=5, truncate="none")
    p.embed(["z" * 100], "query")
    assert server.embed_requests()[0].body["input"] == ["z" * 100]


def test_empty_texts_are_failed_not_sent(server, make_provider):
    result = make_provider("openai").embed(["", "real", "   "], "query")
    (req,) = server.embed_requests()
    assert req.body["input"] == ["real"]
    assert result.failed == frozenset({0, 2})
    assert result.vectors[1].any()


def test_only_empty_texts_is_no_error(server, make_provider):
    result = make_provider("openai").embed([""], "query")
    assert result.failed == frozenset({0}) and server.embed_requests() == []


def test_non_string_input_is_a_type_error(make_provider):
    with pytest.raises(TypeError, match="texts\\[1\\]"):
        make_provider("openai").embed(["a", 3], "query")  # type: ignore[list-item]


def test_estimate_counts_non_ascii_as_one_token_each():
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("日本語のテキスト") == 8
    assert estimate_tokens("a b c d e") == 5  # never fewer than words
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefgh", chars_per_token=2.0) == 4


@given(st.lists(st.integers(0, 50), max_size=60), st.integers(1, 10), st.integers(0, 80))
@settings(max_examples=150, deadline=None)
def test_plan_batches_partitions_in_order_within_limits(tokens, max_items, max_tokens):
    batches = plan_batches(tokens, max_items, max_tokens)
    flat = [i for b in batches for i in b]
    assert flat == list(range(len(tokens)))
    for b in batches:
        assert 1 <= len(b) <= max_items
        if max_tokens > 0 and len(b) > 1:
            assert sum(tokens[i] for i in b) <= max_tokens


@given(
    st.text(max_size=300),
    st.integers(1, 40),
    st.sampled_from(["start", "end"]),
    st.sampled_from(["", "query: "]),
)
@settings(max_examples=150, deadline=None)
def test_truncate_text_fits_and_is_maximal(text, max_tokens, keep, prefix):
    cut = truncate_text(text, max_tokens, keep=keep, prefix=prefix)
    assert text.startswith(cut) if keep == "start" else text.endswith(cut)
    if estimate_tokens(prefix) <= max_tokens:
        assert estimate_tokens(prefix + cut) <= max_tokens
    if len(cut) < len(text):
        longer = text[: len(cut) + 1] if keep == "start" else text[len(text) - len(cut) - 1 :]
        assert estimate_tokens(prefix + longer) > max_tokens


@given(
    st.lists(st.text(min_size=0, max_size=40), max_size=20),
    st.integers(1, 8),
    st.sampled_from(["end", "start", "skip", "none"]),
)
@settings(max_examples=100, deadline=None)
def test_prepare_texts_accounts_for_every_input(texts, max_tokens, rule):
    prep = prepare_texts(texts, "", max_tokens=max_tokens, rule=rule, chars_per_token=4.0)
    assert sorted(prep.indices + prep.skipped + prep.empty) == list(range(len(texts)))
    if rule != "none":
        assert all(t <= max_tokens for t in prep.tokens)


@given(st.integers(1, 6), st.integers(1, 16), st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_base64_rows_round_trip(n, dim, seed):
    m = np.random.default_rng(seed).standard_normal((n, dim)).astype("<f4")
    rows = [base64.b64encode(r.tobytes()).decode() for r in m]
    np.testing.assert_array_equal(rows_to_matrix(rows, n, dim), m)
    np.testing.assert_allclose(rows_to_matrix(m.tolist(), n, dim), m)


def test_rows_to_matrix_rejects_bad_payloads():
    with pytest.raises(BadResponse, match="expected 2 embeddings, got 1"):
        rows_to_matrix([[1.0]], 2, 1)
    # rows that all share another dimension are an answer with that dimension
    assert rows_to_matrix([[1.0, 2.0], [3.0, 4.0]], 2, 3).shape == (2, 2)
    b64 = [base64.b64encode(np.ones(2, "<f4").tobytes()).decode()] * 2
    assert rows_to_matrix(b64, 2, 3).shape == (2, 2)
    with pytest.raises(BadResponse, match="embedding 1 has dimension 3, but embedding 0 has 2"):
        rows_to_matrix([[1.0, 2.0], [1.0, 2.0, 3.0]], 2, 2)
    mixed = [b64[0], base64.b64encode(np.ones(3, "<f4").tobytes()).decode()]
    with pytest.raises(BadResponse, match="embedding 1 has dimension 3"):
        rows_to_matrix(mixed, 2, 2)
    with pytest.raises(BadResponse, match="not a float32 number"):
        rows_to_matrix([[10**400, 1.0]], 1, 2)
    with pytest.raises(BadResponse, match="not a number"):
        rows_to_matrix([[[1.0], 1.0]], 1, 2)
    with pytest.raises(BadResponse, match="not a number"):
        rows_to_matrix([[1.0, "abc"]], 1, 2)
    with pytest.raises(BadResponse, match="multiple of 4"):
        rows_to_matrix([base64.b64encode(b"abcde").decode()], 1, 1)
    with pytest.raises(BadResponse, match="not a list"):
        rows_to_matrix({"a": 1}, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(BadResponse, match="not a list of numbers"):
        rows_to_matrix([5], 1, 1)
    assert rows_to_matrix([], 0, 4).shape == (0, 4)


def test_finish_flags_zero_rows_and_normalises():
    m = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    assert finish(m, {2}, normalize=True) == frozenset({1})  # row 2 failed: not flagged
    np.testing.assert_allclose(m, [[0.6, 0.8], [0, 0], [0, 0]])
    raw = np.array([[3.0, 4.0]], dtype=np.float32)
    assert finish(raw, (), normalize=False) == frozenset() and raw[0, 0] == 3.0


def test_check_finite_rejects_nan_and_inf():
    m = np.ones((3, 2), dtype=np.float32)
    check_finite(m)
    m[2, 1] = np.inf
    with pytest.raises(BadResponse, match="embedding 2"):
        check_finite(m)
    m[2, 1] = np.nan
    with pytest.raises(BadResponse, match="embedding 2"):
        check_finite(m)


def test_error_excerpt_is_short_one_line_and_masked():
    body = '{"error": {"message": "bad key sk-live-abcdef0123456789 for\\n my secret query"}}'
    out = error_excerpt(body, secrets=["sk-live-abcdef0123456789"], texts=["my secret query"])
    assert "abcdef" not in out and "secret query" not in out and "\n" not in out
    assert len(error_excerpt("x" * 10_000)) < 200
    assert error_excerpt("") == "(empty body)"
    assert "[secret]" in error_excerpt("token key-ABCDEFGHIJKLMNOP leaked")


class _Clock:
    def now(self):
        from datetime import UTC, datetime

        return datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"retry-after": "3"}, 3.0, id="seconds"),
        pytest.param({"retry-after": "0.25"}, 0.25, id="fraction"),
        pytest.param({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, id="ms-first"),
        pytest.param({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, 30.0, id="http-date"),
        pytest.param({"retry-after": "Wed, 31 Dec 2025 00:00:00 GMT"}, 0.0, id="past-date"),
        pytest.param({"retry-after": "soon"}, None, id="garbage"),
        pytest.param({"retry-after-ms": "x"}, None, id="bad-ms"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_retry_after_parsing(headers, expected):
    assert retry_after_seconds(headers, _Clock()) == expected
