"""Trouble over real sockets: retries, timeouts, bad responses, partial failure, model change."""

from __future__ import annotations

import logging
from email.utils import format_datetime

import numpy as np
import pytest

from monitor.errors import ProviderError, ProviderHTTPError, ProviderResponseError, ProviderTimeout

TEXTS = [f"text {i}" for i in range(10)]


def test_429_with_retry_after_is_honoured(server, make_provider, fake_time):
    server.add_fault("status", status=429, headers={"Retry-After": "7"})
    result = make_provider("openai", batch_size=10).embed(TEXTS, "query")
    assert fake_time.sleeps == [7.0]
    assert result.failed == frozenset()
    assert (result.usage.requests, result.usage.retries, result.usage.errors) == (2, 1, 1)


def test_retry_after_ms_and_http_date(server, make_provider, fake_time):
    server.add_fault("status", status=503, headers={"retry-after-ms": "1500"})
    when = fake_time.clock_now().replace(microsecond=0)
    from datetime import timedelta

    server.add_fault(
        "status",
        status=429,
        headers={"Retry-After": format_datetime(when + timedelta(seconds=12), usegmt=True)},
    )
    result = make_provider("openai", batch_size=10).embed(TEXTS, "query")
    assert fake_time.sleeps[0] == pytest.approx(1.5)
    assert fake_time.sleeps[1] == pytest.approx(12 - 1.5, abs=0.01)
    assert result.usage.retries == 2


def test_500_is_retried_with_capped_exponential_backoff(server, make_provider, fake_time):
    server.add_fault("status", status=500, times=3)
    p = make_provider("openai", batch_size=10, backoff_base="1s", backoff_max="3s", max_retries=3)
    result = p.embed(TEXTS, "query")
    assert result.failed == frozenset()
    first, second, third = fake_time.sleeps
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0
    assert 1.5 <= third <= 3.0  # capped at backoff_max, jitter in [50%, 100%]


def test_retry_after_above_the_cap_fails_without_sleeping(server, make_provider, fake_time):
    server.add_fault("status", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(ProviderHTTPError, match="retry after 3600s") as info:
        make_provider("openai", batch_size=10).embed(TEXTS, "query")
    assert info.value.status_code == 429
    assert fake_time.sleeps == []


def test_insufficient_quota_is_not_retried(server, make_provider, fake_time):
    server.add_fault(
        "status",
        status=429,
        times=-1,
        body='{"error": {"message": "You '
        'exceeded your current quota", "code": "insufficient_quota"}}',
    )
    with pytest.raises(ProviderHTTPError, match="quota"):
        make_provider("openai", batch_size=10).embed(TEXTS, "query")
    assert fake_time.sleeps == []
    assert len(server.embed_requests()) == 1


def test_x_should_retry_false_is_obeyed(server, make_provider, fake_time):
    server.add_fault("status", status=500, headers={"x-should-retry": "false"})
    with pytest.raises(ProviderHTTPError):
        make_provider("openai", batch_size=10).embed(TEXTS, "query")
    assert fake_time.sleeps == []


def test_400_is_not_retried_and_fails_only_its_batch(server, make_provider, fake_time):
    server.add_fault("status", status=400, match="text 5")
    result = make_provider("openai", batch_size=4).embed(TEXTS, "query")
    assert result.failed == frozenset({4, 5, 6, 7})
    assert fake_time.sleeps == []


def test_partial_failure_keeps_what_succeeded(server, make_provider, caplog):
    server.add_fault("status", status=500, times=-1, match="text 3")
    p = make_provider("openai", batch_size=1, max_concurrency=4, max_retries=2, breaker_threshold=0)
    with caplog.at_level(logging.WARNING, "monitor.providers"):
        result = p.embed(TEXTS, "query")
    assert result.failed == frozenset({3})
    assert not result.vectors[3].any()
    ok = result.ok_indices
    assert list(ok) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    exp = np.stack([server.vector(TEXTS[i]) for i in ok])
    exp /= np.linalg.norm(exp, axis=1, keepdims=True)
    np.testing.assert_allclose(result.vectors[ok], exp, rtol=1e-6)
    assert result.usage.retries == 2 and result.usage.errors == 3
    assert "1 of 10 texts failed" in caplog.text


def test_every_batch_failing_raises(server, make_provider):
    server.add_fault("status", status=502, times=-1)
    with pytest.raises(ProviderHTTPError) as info:
        make_provider("openai", max_retries=1, breaker_threshold=0).embed(TEXTS, "query")
    assert info.value.status_code == 502
    assert "after 1 retries" in str(info.value)


def test_401_ends_the_whole_call_at_once(server, make_provider):
    server.api_key = "another-key"
    p = make_provider("openai", batch_size=1, max_concurrency=1)
    with pytest.raises(ProviderHTTPError) as info:
        p.embed(TEXTS, "query")
    assert info.value.status_code == 401
    assert len(server.embed_requests()) == 1


def test_404_from_a_wrong_base_url(server, make_provider):
    p = make_provider("openai", base_url=server.url + "/nope")
    with pytest.raises(ProviderHTTPError, match="HTTP 404"):
        p.embed(["a"], "query")


def test_read_timeout_is_retried_then_reported(server, make_provider):
    server.add_fault("slow", delay=2.0, times=-1)
    p = make_provider("openai", timeout="200ms", max_retries=1, breaker_threshold=0)
    with pytest.raises(ProviderTimeout, match="did not answer in time"):
        p.embed(["a"], "query")
    assert len(server.embed_requests()) == 2


def test_read_timeout_then_success(server, make_provider, fake_time):
    server.add_fault("slow", delay=2.0, times=1)
    p = make_provider("openai", timeout="200ms", max_retries=2)
    result = p.embed(["a"], "query")
    assert result.failed == frozenset()
    assert result.usage.retries == 1 and len(fake_time.sleeps) == 1


def test_dropped_connection_is_retried(server, make_provider):
    server.add_fault("drop", times=1)
    result = make_provider("openai").embed(["a"], "query")
    assert result.failed == frozenset() and result.usage.retries == 1


def test_connection_refused_is_a_provider_error(make_provider, fake_time):
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = make_provider(
        "openai", base_url=f"http://127.0.0.1:{port}", max_retries=2, breaker_threshold=0
    )
    with pytest.raises(ProviderError, match="connection to openai failed"):
        p.embed(["a"], "query")
    assert len(fake_time.sleeps) == 2


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        pytest.param("truncate", "not valid JSON", id="truncated-json"),
        pytest.param("count", "expected 4 embeddings, got 3", id="wrong-count"),
        pytest.param("nan", "NaN or infinity", id="nan"),
        pytest.param("bad_index", "permutation", id="duplicate-index"),
    ],
)
def test_bad_responses_are_response_errors(server, make_provider, kind, reason):
    server.add_fault(kind, times=-1)
    with pytest.raises(ProviderResponseError) as info:
        make_provider("openai", batch_size=4).embed(TEXTS[:4], "query")
    message = str(info.value)
    assert reason in message
    assert info.value.status_code == 200
    assert "HTTP 200" in message and "body: " in message
    assert len(message) < 400
    assert len(server.embed_requests()) == 1  # a malformed answer is not retried


