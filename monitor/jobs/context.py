"""What every job run gets: the settings, the database, providers; ``Skip``; cached embedding."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from monitor.alerting.webhook import WebhookSender
from monitor.clock import Clock, SystemClock
from monitor.config import CanarySetSettings, ModelSettings, Settings
from monitor.domain import CanaryItemRecord
from monitor.errors import ConfigError, ProviderError
from monitor.metrics import ProviderMeter
from monitor.providers import EmbeddingProvider, EmbeddingResult, Kind, build_provider
from monitor.storage import samples as samples_store
from monitor.storage.engine import Database

__all__ = [
    "EMBED_BATCH",
    "ContextSwitch",
    "Embedded",
    "JobContext",
    "Resources",
    "Skip",
    "default_replica",
    "embed_by_hash",
    "embed_items",
    "find_canary_set",
    "qrels_by_query",
    "split_items",
]

#: texts per embedding request of the query-embedding cache
EMBED_BATCH = 512


def default_replica() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Skip(Exception):
    """A job found nothing to do; recorded as ``skipped``, not a failure."""


class Resources:
    """The providers and webhook sender of one settings generation, built on first use.

    Runs hold a reference while they use them. A reload retires the old generation;
    it is closed when the last run holding it releases it, so a provider is never
    closed under a running ``embed()``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.providers: dict[str, EmbeddingProvider] = {}
        self._sender: WebhookSender | None = None
        self._users = 0
        self._retired = False
        self.closed = False

    def provider(self, model: ModelSettings) -> EmbeddingProvider:
        with self._lock:
            if model.name not in self.providers:
                self.providers[model.name] = build_provider(model)
            return self.providers[model.name]

    def sender(self) -> WebhookSender:
        with self._lock:
            if self._sender is None:
                self._sender = WebhookSender()
            return self._sender

    @property
    def users(self) -> int:
        return self._users

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._retired and self._users == 0:
                self._close()

    def retire(self) -> None:
        """No new run will use these; close them now or when the last user releases them."""
        with self._lock:
            self._retired = True
            if self._users == 0:
                self._close()

    def _close(self) -> None:
        for p in self.providers.values():
            p.close()
        self.providers.clear()
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        self.closed = True


@dataclass(frozen=True)
class JobContext:
    """One settings snapshot and what a run needs with it; a reload makes a new one."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    replica: str = field(default_factory=default_replica)
    environ: Mapping[str, str] | None = None
    cron_periods: Mapping[str, timedelta] = field(default_factory=dict)
    meter: ProviderMeter | None = None
    resources: Resources = field(default_factory=Resources, compare=False)

    @property
    def providers(self) -> dict[str, EmbeddingProvider]:
        """Providers built so far, by model name (tests put fakes here)."""
        return self.resources.providers

    @property
    def sender(self) -> WebhookSender:
        return self.resources.sender()

    def provider(self, model: ModelSettings) -> EmbeddingProvider:
        return self.resources.provider(model)

    def embed(self, model: ModelSettings, texts: list[str], kind: Kind) -> EmbeddingResult:
        """Embed through the model's provider, counting the call in the provider metrics."""
        started = time.perf_counter()
        try:
            result = self.provider(model).embed(texts, kind)
        except ProviderError:
            if self.meter is not None:
                self.meter.observe(
                    model.name,
                    requests=0,
                    retries=0,
                    errors=1,
                    tokens=0,
                    cost=0.0,
                    seconds=time.perf_counter() - started,
                    outcome="error",
                )
            raise
        if self.meter is not None:
            u = result.usage
            self.meter.observe(
                model.name,
                requests=u.requests,
                retries=u.retries,
                errors=u.errors,
                tokens=u.input_tokens,
                cost=u.cost,
                seconds=time.perf_counter() - started,
                outcome="partial" if result.failed else "ok",
            )
        return result

    def models(self, only: str | None = None) -> list[ModelSettings]:
        chosen = [m for m in self.settings.models if m.active]
        if only is not None:
            chosen = [self.settings.model(only)]
        return chosen

    def close(self) -> None:
        """Done with this context: its providers close once no run uses them."""
        self.resources.retire()


class ContextSwitch:
    """The agent's current JobContext; a reload swaps in a new one under a lock.

    A run takes the context with :meth:`use` and keeps that one snapshot to its end;
    the resources of a replaced context close after the last such run.
    """

    def __init__(self, ctx: JobContext) -> None:
        self._lock = threading.Lock()
        self._ctx = ctx

    @property
    def current(self) -> JobContext:
        with self._lock:
            return self._ctx

    @contextmanager
    def use(self) -> Iterator[JobContext]:
        with self._lock:
            ctx = self._ctx
            ctx.resources.acquire()
        try:
            yield ctx
        finally:
            ctx.resources.release()

    def swap(self, new: JobContext) -> JobContext:
        """Make ``new`` current; retire the old context's resources unless ``new`` shares them."""
        with self._lock:
            old, self._ctx = self._ctx, new
        if old.resources is not new.resources:
            old.resources.retire()
        return old


def embed_by_hash(
    ctx: JobContext, model: ModelSettings, mv_id: int, texts: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Query vectors of distinct texts (keyed by text hash) for one model version.

    The query-embedding cache: a text whose hash already has a stored vector for
    this version is not embedded again; the rest are embedded in batches. A text
    the provider failed to embed is absent from the answer; a failing endpoint raises.
    """
    with ctx.db.read() as s:
        known = samples_store.embeddings_by_hash(s, mv_id, sorted(texts))
    pending = [(h, t) for h, t in texts.items() if h not in known]
    for start in range(0, len(pending), EMBED_BATCH):
        chunk = pending[start : start + EMBED_BATCH]
        result = ctx.embed(model, [t for _, t in chunk], "query")
        for i in result.ok_indices:
            known[chunk[int(i)][0]] = result.vectors[int(i)]
    return known


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # (n items, d) in item order
    identity: dict[str, str]


def embed_items(ctx: JobContext, model: ModelSettings, records: list[CanaryItemRecord]) -> Embedded:
    """Every canary item embedded by ``model`` (queries and documents with their prefixes)."""
    out: np.ndarray | None = None
    identity: dict[str, str] = {}
    kinds: tuple[Kind, ...] = ("query", "document")
    for kind in kinds:
        idx = [i for i, r in enumerate(records) if r.kind == kind]
        if not idx:
            continue
        result = ctx.embed(model, [records[i].text for i in idx], kind)
        if result.failed:
            raise ProviderError(
                f"{len(result.failed)} canary items failed to embed; a canary run needs every item"
            )
        if out is None:
            out = np.zeros((len(records), result.vectors.shape[1]), dtype=np.float32)
        out[idx] = result.vectors
        identity.update(result.identity)
    assert out is not None
    return Embedded(out, identity)


def split_items(
    records: list[CanaryItemRecord],
    vectors: np.ndarray,
) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    q = [i for i, r in enumerate(records) if r.kind == "query"]
    d = [i for i, r in enumerate(records) if r.kind == "document"]
    return ([records[i].key for i in q], vectors[q], [records[i].key for i in d], vectors[d])


def qrels_by_query(qrels: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for q, d, rel in qrels:
        out.setdefault(q, {})[d] = rel
    return out


def find_canary_set(settings: Settings, name: str) -> CanarySetSettings:
    for cset in settings.canary_sets:
        if cset.name == name:
            return cset
    raise ConfigError(f"no canary set named {name!r} in [[canary_sets]]")
