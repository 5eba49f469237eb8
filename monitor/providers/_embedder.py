"""The shared engine of HTTP providers: prepare, batch, send concurrently, validate, assemble."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import numpy as np

from monitor import __version__
from monitor.clock import Clock, SystemClock
from monitor.config import ModelSettings, parse_duration, resolve_secret
from monitor.errors import ConfigError, ProviderError
from monitor.providers._http import CallStats, Fatal, Sender, TooLarge
from monitor.providers._loop import LoopThread
from monitor.providers._policy import CircuitBreaker, RateLimiter, RetryPolicy, Sleep
from monitor.providers._text import Prepared, plan_batches, prepare_texts
from monitor.providers._wire import Parsed, check_finite, finish, rows_to_matrix
from monitor.providers.base import EmbeddingResult, Kind, Usage

__all__ = ["HTTPEmbedder", "Runtime"]

log = logging.getLogger("monitor.providers")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One CA bundle load per process (it costs tens of milliseconds), shared by all clients."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class Runtime:
    """The side effects a provider uses; tests pass fakes (no wall-clock sleeping)."""

    transport: httpx.AsyncBaseTransport | None = None
    sleep: Sleep = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    environ: Mapping[str, str] | None = None


@dataclass
class _Piece:
    positions: Sequence[int]
    matrix: np.ndarray | None = None
    tokens: int | None = None
    identity: dict[str, str] = field(default_factory=dict)
    error: ProviderError | None = None


class HTTPEmbedder(ABC):
    """Base of the HTTP wire formats; subclasses say how to ask and how to read the answer."""

    provider: ClassVar[str] = "http"
    max_items: ClassVar[int] = 2048  # documented items-per-request limit of the API
    batch_tokens: ClassVar[int] = 0  # documented tokens-per-request limit (0 = none)
    identity_headers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: ModelSettings, runtime: Runtime | None = None) -> None:
        rt = runtime or Runtime()
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        if not self.base_url:
            raise ConfigError(
                f"models.{settings.name}.base_url: required for provider {settings.provider!r}"
            )
        self._key = (
            resolve_secret(settings.api_key_env, f"models.{settings.name}.api_key_env", rt.environ)
            if settings.api_key_env
            else ""
        )
        total = parse_duration(settings.timeout).total_seconds()
        connect = parse_duration(settings.connect_timeout).total_seconds()
        self._timeout = httpx.Timeout(total, connect=min(total, connect))
        self._transport = rt.transport
        self._breaker = CircuitBreaker(
            settings.breaker_threshold,
            parse_duration(settings.breaker_reset).total_seconds(),
            rt.monotonic,
        )
        self._limiter = RateLimiter(
            settings.requests_per_second, settings.tokens_per_minute, rt.monotonic, rt.sleep
        )
        self._sender = Sender(
            settings.name,
            settings.provider,
            RetryPolicy.from_settings(settings),
            self._breaker,
            self._limiter,
            rt.sleep,
            rt.clock,
            rt.rng,
            (self._key,) if self._key else (),
        )
        self._runner = LoopThread(f"driftmon-{settings.name}")
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._last_identity: dict[str, str] = {}

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"{type(self).__name__}(name={s.name!r}, model={s.model!r}, base_url={self.base_url!r})"
        )

    @property
    def dimension(self) -> int:
        return self.settings.dimensions

    @property
    def breaker_state(self) -> str:
        return self._breaker.state

    # ------------------------------------------------------------------ wire-format hooks

    @abstractmethod
    def url(self) -> str:
        """The endpoint of one embedding request."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    @abstractmethod
    def body(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        """The JSON request body for one batch."""

    @abstractmethod
    def parse(self, response: httpx.Response, payload: Any, n: int) -> Parsed:
        """Vectors, usage and identity from one response."""

    async def probe(self, client: httpx.AsyncClient) -> dict[str, str]:
        """Identity the endpoint reports outside embedding responses (TEI /info, ...)."""
        return {}

    def limits(self) -> tuple[int, int]:
        """(items, estimated tokens) per request."""
        s = self.settings
        return min(s.batch_size, self.max_items), s.max_batch_tokens or self.batch_tokens

    def header_identity(self, response: httpx.Response) -> dict[str, str]:
        return {h: response.headers[h] for h in self.identity_headers if h in response.headers}

    # ------------------------------------------------------------------ public face

    def embed(self, texts: Sequence[str], kind: Kind = "query") -> EmbeddingResult:
        """Embed ``texts`` (blocking); safe to call from several threads."""
        return self._runner.run(self.aembed(list(texts), kind))

    async def aembed(self, texts: Sequence[str], kind: Kind = "query") -> EmbeddingResult:
        """Embed ``texts`` on the running loop (always the same loop for one provider)."""
        if kind not in ("query", "document"):
            raise ValueError(f"kind must be 'query' or 'document', not {kind!r}")
        started = time.perf_counter()
        s = self.settings
        client = self._client_here()
        prefix = s.query_prefix if kind == "query" else s.document_prefix
        prep = prepare_texts(
            texts,
            prefix,
            max_tokens=s.max_input_tokens,
            rule=s.truncate,
            chars_per_token=s.chars_per_token,
        )
        stats = CallStats()
        identity = await self._probe(client) if prep.texts else {}
        items, budget = self.limits()
        tasks = [
            asyncio.ensure_future(self._batch(client, prep, list(b), kind, stats))
            for b in plan_batches(prep.tokens, items, budget)
        ]
        try:
            outcomes = await asyncio.gather(*tasks)
        except Fatal as exc:
            await self._cancel(tasks)
            raise exc.error from None
        except BaseException:
            await self._cancel(tasks)
            raise
        pieces = [p for outcome in outcomes for p in outcome]
        return self._assemble(len(texts), prep, pieces, identity, stats, started)

    def close(self) -> None:
        """Close connections and stop the private loop; a later ``embed`` starts afresh."""
        client, loop = self._client, self._client_loop
        if client is not None and loop is self._runner.loop:
            self._client = self._client_loop = self._semaphore = None
            self._runner.close(client.aclose())
        else:
            self._runner.close()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self._client_loop = self._semaphore = None
        if client is not None:
            await client.aclose()

    def __enter__(self) -> HTTPEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _client_here(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None:
            n = self.settings.max_concurrency
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
                verify=_ssl_context(),
                limits=httpx.Limits(max_connections=n + 2, max_keepalive_connections=n + 2),
                headers={"User-Agent": f"driftmon/{__version__}"},
            )
            self._client_loop = loop
            self._semaphore = asyncio.Semaphore(n)
        elif self._client_loop is not loop:
            raise RuntimeError(
                "a provider serves one event loop: use embed() from threads, "
                "or aembed() from a single loop"
            )
        return self._client

    @staticmethod
    async def _cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _probe(self, client: httpx.AsyncClient) -> dict[str, str]:
        if self._breaker.state != "closed":
            return {}
        try:
            return await self.probe(client)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.debug(
                "model %s: identity probe failed (%s)", self.settings.name, type(exc).__name__
            )
            return {}

    async def _batch(
        self,
        client: httpx.AsyncClient,
        prep: Prepared,
        positions: list[int],
        kind: Kind,
        stats: CallStats,
    ) -> list[_Piece]:
        assert self._semaphore is not None
        texts = [prep.texts[p] for p in positions]
        tokens = sum(prep.tokens[p] for p in positions)
        async with self._semaphore:
            try:
                parsed, matrix = await self._request(client, texts, kind, tokens, stats)
                return [_Piece(positions, matrix, parsed.tokens, parsed.identity)]
            except TooLarge:
                pass
            except ProviderError as exc:
                return [_Piece(positions, error=exc)]
        half = len(positions) // 2
        log.info(
            "model %s: HTTP 413 for %d inputs; splitting the batch",
            self.settings.name,
            len(positions),
        )
        left, right = await asyncio.gather(
            self._batch(client, prep, positions[:half], kind, stats),
            self._batch(client, prep, positions[half:], kind, stats),
        )
        return left + right

    async def _request(
        self, client: httpx.AsyncClient, texts: list[str], kind: Kind, tokens: int, stats: CallStats
    ) -> tuple[Parsed, np.ndarray]:
        request = client.build_request(
            "POST", self.url(), json=self.body(texts, kind), headers=self.headers()
        )

        def parse(response: httpx.Response, payload: Any) -> tuple[Parsed, np.ndarray]:
            parsed = self.parse(response, payload, len(texts))
            matrix = rows_to_matrix(parsed.rows, len(texts), self.dimension)
            check_finite(matrix)
            parsed.identity.update(self.header_identity(response))
            return parsed, matrix

        result: tuple[Parsed, np.ndarray] = await self._sender.send(
            client, request, texts, tokens, stats, parse
        )
        return result

    def _assemble(
        self,
        n: int,
        prep: Prepared,
        pieces: list[_Piece],
        probed: dict[str, str],
        stats: CallStats,
        started: float,
    ) -> EmbeddingResult:
        s = self.settings
        vectors = np.zeros((n, self.dimension), dtype=np.float32)
        failed = set(prep.skipped) | set(prep.empty)
        errors: list[ProviderError] = []
        tokens = 0
        seen: dict[str, list[str]] = {k: [v] for k, v in probed.items()}
        for piece in pieces:
            rows = [prep.indices[p] for p in piece.positions]
            if piece.error is not None or piece.matrix is None:
                failed.update(rows)
                if piece.error is not None:
                    errors.append(piece.error)
                continue
            vectors[rows] = piece.matrix
            tokens += (
                piece.tokens
                if piece.tokens is not None
                else sum(prep.tokens[p] for p in piece.positions)
            )
            for key, value in piece.identity.items():
                if value not in seen.setdefault(key, []):
                    seen[key].append(value)
        if n and len(failed) == n and errors:
            self._raise_all_failed(errors)
        if errors:
            log.warning(
                "model %s: %d of %d texts failed; first error: %s",
                s.name,
                len(failed),
                n,
                errors[0],
            )
        if prep.skipped or prep.empty:
            log.warning(
                "model %s: %d empty and %d over-long texts were not sent",
                s.name,
                len(prep.empty),
                len(prep.skipped),
            )
        zero = finish(vectors, failed, s.normalize)
        if zero:
            log.warning("model %s: the endpoint returned %d all-zero vectors", s.name, len(zero))
        identity = {k: " | ".join(v) for k, v in seen.items()}
        self._note_identity(identity)
        usage = Usage(
            input_tokens=tokens,
            requests=stats.requests,
            retries=stats.retries,
            errors=stats.errors,
            latency_seconds=time.perf_counter() - started,
            cost=tokens * s.price_per_million_tokens / 1e6,
            truncated=prep.truncated,
        )
        return EmbeddingResult(
            vectors=vectors,
            usage=usage,
            failed=frozenset(failed),
            identity=identity,
            zero_rows=zero,
        )

    def _raise_all_failed(self, errors: list[ProviderError]) -> None:
        if self._breaker.state != "closed":
            error = self._sender.unavailable()
            error.args = (f"{error.args[0]} (last error: {errors[0]})",)
            raise error from None
        raise errors[0]

    def _note_identity(self, identity: dict[str, str]) -> None:
        changed = {
            k: (self._last_identity[k], v)
            for k, v in identity.items()
            if k in self._last_identity and self._last_identity[k] != v
        }
        if changed:
            log.warning(
                "model %s: the endpoint now reports a different identity: %s",
                self.settings.name,
                ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items())),
            )
        self._last_identity.update(identity)
