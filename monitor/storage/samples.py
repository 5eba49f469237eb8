"""Query samples: reservoir windows, the samples in them, and their vectors.

The vectors are the query-embedding cache: one per (sample, model version),
reused for every sample with the same text hash. Callers own the transaction.
The reservoir state is written with a compare-and-set on ``seen``
(:func:`advance_window`), so two writers of one window never both win: the loser
re-plans from the new state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, and_, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.clock import as_utc
from monitor.storage.schema import (
    QueryEmbedding,
    QuerySample,
    SampleWindow,
    SourceCounter,
)
from monitor.storage.vectors import decode_vector, decode_vectors, encode_vector

__all__ = [
    "table_of",
    "upsert",
    "SampleRow",
    "WindowState",
    "add_counts",
    "advance_window",
    "drop_query_embeddings",
    "embeddings_by_hash",
    "latest_window_start",
    "open_windows",
    "samples_missing_embeddings",
    "save_query_embeddings",
    "save_vectors",
    "slot_hashes",
    "strata",
    "window_embeddings",
    "write_samples",
]


@dataclass(frozen=True)
class WindowState:
    id: int
    seen: int
    kept: int


@dataclass(frozen=True)
class SampleRow:
    window_id: int
    source: str
    window_start: datetime
    slot: int
    event_time: datetime
    text_hash: str
    text: str | None
    meta: dict[str, str] | None


# --------------------------------------------------------------------------- reservoirs


def strata(
    session: Session, source: str, window_starts: Sequence[datetime]
) -> dict[datetime, set[str]]:
    """The strata that already have a reservoir, per window."""
    out: dict[datetime, set[str]] = {w: set() for w in window_starts}
    if window_starts:
        rows = session.execute(
            select(SampleWindow.window_start, SampleWindow.stratum).where(
                SampleWindow.source == source, SampleWindow.window_start.in_(window_starts)
            )
        ).all()
        for start, stratum in rows:
            out.setdefault(as_utc(start), set()).add(stratum)
    return out


def table_of(model: type[Any]) -> Table:
    """The Core table of a model: bulk statements without ORM bookkeeping per row."""
    return cast(Table, model.__table__)


def upsert(session: Session, table: Table) -> Any:
    """INSERT ... ON CONFLICT for the two databases driftmon supports."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def add_counts(session: Session, source: str, counts: dict[str, int]) -> None:
    """Add to the source's counters in the database (``value = value + n``: no lost update)."""
    rows = [
        {"source": source, "counter": k, "value": int(v)} for k, v in sorted(counts.items()) if v
    ]
    if rows:
        stmt = upsert(session, table_of(SourceCounter))
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["source", "counter"],
                set_={"value": table_of(SourceCounter).c.value + stmt.excluded.value},
            ),
            rows,
        )


def open_windows(
    session: Session, source: str, keys: Iterable[tuple[datetime, str]], *, lock: bool = False
) -> dict[tuple[datetime, str], WindowState]:
    """The reservoir state of each (window start, stratum), created empty where missing.

    With ``lock`` the rows are locked (``FOR UPDATE`` on PostgreSQL) in id order,
    one order for every writer: concurrent writers of the same windows queue up
    instead of deadlocking or losing their compare-and-set.
    """
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    session.execute(
        upsert(session, table_of(SampleWindow)).on_conflict_do_nothing(),
        [
            {"source": source, "window_start": w, "stratum": st, "seen": 0, "kept": 0}
            for w, st in wanted
        ],
    )
    out: dict[tuple[datetime, str], WindowState] = {}
    for start in range(0, len(wanted), 200):
        part = wanted[start : start + 200]
        rows = session.execute(
            select(
                SampleWindow.id,
                SampleWindow.window_start,
                SampleWindow.stratum,
                SampleWindow.seen,
                SampleWindow.kept,
            ).where(
                SampleWindow.source == source,
                tuple_(SampleWindow.window_start, SampleWindow.stratum).in_(part),
            )
        ).all()
        for wid, ws, stratum, seen, kept in rows:
            out[(as_utc(ws), stratum)] = WindowState(int(wid), int(seen), int(kept))
    if lock and out:
        by_id = {st.id: key for key, st in out.items()}
        locked = session.execute(
            select(SampleWindow.id, SampleWindow.seen, SampleWindow.kept)
            .where(SampleWindow.id.in_(sorted(by_id)))
            .order_by(SampleWindow.id)
            .with_for_update()
        ).all()
        for wid, seen, kept in locked:  # the state as of the lock, not of the first read
            out[by_id[int(wid)]] = WindowState(int(wid), int(seen), int(kept))
    return out


def slot_hashes(session: Session, window_id: int) -> dict[int, str]:
    """slot -> text hash of one reservoir (at most its cap rows)."""
    rows = session.execute(
        select(QuerySample.slot, QuerySample.text_hash).where(QuerySample.window_id == window_id)
    ).all()
    return {int(slot): h for slot, h in rows}