@pytest.mark.parametrize("provider", ["tei", "ollama", "cohere", "voyage", "azure"])
def test_bad_responses_in_every_format(server, make_provider, provider):
    server.add_fault("nan", times=-1)
    with pytest.raises(ProviderResponseError, match="NaN"):
        make_provider(provider, encoding_format="float").embed(["a", "b"], "query")


def test_a_changed_dimension_is_an_answer_not_an_error(server, make_provider):
    server.add_fault("dim", times=-1)  # every row of every batch: 9 instead of 8
    result = make_provider("openai", batch_size=4).embed(TEXTS, "query")
    assert result.vectors.shape == (len(TEXTS), 9) and not result.failed
    assert len(server.embed_requests()) == 3


def test_bad_batch_among_good_ones_is_partial(server, make_provider):
    server.add_fault("dim", match="text 9")
    result = make_provider("openai", batch_size=4).embed(TEXTS, "query")
    assert result.failed == frozenset({8, 9})
    assert (result.usage.requests, result.usage.errors, result.usage.retries) == (3, 1, 0)


def test_response_shape_errors(server, make_provider):
    server.add_fault("status", status=200, body='{"object": "list"}')
    with pytest.raises(ProviderResponseError, match="missing field 'data'"):
        make_provider("openai").embed(["a"], "query")
    server.add_fault("status", status=200, body='{"data": [{"index": 0, "embedding": "%%%"}]}')
    with pytest.raises(ProviderResponseError, match="not valid base64"):
        make_provider("openai").embed(["a"], "query")
    server.add_fault("status", status=200, body='{"data": 5}')
    with pytest.raises(ProviderResponseError, match="'data' is not a list"):
        make_provider("openai").embed(["a"], "query")


def test_zero_vectors_are_flagged_not_failed(server, make_provider, caplog):
    server.add_fault("zero")
    with caplog.at_level(logging.WARNING, "monitor.providers"):
        result = make_provider("openai", batch_size=10).embed(TEXTS, "query")
    assert result.zero_rows == frozenset({0})
    assert result.failed == frozenset()
    assert not result.vectors[0].any()
    assert "all-zero" in caplog.text


def test_silent_model_change_shows_in_identity(server, make_provider, caplog):
    p = make_provider("openai")
    before = p.embed(["stable canary"], "query")
    server.switch_model("fake-embed-v2")
    with caplog.at_level(logging.WARNING, "monitor.providers"):
        after = p.embed(["stable canary"], "query")
    assert before.identity["model"] == "fake-embed-v1"
    assert after.identity["model"] == "fake-embed-v2"
    assert "different identity" in caplog.text
    assert float(before.vectors[0] @ after.vectors[0]) < 0.99


@pytest.mark.parametrize(
    ("provider", "key"),
    [pytest.param("tei", "model_sha", id="tei"), pytest.param("ollama", "digest", id="ollama")],
)
def test_silent_model_change_in_probed_identity(server, make_provider, provider, key):
    p = make_provider(provider)
    before = p.embed(["c"], "query").identity[key]
    server.switch_model("fake-embed-v2")
    assert p.embed(["c"], "query").identity[key] != before


def test_mixed_identity_within_one_call_is_visible(server, make_provider):
    p = make_provider("openai", batch_size=1, max_concurrency=1)
    server.add_fault("switch", body="fake-embed-v2", match="b")
    result = p.embed(["a", "b", "c"], "query")
    assert result.identity["model"] == "fake-embed-v1 | fake-embed-v2"


def test_413_splits_the_batch(server, make_provider):
    server.add_fault("status", status=413, times=1)
    result = make_provider("tei", batch_size=8).embed(TEXTS[:8], "query")
    assert result.failed == frozenset()
    assert [len(r.body["inputs"]) for r in server.embed_requests()] == [8, 4, 4]


def test_413_for_a_single_input_fails_it(server, make_provider):
    server.add_fault("status", status=413, match="text 2", times=-1)
    result = make_provider("tei", batch_size=4).embed(TEXTS[:4], "query")
    assert result.failed == frozenset({2})
