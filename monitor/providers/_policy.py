"""Retry policy, circuit breaker and rate limits of the HTTP providers (time injected)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from monitor.clock import Clock, as_utc
from monitor.config import ModelSettings

__all__ = ["CircuitBreaker", "RateLimiter", "RetryPolicy", "Sleep", "retry_after_seconds"]

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying one request."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0
    #: wall-clock limit of one attempt (connect, headers and the whole body); 0 = none
    deadline: float = 0.0

    @classmethod
    def from_settings(cls, s: ModelSettings) -> RetryPolicy:
        return cls(
            max_retries=s.max_retries,
            backoff_base=s.backoff_base.total_seconds(),
            backoff_max=s.backoff_max.total_seconds(),
            retry_after_max=s.retry_after_max.total_seconds(),
            deadline=s.timeout.total_seconds(),
        )

    def retryable_status(self, status: int) -> bool:
        return status in RETRY_STATUSES or status >= 500

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number ``retry`` (0-based): capped doubling, jitter in [50%, 100%]."""
        ceiling = min(self.backoff_max, self.backoff_base * (2.0**retry))
        return ceiling * (0.5 + 0.5 * rng.random())


def retry_after_seconds(headers: Mapping[str, str], clock: Clock) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after``), if any."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when: datetime = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (as_utc(when) - clock.now()).total_seconds())


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; one probe is let through after ``reset``.

    While the probe is out, other callers wait for its verdict instead of failing.
    """

    def __init__(self, threshold: int, reset: float, monotonic: Monotonic) -> None:
        self.threshold = threshold
        self.reset = reset
        self._now = monotonic
        self._failures = 0
        self._opened_at: float | None = None
        self._verdict: asyncio.Event | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._now() - self._opened_at >= self.reset:
            return "half-open"
        return "open"

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset - (self._now() - self._opened_at))

    async def admit(self) -> bool:
        """True if a request may go out now; False while the breaker is open."""
        while True:
            state = self.state
            if state == "closed":
                return True
            if state == "open":
                return False
            if self._verdict is None:
                self._verdict = asyncio.Event()
                return True
            await self._verdict.wait()

    def _settle(self) -> None:
        if self._verdict is not None:
            self._verdict.set()
            self._verdict = None

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._settle()

    def failure(self) -> None:
        self._failures += 1
        probing = self._verdict is not None
        if probing or (self.threshold and self._failures >= self.threshold):
            self._opened_at = self._now()
        self._settle()

    def release(self) -> None:
        """A request ended without a verdict on the endpoint's health (429, cancelled)."""
        self._settle()


class _Bucket:
    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.stamp = now

    def wait_for(self, amount: float, now: float) -> float:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        need = min(amount, self.capacity)  # an oversized request waits for a full bucket
        if self.level >= need:
            return 0.0
        return (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount  # may go negative for an oversized request: later ones wait


class RateLimiter:
    """Token buckets for requests per second and estimated tokens per minute (FIFO)."""

    def __init__(
        self,
        requests_per_second: float,
        tokens_per_minute: float,
        monotonic: Monotonic,
        sleep: Sleep,
    ) -> None:
        self._now = monotonic
        self._sleep = sleep
        start = monotonic()
        self._requests = (
            _Bucket(requests_per_second, max(1.0, requests_per_second), start)
            if requests_per_second > 0
            else None
        )
        self._tokens = (
            _Bucket(tokens_per_minute / 60.0, tokens_per_minute, start)
            if tokens_per_minute > 0
            else None
        )
        self._lock: asyncio.Lock | None = None
        self.waited = 0.0

    @property
    def enabled(self) -> bool:
        return self._requests is not None or self._tokens is not None

    async def acquire(self, tokens: int) -> None:
        if not self.enabled:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                now = self._now()
                delay = max(
                    self._requests.wait_for(1, now) if self._requests else 0.0,
                    self._tokens.wait_for(tokens, now) if self._tokens else 0.0,
                )
                if delay <= 1e-9:
                    break
                self.waited += delay
                await self._sleep(delay)
            if self._requests:
                self._requests.take(1)
            if self._tokens:
                self._tokens.take(tokens)