def advance_window(
    session: Session, window_id: int, expected_seen: int, seen: int, kept: int
) -> bool:
    """Set the reservoir's counts if nobody moved it since ``expected_seen`` was read."""
    done = session.execute(
        update(SampleWindow)
        .where(SampleWindow.id == window_id, SampleWindow.seen == expected_seen)
        .values(seen=seen, kept=kept)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def write_samples(session: Session, rows: Sequence[SampleRow]) -> dict[tuple[int, int], int]:
    """Put each row in its (window, slot), evicting what was there; returns the new ids."""
    if not rows:
        return {}
    by_window: dict[int, list[int]] = {}
    for r in rows:
        by_window.setdefault(r.window_id, []).append(r.slot)
    for window_id, slots in by_window.items():
        for start in range(0, len(slots), 500):
            session.execute(
                delete(QuerySample).where(
                    QuerySample.window_id == window_id,
                    QuerySample.slot.in_(slots[start : start + 500]),
                )
            )
    table = table_of(QuerySample)
    result = session.execute(
        insert(table).returning(table.c.id, table.c.window_id, table.c.slot),
        [
            {
                "window_id": r.window_id,
                "source": r.source,
                "window_start": r.window_start,
                "slot": r.slot,
                "event_time": r.event_time,
                "text_hash": r.text_hash,
                "text": r.text,
                "meta": r.meta,
            }
            for r in rows
        ],
    )
    return {(int(w), int(slot)): int(i) for i, w, slot in result.all()}


def save_vectors(session: Session, rows: Iterable[tuple[int, int, np.ndarray]]) -> int:
    """Store (sample id, model version id, vector) rows."""
    values = []
    for sample_id, mv_id, vec in rows:
        blob, dtype, dim = encode_vector(vec)
        values.append(
            {
                "sample_id": sample_id,
                "model_version_id": mv_id,
                "dtype": dtype,
                "dim": dim,
                "vector": blob,
            }
        )
    if values:
        session.execute(insert(table_of(QueryEmbedding)), values)
    return len(values)


def samples_missing_embeddings(
    session: Session, mv_id: int, since: datetime, until: datetime
) -> list[tuple[int, str, str | None]]:
    """(sample id, text hash, text) of samples in [since, until) this version has not embedded."""
    q = (
        select(QuerySample.id, QuerySample.text_hash, QuerySample.text)
        .outerjoin(
            QueryEmbedding,
            and_(
                QueryEmbedding.sample_id == QuerySample.id, QueryEmbedding.model_version_id == mv_id
            ),
        )
        .where(
            QueryEmbedding.sample_id.is_(None),
            QuerySample.window_start >= since,
            QuerySample.window_start < until,
        )
        .order_by(QuerySample.id)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(q).all()]


def embeddings_by_hash(
    session: Session, mv_id: int, hashes: Sequence[str]
) -> dict[str, np.ndarray]:
    """Vectors this version already made for these text hashes: the query-embedding cache."""
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), 500):
        rows = session.execute(
            select(
                QuerySample.text_hash,
                QueryEmbedding.vector,
                QueryEmbedding.dtype,
                QueryEmbedding.dim,
            )
            .join(QueryEmbedding, QueryEmbedding.sample_id == QuerySample.id)
            .where(
                QueryEmbedding.model_version_id == mv_id,
                QuerySample.text_hash.in_(hashes[start : start + 500]),
            )
        ).all()
        for h, blob, dtype, dim in rows:
            out.setdefault(h, decode_vector(blob, dtype, dim))
    return out


def save_query_embeddings(
    session: Session, mv_id: int, pairs: Iterable[tuple[int, np.ndarray]]
) -> int:
    """Store vectors of samples that still exist; returns how many were stored.

    A sample evicted from its reservoir since it was read is skipped. On PostgreSQL
    the surviving rows are key-share locked (skipping rows a concurrent eviction
    holds), so none disappears before this transaction commits.
    """
    wanted = dict(pairs)
    ids = sorted(wanted)
    present: set[int] = set()
    for start in range(0, len(ids), 1000):
        stmt = select(QuerySample.id).where(QuerySample.id.in_(ids[start : start + 1000]))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(key_share=True, skip_locked=True)
        present.update(session.scalars(stmt))
    rows = []
    for sid in (i for i in ids if i in present):
        blob, dtype, dim = encode_vector(wanted[sid])
        rows.append(dict(sample_id=sid, model_version_id=mv_id, dtype=dtype, dim=dim, vector=blob))
    if rows:  # a vector another run stored meanwhile is kept
        session.execute(upsert(session, table_of(QueryEmbedding)).on_conflict_do_nothing(), rows)
    return len(rows)


def latest_window_start(session: Session) -> datetime | None:
    value = session.scalar(select(func.max(QuerySample.window_start)))
    return as_utc(value) if value is not None else None


def window_embeddings(
    session: Session, mv_id: int, since: datetime, until: datetime
) -> tuple[list[int], list[str | None], np.ndarray]:
    """(sample ids, redacted texts, vectors) embedded by ``mv_id`` in [since, until)."""
    rows = session.execute(
        select(
            QuerySample.id,
            QuerySample.text,
            QueryEmbedding.vector,
            QueryEmbedding.dtype,
            QueryEmbedding.dim,
        )
        .join(QueryEmbedding, QueryEmbedding.sample_id == QuerySample.id)
        .where(
            QueryEmbedding.model_version_id == mv_id,
            QuerySample.window_start >= since,
            QuerySample.window_start < until,
        )
        .order_by(QuerySample.id)
    ).all()
    return (
        [r[0] for r in rows],
        [r[1] for r in rows],
        decode_vectors([(r[2], r[3], r[4]) for r in rows]),
    )


def drop_query_embeddings(session: Session, mv_id: int) -> int:
    """Forget every cached query vector of a version (they may predate a model change)."""
    result = session.execute(delete(QueryEmbedding).where(QueryEmbedding.model_version_id == mv_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
