"""The reservoir write that every source shares (files, SQL, ingest).

One call of :func:`store_records` is one transaction: the reservoir changes, the
vectors, the counters and the source's new position (file offsets, SQL
watermark) commit together, so a crash neither loses nor repeats a record.
Reservoir decisions are planned from the stored state and written with a
compare-and-set on it, so embedding calls (``store_text = false``) happen
outside any write transaction and concurrent writers of one reservoir (two
ingest requests) never both win: the loser plans again.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from monitor.config import SourceSettings, parse_duration
from monitor.errors import MonitorError
from monitor.jobs.context import JobContext, embed_by_hash
from monitor.sources import (
    OTHER_STRATUM,
    Counts,
    SourceRecord,
    capped_reservoir_slots,
    compile_patterns,
    redact,
    reservoir_rng,
    reservoir_slots,
    text_hash,
    window_start,
)
from monitor.storage import samples as samples_store
from monitor.storage import versions as versions_store
from monitor.storage.engine import Session

__all__ = ["StoreResult", "store_records"]

log = logging.getLogger("driftmon.sampling")

_ATTEMPTS = 8


class _Conflict(Exception):
    """Another writer moved a reservoir between planning and writing."""


@dataclass
class StoreResult:
    counts: Counts  # everything counted, as stored in source_counters
    rejected: dict[int, str] = field(default_factory=dict)  # record index -> reason


def store_records(
    ctx: JobContext,
    cfg: SourceSettings,
    records: Sequence[SourceRecord],
    counts: Counts,
    *,
    after: Callable[[Session], None] | None = None,
) -> StoreResult:
    """Offer ``records`` to the source's reservoirs and store all of it in one transaction.

    ``counts`` (what the source counted while reading) are stored with the
    outcomes; ``after(session)`` runs last in the same transaction (positions).
    """
    items, rejected = _prepare(ctx, cfg, records)
    for attempt in range(_ATTEMPTS):
        result = StoreResult(Counts(counts), dict(rejected))
        for reason in rejected.values():
            result.counts.add("rejected_" + reason)
        try:
            _store_once(ctx, cfg, items, result, after)
            return result
        except _Conflict:
            log.debug(
                "source %s: reservoir moved by another writer (attempt %d)", cfg.name, attempt + 1
            )
    raise MonitorError(
        f"source {cfg.name!r}: the reservoir kept changing under {_ATTEMPTS} attempts; try again"
    )


@dataclass
class _Item:
    index: int
    window: datetime
    stratum: str
    raw: str
    event_time: datetime
    meta: dict[str, str]
    vectors: dict[str, np.ndarray]  # model name -> vector the sender computed
    text: str = ""  # redacted: only computed for records that may be stored
    text_hash: str = ""


def _prepare(
    ctx: JobContext, cfg: SourceSettings, records: Sequence[SourceRecord]
) -> tuple[list[_Item], dict[int, str]]:
    """Place each record in its window and stratum; reject what cannot be stored."""
    sampling = ctx.settings.sampling
    window = parse_duration(sampling.window)
    horizon = ctx.clock.now() + parse_duration(sampling.max_future)
    models = {m.name: m for m in ctx.settings.models}
    items: list[_Item] = []
    rejected: dict[int, str] = {}
    for i, rec in enumerate(records):
        if rec.event_time > horizon:
            rejected[i] = "future_time"
            continue
        vectors: dict[str, np.ndarray] = {}
        if rec.embedding is not None:
            model = models.get(rec.model or "")
            if model is None:
                rejected[i] = "unknown_model"
                continue
            if rec.embedding.shape[0] != model.dimensions:
                rejected[i] = "embedding_dimension"
                continue
            vec = rec.embedding.astype(np.float32)
            norm = float(np.linalg.norm(vec))
            if norm == 0.0:
                rejected[i] = "bad_embedding"
                continue
            if model.active:
                vectors[model.name] = vec / norm if model.normalize else vec
        stratum = rec.meta.get(cfg.stratify_by, "") if cfg.stratify_by else ""
        items.append(
            _Item(
                i,
                window_start(rec.event_time, window),
                stratum,
                rec.text,
                rec.event_time,
                rec.meta,
                vectors,
            )
        )
    if cfg.max_identical:  # the cap compares texts of every record, not only the kept ones
        _redact(ctx, items)
    return items, rejected


def _redact(ctx: JobContext, items: Iterable[_Item]) -> None:
    """Redacted text and its hash: what is stored, embedded and compared (never the raw text)."""
    sampling = ctx.settings.sampling
    extra = compile_patterns(sampling.redact_patterns)
    for it in items:
        if not it.text_hash:
            text = redact(it.raw, extra) if sampling.redact else _mask(it.raw, extra)
            it.text, it.text_hash = text, text_hash(text)


def _mask(text: str, extra: tuple[re.Pattern[str], ...]) -> str:
    """Only the configured patterns (``redact = false`` turns off the built-in ones)."""
    for pattern in extra:
        text = pattern.sub("<redacted>", text)
    return text


@dataclass
class _Group:
    state: samples_store.WindowState
    window: datetime
    seen: int
    kept: int
    winners: dict[int, _Item]  # slot -> last record that took it
    outcome: dict[int, str]  # record index -> sampled | replaced


def _store_once(
    ctx: JobContext,
    cfg: SourceSettings,
    items: list[_Item],
    result: StoreResult,
    after: Callable[[Session], None] | None,
) -> None:
    if ctx.settings.sampling.store_text or not items:  # no embedding calls: one transaction
        with ctx.db.transaction() as s:
            groups, mv_ids = _plan(ctx, cfg, s, items, result)
            _write(ctx, cfg, s, groups, _vectors(ctx, groups, mv_ids, result), result, after)
        return
    with ctx.db.transaction() as s:
        groups, mv_ids = _plan(ctx, cfg, s, items, result)
    vectors = _vectors(ctx, groups, mv_ids, result)  # network I/O outside any transaction
    with ctx.db.transaction() as s:
        _write(ctx, cfg, s, groups, vectors, result, after)


def _plan(
    ctx: JobContext, cfg: SourceSettings, s: Session, items: list[_Item], result: StoreResult
) -> tuple[list[_Group], dict[str, int]]:
    """Reservoir decisions for ``items`` from the stored state (nothing written but windows)."""
    if not items:
        return [], {}
    sampling = ctx.settings.sampling
    keys: dict[tuple[datetime, str], list[_Item]] = {}
    for item, stratum in zip(items, _strata(ctx, cfg, items), strict=True):
        keys.setdefault((item.window, stratum), []).append(item)
    states = samples_store.open_windows(
        s, cfg.name, keys
    )  # a write first: SQLite takes its lock now
    mv_ids: dict[str, int] = {}
    if not sampling.store_text or any(it.vectors for it in items):
        now = ctx.clock.now()
        mv_ids = {
            m.name: versions_store.ensure_model_version(s, m.name, dataclasses.asdict(m), now).id
            for m in ctx.models()
        }
    cap = cfg.max_per_stratum if cfg.stratify_by else sampling.max_per_window
    groups = []
    for (window, stratum), members in keys.items():
        state = states[(window, stratum)]
        rng = reservoir_rng(sampling.seed, cfg.name, stratum, window, state.seen)
        if cfg.max_identical:
            slots, filled, seen, kept = capped_reservoir_slots(
                state.seen,
                state.kept,
                cap,
                [it.text_hash for it in members],
                samples_store.slot_hashes(s, state.id),
                cfg.max_identical,
                rng,
            )
        else:
            slots = reservoir_slots(state.seen, state.kept, cap, len(members), rng)
            fill = max(0, min(cap - state.kept, len(members)))
            filled = np.arange(len(members)) < fill
            seen, kept = state.seen + len(members), state.kept + fill
        group = _Group(state, window, seen, kept, {}, {})
        result.counts.add("dropped", int(np.count_nonzero(slots == -1)))
        for i in np.flatnonzero(slots == -2):
            result.rejected[members[i].index] = "identical_cap"
            result.counts.add("rejected_identical_cap")
        for i in np.flatnonzero(slots >= 0):
            outcome = "sampled" if filled[i] else "replaced"
            result.counts.add(outcome)
            group.outcome[members[i].index] = outcome
            group.winners[int(slots[i])] = members[i]
        groups.append(group)
    _redact(ctx, (it for g in groups for it in g.winners.values()))
    return groups, mv_ids


def _strata(ctx: JobContext, cfg: SourceSettings, items: list[_Item]) -> list[str]:
    """Each item's stratum; values beyond ``max_strata`` in a window share ``~other``."""
    if not cfg.stratify_by:
        return ["" for _ in items]
    with ctx.db.read() as s:
        known = samples_store.strata(s, cfg.name, sorted({it.window for it in items}))
    out = []
    for it in items:
        have = known.setdefault(it.window, set())
        if it.stratum not in have:
            if len(have - {OTHER_STRATUM}) >= cfg.max_strata:
                out.append(OTHER_STRATUM)
                continue
            have.add(it.stratum)
        out.append(it.stratum)
    return out


