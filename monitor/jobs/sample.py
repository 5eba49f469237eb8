"""The sampling job: read new records from file and SQL sources into the reservoirs.

HTTP sources push to ``POST /v1/queries`` (``jobs.ingest``); both write through
:func:`monitor.jobs.reservoir.store_records`.
"""

from __future__ import annotations

import logging
from typing import Any

from monitor.config import SourceSettings, resolve_secret
from monitor.errors import InputError, MonitorError
from monitor.jobs.context import JobContext
from monitor.jobs.reservoir import store_records
from monitor.sources import (
    Counts,
    JsonlSource,
)
from monitor.sources.sql import SqlSource, decode_watermark, encode_watermark
from monitor.storage import sources as sources_store
from monitor.storage.engine import Session

__all__ = ["sample_job", "sample_sources"]

log = logging.getLogger("driftmon.sampling")


def sample_job(ctx: JobContext, _model: str | None) -> tuple[int, dict[str, Any]]:
    return sample_sources(ctx)


def sample_sources(ctx: JobContext) -> tuple[int, dict[str, Any]]:
    """Read new records from every file and SQL source into the per-window reservoirs.

    HTTP sources are pushed to ``POST /v1/queries`` and have nothing to read here.
    One failing source does not stop the others; the run still fails, naming it.
    """
    total = 0
    details: dict[str, Any] = {}
    problems: list[str] = []
    for cfg in ctx.settings.sources:
        try:
            if cfg.kind == "jsonl":
                n, counts = _sample_files(ctx, cfg)
            elif cfg.kind == "sql":
                n, counts = _sample_sql(ctx, cfg)
            else:
                continue
        except MonitorError as exc:
            problems.append(str(exc))
            continue
        total += n
        details[cfg.name] = dict(counts)
    if problems:
        raise InputError("; ".join(problems))
    return total, details


def _sample_files(ctx: JobContext, cfg: SourceSettings) -> tuple[int, Counts]:
    with ctx.db.read() as s:
        positions, fingerprints = sources_store.file_positions(s, cfg.name)
    source = JsonlSource(cfg, ctx.clock)
    if not source.files() and not positions:
        raise InputError(f"source {cfg.name!r}: no file matches {cfg.path}")
    total, n = Counts(), 0
    for batch in source.chunks(positions, fingerprints, ctx.settings.sampling.chunk_size):

        def save(
            s: Session,
            pos: dict[str, tuple[int, int]] = batch.positions,
            fps: dict[str, str] = batch.fingerprints,
        ) -> None:
            sources_store.replace_file_positions(s, cfg.name, pos, fps, ctx.clock.now())

        total.merge(store_records(ctx, cfg, batch.records, batch.counts, after=save).counts)
        n += len(batch.records)
    return n, total


def _sample_sql(ctx: JobContext, cfg: SourceSettings) -> tuple[int, Counts]:
    url = cfg.url or resolve_secret(cfg.url_env, f"sources.{cfg.name}.url_env", ctx.environ)
    source = SqlSource(cfg, ctx.clock, url)
    total, n = Counts(), 0
    try:
        with ctx.db.read() as s:
            stored = sources_store.get_watermark(s, cfg.name)
        mark = decode_watermark(stored) if stored is not None else source.initial_watermark()
        while True:
            batch = source.read(mark, ctx.settings.sampling.chunk_size)
            try:
                value = encode_watermark(batch.watermark)
            except TypeError as exc:
                raise InputError(
                    f"source {cfg.name!r}: column {cfg.watermark_field!r} cannot "
                    f"be a watermark ({exc})"
                ) from None

            def save(s: Session, value: str = value) -> None:
                sources_store.set_watermark(s, cfg.name, value, ctx.clock.now())

            moved = batch.watermark != mark
            total.merge(
                store_records(
                    ctx, cfg, batch.records, batch.counts, after=save if moved else None
                ).counts
            )
            n += len(batch.records)
            mark = batch.watermark
            if not (batch.more and moved):
                return n, total
    finally:
        source.close()
