"""Drift under heavy ingest: samples evicted while their vectors are computed are skipped.

The fast test evicts samples from inside the embedding call (where a real
ingest request can land); the soak drives real HTTP ingest into a running
daemon on PostgreSQL with the drift job every few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.demo_data import queries, write_queries
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.providers import EmbeddingResult, build_provider
from monitor.storage.engine import Database
from monitor.storage.schema import QuerySample

HOUR = timedelta(hours=1)


class _EvictingProvider:
    """Embeds like the real one, and meanwhile deletes samples as an ingest eviction would."""

    def __init__(self, inner: object, db: Database, clock: FixedClock) -> None:
        self.inner, self.db, self.clock, self.evicted = inner, db, clock, 0

    def embed(self, texts: Sequence[str], kind: str) -> EmbeddingResult:
        with self.db.transaction() as s:  # another session, committed before the insert
            cur = s.scalars(
                select(QuerySample.id).where(QuerySample.window_start >= self.clock.now() - HOUR)
            ).all()
            gone = cur[::3]
            s.execute(delete(QuerySample).where(QuerySample.id.in_(gone)))
            self.evicted += len(gone)
        return self.inner.embed(texts, kind)  # type: ignore[attr-defined,no-any-return]

    def close(self) -> None:
        self.inner.close()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:  # dimension, identity, ... of the real one
        return getattr(self.inner, name)


def test_drift_completes_on_the_samples_that_remain(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    (tmp_path / "d.toml").write_text(f"""
[database]
url = "{db.url}"
[[models]]
name = "m"
dimensions = 64
[[sources]]
name = "log"
path = "q.jsonl"
[sampling]
max_per_window = 150
[drift]
reference = "rolling:3h"
permutations = 50
""")
    settings = load_settings(tmp_path / "d.toml")
    rng = np.random.default_rng(3)
    clock.advance(-4 * HOUR)
    for _ in range(4):
        write_queries(tmp_path / "q.jsonl", queries(150, rng), clock.now(), HOUR)
        clock.advance(HOUR)
    clock.advance(-HOUR)  # now inside the last (current) window
    provider = _EvictingProvider(build_provider(settings.model("m")), db, clock)
    ctx = JobContext(settings=settings, db=db, clock=clock)
    ctx.providers["m"] = provider  # type: ignore[assignment]
    assert run_job(ctx, "sample").status == "ok"
    out = run_job(ctx, "drift")
    assert out.status == "ok", out.message
    d = out.details["m"]
    assert provider.evicted > 0 and d["evicted"] > 0
    assert d["n_cur"] + d["evicted"] <= 150 and d["n_cur"] > 0
