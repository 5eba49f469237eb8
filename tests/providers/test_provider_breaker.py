"""Circuit breaker and rate limits, with injected time: no wall-clock sleeping."""

from __future__ import annotations

import asyncio
import random

import pytest

from monitor.errors import ProviderError
from monitor.providers._policy import CircuitBreaker, RateLimiter, RetryPolicy

TEXTS = [f"text {i}" for i in range(8)]


def test_breaker_opens_after_repeated_failures(server, make_provider, fake_time):
    server.add_fault("status", status=500, times=-1)
    p = make_provider(
        "openai", batch_size=8, max_retries=10, breaker_threshold=3, breaker_reset="30s"
    )
    with pytest.raises(ProviderError, match="is unavailable: circuit breaker open after 3"):
        p.embed(TEXTS, "query")
    assert len(server.embed_requests()) == 3  # the retry budget was cut short
    assert p.breaker_state == "open"
    sleeps = len(fake_time.sleeps)
    with pytest.raises(ProviderError, match="unavailable") as info:
        p.embed(TEXTS, "query")
    assert "last error" in str(info.value)
    assert len(server.embed_requests()) == 3  # refused without touching the endpoint
    assert len(fake_time.sleeps) == sleeps  # and without waiting


def test_breaker_probe_closes_it_again(server, make_provider, fake_time):
    fault = server.add_fault("status", status=503, times=-1)
    p = make_provider(
        "openai",
        batch_size=1,
        max_concurrency=4,
        max_retries=0,
        breaker_threshold=2,
        breaker_reset="30s",
    )
    with pytest.raises(ProviderError, match="unavailable"):
        p.embed(TEXTS[:2], "query")
    fault.times = 0  # the endpoint recovers
    fake_time.advance(29)
    with pytest.raises(ProviderError, match="unavailable"):
        p.embed(TEXTS, "query")
    fake_time.advance(2)
    assert p.breaker_state == "half-open"
    before = len(server.embed_requests())
    result = p.embed(TEXTS, "query")  # one probe first; the others wait for its verdict
    assert result.failed == frozenset()
    assert p.breaker_state == "closed"
    assert len(server.embed_requests()) - before == len(TEXTS)


def test_failed_probe_reopens_at_once(server, make_provider, fake_time):
    server.add_fault("status", status=500, times=-1)
    p = make_provider(
        "openai", batch_size=8, max_retries=5, breaker_threshold=2, breaker_reset="10s"
    )
    with pytest.raises(ProviderError):
        p.embed(TEXTS, "query")
    fake_time.advance(11)
    n = len(server.embed_requests())
    with pytest.raises(ProviderError, match="unavailable"):
        p.embed(TEXTS, "query")
    assert len(server.embed_requests()) == n + 1
    assert p.breaker_state == "open"


def test_breaker_threshold_zero_never_opens(server, make_provider):
    server.add_fault("status", status=500, times=-1)
    p = make_provider("openai", batch_size=8, max_retries=6, breaker_threshold=0)
    with pytest.raises(ProviderError, match="HTTP 500"):
        p.embed(TEXTS, "query")
    assert len(server.embed_requests()) == 7
    assert p.breaker_state == "closed"


def test_client_errors_and_429_do_not_open_the_breaker(server, make_provider):
    server.add_fault("status", status=429, times=4)
    p = make_provider("openai", batch_size=8, max_retries=4, breaker_threshold=2)
    assert p.embed(TEXTS, "query").failed == frozenset()
    assert p.breaker_state == "closed"


def test_breaker_unit_states():
    now = [0.0]
    b = CircuitBreaker(2, 5.0, lambda: now[0])

    async def run():
        assert await b.admit()
        b.failure()
        assert b.state == "closed"
        b.failure()
        assert b.state == "open" and not await b.admit()
        assert b.retry_in() == 5.0
        now[0] = 5.0
        assert await b.admit()  # the probe
        waiter = asyncio.ensure_future(b.admit())
        await asyncio.sleep(0)
        assert not waiter.done()  # waits for the probe's verdict
        b.release()  # no verdict (e.g. 429): the waiter becomes the probe
        assert await waiter
        b.success()
        assert b.state == "closed" and b.retry_in() == 0.0

    asyncio.run(run())


def test_rate_limit_requests_per_second(server, make_provider, fake_time):
    p = make_provider("openai", batch_size=1, max_concurrency=4, requests_per_second=2)
    p.embed([f"t{i}" for i in range(6)], "query")
    # a bucket of 2 starts full; 4 more requests at 2/s need 2 s of waiting
    assert sum(fake_time.sleeps) == pytest.approx(2.0)


def test_rate_limit_tokens_per_minute(server, make_provider, fake_time):
    p = make_provider("openai", batch_size=1, max_concurrency=1, tokens_per_minute=60)
    text = "x" * 40  # 10 estimated tokens
    p.embed([text] * 9, "query")
    # 60 tokens available at once, then 30 more tokens at 1 token/s
    assert sum(fake_time.sleeps) == pytest.approx(30.0)


def test_rate_limiter_oversized_request_waits_for_a_full_bucket():
    now = [0.0]
    slept: list[float] = []

    async def sleep(d: float) -> None:
        slept.append(d)
        now[0] += d

    limiter = RateLimiter(0, 60, lambda: now[0], sleep)

    async def run():
        await limiter.acquire(100)  # more than the bucket holds: goes out when it is full
        await limiter.acquire(10)  # the debt of 40 plus 10 must refill first

    asyncio.run(run())
    assert slept == [pytest.approx(50.0)]


def test_rate_limiter_disabled_is_free():
    limiter = RateLimiter(0, 0, lambda: 0.0, None)  # type: ignore[arg-type]
    asyncio.run(limiter.acquire(10**9))
    assert not limiter.enabled


@pytest.mark.parametrize("retry", [0, 1, 2, 5, 10])
def test_backoff_bounds(retry):
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0)
    rng = random.Random(retry)
    ceiling = min(8.0, 0.5 * 2**retry)
    for _ in range(50):
        assert ceiling / 2 <= policy.backoff(retry, rng) <= ceiling
