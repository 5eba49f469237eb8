"""The sampling job: new records from every source into per-window reservoir samples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.config import parse_duration
from monitor.errors import InputError
from monitor.sources import JsonlSource, redact, text_hash, window_start
from monitor.storage import repository as repo

if TYPE_CHECKING:
    from monitor.jobs import JobContext

__all__ = ["sample_sources"]


def sample_sources(ctx: JobContext) -> tuple[int, dict[str, Any]]:
    """Read new records from every source into the per-window reservoirs."""
    cfg = ctx.settings.sampling
    window = parse_duration(cfg.window)
    total = 0
    details: dict[str, Any] = {}
    missing: list[str] = []
    with ctx.db.transaction() as s:
        for src_cfg in ctx.settings.sources:
            source = JsonlSource(src_cfg, ctx.clock)
            if not source.files():
                missing.append(f"source {src_cfg.name!r}: no file matches {src_cfg.path}")
                continue
            positions = {p: pos for p in source.files()
                         if (pos := repo.get_position(s, src_cfg.name, p)) is not None}
            batch = source.read(positions)
            rng = np.random.default_rng([cfg.seed, len(positions), sum(
                off for _, off in positions.values())])
            for rec in batch.records:
                kept_text = redact(rec.text) if cfg.redact else rec.text
                outcome = repo.reservoir_offer(
                    s, src_cfg.name, window_start(rec.event_time, window), cfg.max_per_window,
                    rng.integers, text_hash(rec.text),
                    kept_text if cfg.store_text else None, rec.event_time)
                batch.count(outcome)
            for path, (inode, offset) in batch.positions.items():
                repo.set_position(s, src_cfg.name, path, inode, offset, ctx.clock.now())
            repo.add_counters(s, src_cfg.name, batch.counts)
            total += len(batch.records)
            details[src_cfg.name] = dict(batch.counts)
    if missing:  # the other sources' records are committed; this run still fails loudly
        raise InputError("; ".join(missing))
    return total, details
