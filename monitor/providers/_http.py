"""One HTTP request with retries, backoff, the circuit breaker and error mapping."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from monitor.clock import Clock
from monitor.errors import ProviderError, ProviderHTTPError, ProviderResponseError, ProviderTimeout
from monitor.providers._body import BodyTooLarge, UnknownEncoding, read_capped
from monitor.providers._policy import (
    CircuitBreaker,
    RateLimiter,
    RetryPolicy,
    Sleep,
    retry_after_seconds,
)
from monitor.providers._wire import BadResponse, error_excerpt

__all__ = ["CallStats", "Fatal", "Sender", "TooLarge"]

log = logging.getLogger("monitor.providers")

# Wrong credentials, route or model: every other batch would fail the same way.
FATAL_STATUSES = frozenset({401, 403, 404, 405})
# headers that describe the wire form of the body, not the decoded body kept here
_TRANSFER_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class Fatal(Exception):
    """Wraps a ProviderError that should end the whole ``embed`` call."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class TooLarge(Exception):
    """HTTP 413 for a batch of more than one input: split it and try again."""


@dataclass
class CallStats:
    """Counters of one ``embed`` call (single event loop: no locking needed)."""

    requests: int = 0
    retries: int = 0
    errors: int = 0
    rate_wait: float = 0.0