def _write(
    ctx: JobContext,
    cfg: SourceSettings,
    s: Session,
    groups: list[_Group],
    vectors: dict[tuple[int, int], dict[int, np.ndarray]],
    result: StoreResult,
    after: Callable[[Session], None] | None,
) -> None:
    keep_text = ctx.settings.sampling.store_text
    rows: list[samples_store.SampleRow] = []
    for g in groups:
        if g.seen != g.state.seen and not samples_store.advance_window(
            s, g.state.id, g.state.seen, g.seen, g.kept
        ):
            raise _Conflict
        rows.extend(
            samples_store.SampleRow(
                window_id=g.state.id,
                source=cfg.name,
                window_start=g.window,
                slot=slot,
                event_time=it.event_time,
                text_hash=it.text_hash,
                text=it.text if keep_text else None,
                meta=it.meta or None,
            )
            for slot, it in sorted(g.winners.items())
        )
    ids = samples_store.write_samples(s, rows)
    samples_store.save_vectors(
        s,
        (
            (ids[key], mv, vec)
            for key, per_model in vectors.items()
            for mv, vec in per_model.items()
        ),
    )
    samples_store.add_counts(s, cfg.name, result.counts)
    if after is not None:
        after(s)


def _vectors(
    ctx: JobContext, groups: list[_Group], mv_ids: dict[str, int], result: StoreResult
) -> dict[tuple[int, int], dict[int, np.ndarray]]:
    """(window id, slot) -> model version id -> vector, for the records that stay.

    Vectors the sender computed are used as they are. With ``store_text = false``
    every other active model embeds the redacted text now, once per distinct
    text (reusing vectors already stored for its hash); a record whose embedding
    fails is rejected (``embedding_failed``) and its slot keeps its old record. A
    failing endpoint raises, so nothing of the batch is stored.
    """
    need_all = not ctx.settings.sampling.store_text
    out: dict[tuple[int, int], dict[int, np.ndarray]] = {}
    failed: set[tuple[int, int]] = set()
    todo = {(g.state.id, slot): it for g in groups for slot, it in g.winners.items()}
    for m in ctx.models():
        if m.name not in mv_ids:
            continue
        mv = mv_ids[m.name]
        known: dict[str, np.ndarray] = {}
        if need_all:
            texts: dict[str, str] = {}
            for it in todo.values():
                if m.name not in it.vectors:
                    texts.setdefault(it.text_hash, it.text)
            if texts:
                known = embed_by_hash(ctx, m, mv, texts)
        for key, it in todo.items():
            vec = it.vectors.get(m.name)
            if vec is None:
                vec = known.get(it.text_hash)
            if vec is not None:
                out.setdefault(key, {})[mv] = vec
            elif need_all:
                failed.add(key)
    for g in groups:
        for slot in [s for s in g.winners if (g.state.id, s) in failed]:
            it = g.winners.pop(slot)
            out.pop((g.state.id, slot), None)
            result.counts[g.outcome[it.index]] -= 1
            result.counts.add("rejected_embedding_failed")
            result.rejected[it.index] = "embedding_failed"
    return out
