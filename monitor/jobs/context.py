"""What every job run gets: the settings, the database, providers; ``Skip``; cached embedding."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

from monitor.alerting.webhook import WebhookSender
from monitor.clock import Clock, SystemClock
from monitor.config import CanarySetSettings, ModelSettings, Settings
from monitor.domain import CanaryItemRecord
from monitor.errors import ConfigError, ProviderError
from monitor.providers import EmbeddingProvider, EmbeddingResult, build_provider
from monitor.storage import repository as repo
from monitor.storage.engine import Database

__all__ = [
    "EMBED_BATCH",
    "Embedded",
    "JobContext",
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


@dataclass
class JobContext:
    """What every job needs, built once by the app and passed in."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    replica: str = field(default_factory=default_replica)
    providers: dict[str, EmbeddingProvider] = field(default_factory=dict)
    sender: WebhookSender | None = None
    environ: dict[str, str] | None = None
    cron_periods: dict[str, timedelta] = field(default_factory=dict)
    meter: Any = None  # metrics.ProviderMeter when the app exports provider metrics

    def provider(self, model: ModelSettings) -> EmbeddingProvider:
        if model.name not in self.providers:
            self.providers[model.name] = build_provider(model)
        return self.providers[model.name]

    def embed(self, model: ModelSettings, texts: list[str], kind: str) -> EmbeddingResult:
        """Embed through the model's provider, counting the call in the provider metrics."""
        started = time.perf_counter()
        try:
            result = self.provider(model).embed(texts, kind)  # type: ignore[arg-type]
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
        for p in self.providers.values():
            p.close()
        self.providers.clear()
        if self.sender is not None:
            self.sender.close()


def embed_by_hash(
    ctx: JobContext, model: ModelSettings, mv_id: int, texts: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Query vectors of distinct texts (keyed by text hash) for one model version.

    The query-embedding cache: a text whose hash already has a stored vector for
    this version is not embedded again; the rest are embedded in batches. A text
    the provider failed to embed is absent from the answer; a failing endpoint raises.
    """
    with ctx.db.read() as s:
        known = repo.embeddings_by_hash(s, mv_id, sorted(texts))
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
    for kind in ("query", "document"):
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