@dataclass
class Sender:
    """Sends one batch request with the model's retry policy; parses a 2xx with ``parse``."""

    name: str
    provider: str
    policy: RetryPolicy
    breaker: CircuitBreaker
    limiter: RateLimiter
    sleep: Sleep
    clock: Clock
    rng: random.Random
    secrets: tuple[str, ...]

    def unavailable(self) -> ProviderError:
        return ProviderError(
            f"model {self.name!r} is unavailable: circuit breaker open after "
            f"{self.breaker.failures} consecutive failures; next attempt in "
            f"{self.breaker.retry_in():.0f}s"
        )

    def _excerpt(self, response: httpx.Response, texts: Sequence[str]) -> str:
        try:
            body = response.text
        except (UnicodeDecodeError, LookupError):
            body = response.content[:4096].decode("utf-8", "replace")
        return error_excerpt(body, secrets=self.secrets, texts=texts)

    def bad_response(
        self, response: httpx.Response, texts: Sequence[str], reason: str
    ) -> ProviderResponseError:
        status = response.status_code
        return ProviderResponseError(
            f"model {self.name!r}: bad response from {self.provider} (HTTP {status}): {reason}; "
            f"body: {self._excerpt(response, texts)}",
            status_code=status,
        )

    def _check(
        self,
        response: httpx.Response,
        texts: Sequence[str],
        parse: Callable[[httpx.Response, Any], Any],
    ) -> Any:
        try:
            payload = json.loads(response.content)
        except (ValueError, RecursionError):
            raise self.bad_response(response, texts, "the body is not valid JSON") from None
        try:
            return parse(response, payload)
        except BadResponse as exc:
            raise self.bad_response(response, texts, str(exc)) from None
        except KeyError as exc:
            raise self.bad_response(response, texts, f"missing field {exc}") from None
        except (TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError):
            raise self.bad_response(response, texts, "unexpected JSON structure") from None

    def _status_error(
        self, response: httpx.Response, texts: Sequence[str], note: str = ""
    ) -> ProviderHTTPError:
        status = response.status_code
        return ProviderHTTPError(
            f"model {self.name!r}: HTTP {status} from {self.provider}{note}: "
            f"{self._excerpt(response, texts)}",
            status_code=status,
        )

    async def _exchange(
        self, client: httpx.AsyncClient, request: httpx.Request, cap: int
    ) -> httpx.Response:
        """One attempt within the wall-clock deadline; the body read within ``cap`` bytes.

        httpx's timeout bounds each read, not the whole exchange: a server trickling
        one byte at a time would hold the call indefinitely without this deadline.
        """
        async with asyncio.timeout(self.policy.deadline or None):
            streamed = await client.send(request, stream=True)
            try:
                body = await read_capped(streamed, cap)
            finally:
                await streamed.aclose()
        headers = [
            (k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _TRANSFER_HEADERS
        ]
        return httpx.Response(streamed.status_code, headers=headers, content=body, request=request)

    def _refused(self, reason: str) -> ProviderResponseError:
        return ProviderResponseError(
            f"model {self.name!r}: bad response from {self.provider}: {reason}"
        )

    async def _attempt(
        self, client: httpx.AsyncClient, request: httpx.Request, cap: int
    ) -> httpx.Response | ProviderError:
        """A response, or the retryable error of a failed attempt (breaker updated)."""
        try:
            return await self._exchange(client, request, cap)
        except (TimeoutError, httpx.TimeoutException) as exc:
            self.breaker.failure()
            what = "the deadline" if isinstance(exc, TimeoutError) else type(exc).__name__
            return ProviderTimeout(
                f"model {self.name!r}: {self.provider} did not answer in time ({what})"
            )
        except (BodyTooLarge, UnknownEncoding) as exc:
            self.breaker.failure()
            raise self._refused(str(exc)) from None
        except (httpx.UnsupportedProtocol, httpx.ProxyError, httpx.LocalProtocolError) as exc:
            self.breaker.release()
            raise Fatal(
                ProviderError(
                    f"model {self.name!r}: cannot send to {self.provider}: {type(exc).__name__}"
                )
            ) from None
        except httpx.TransportError as exc:
            self.breaker.failure()
            return ProviderError(
                f"model {self.name!r}: connection to {self.provider} failed ({type(exc).__name__})"
            )
        except BaseException:
            self.breaker.release()
            raise

    async def send(
        self,
        client: httpx.AsyncClient,
        request: httpx.Request,
        texts: Sequence[str],
        tokens: int,
        stats: CallStats,
        parse: Callable[[httpx.Response, Any], Any],
        cap: int,
    ) -> Any:
        """Send until success, a permanent error or the retry budget runs out.

        Each attempt has its own deadline; retries are counted in ``stats``. A
        malformed or oversized answer counts as a breaker failure and is not retried.
        """
        retry = 0
        while True:
            if not await self.breaker.admit():
                raise self.unavailable()
            await self.limiter.acquire(tokens)
            stats.requests += 1
            delay: float | None = None
            try:
                outcome = await self._attempt(client, request, cap)
            except ProviderResponseError:
                stats.errors += 1
                raise
            if isinstance(outcome, ProviderError):
                error = outcome
            elif outcome.status_code < 300:
                return self._accept(outcome, texts, parse, stats)
            else:
                response = outcome
                if response.status_code == 413 and len(texts) > 1:
                    self.breaker.success()
                    raise TooLarge
                error, delay, retryable = self._classify(response, texts)
                if not retryable:
                    stats.errors += 1
                    if response.status_code in FATAL_STATUSES:
                        raise Fatal(error)
                    raise error
            stats.errors += 1
            if retry >= self.policy.max_retries:
                if self.policy.max_retries:
                    error.args = (f"{error.args[0]} (after {retry} retries)",)
                raise error
            if delay is None:
                delay = self.policy.backoff(retry, self.rng)
            retry += 1
            stats.retries += 1
            log.warning("%s; retry %d of %d in %.2fs", error, retry, self.policy.max_retries, delay)
            await self.sleep(delay)

    def _accept(
        self,
        response: httpx.Response,
        texts: Sequence[str],
        parse: Callable[[httpx.Response, Any], Any],
        stats: CallStats,
    ) -> Any:
        """Parse a 2xx; a malformed one is a breaker failure (the endpoint is not healthy)."""
        try:
            result = self._check(response, texts, parse)
        except ProviderResponseError:
            self.breaker.failure()
            stats.errors += 1
            raise
        self.breaker.success()
        return result

    def _classify(
        self, response: httpx.Response, texts: Sequence[str]
    ) -> tuple[ProviderError, float | None, bool]:
        """(error, server-requested delay, retry?) for a non-2xx response."""
        status = response.status_code
        if status >= 500:
            self.breaker.failure()
        elif status == 429:
            self.breaker.release()
        else:
            self.breaker.success()
        error = self._status_error(response, texts)
        should = response.headers.get("x-should-retry", "").lower()
        retryable = self.policy.retryable_status(status)
        if should in ("true", "false"):
            retryable = should == "true"
        if status == 429 and b"insufficient_quota" in response.content[:4096]:
            retryable = False
        if not retryable:
            return error, None, False
        delay = retry_after_seconds(response.headers, self.clock)
        if delay is not None and delay > self.policy.retry_after_max:
            note = (
                f" asking to retry after {delay:.0f}s (more than retry_after_max "
                f"{self.policy.retry_after_max:.0f}s)"
            )
            return self._status_error(response, texts, note), None, False
        return error, delay, True
