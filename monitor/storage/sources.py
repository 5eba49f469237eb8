"""What each source has read: file positions, SQL watermarks, and answers of ingest requests
kept under their idempotency keys. Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from monitor.storage.samples import table_of, upsert
from monitor.storage.schema import IngestRequest, SourcePosition, SourceWatermark

__all__ = [
    "file_positions",
    "find_ingest_answer",
    "get_watermark",
    "prune_ingest_answers",
    "replace_file_positions",
    "save_ingest_answer",
    "set_watermark",
]


# --------------------------------------------------------------------------- files


def file_positions(
    session: Session,
    source: str,
) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """(path -> (inode, offset), path -> fingerprint) of every file the source tracks."""
    rows = session.execute(
        select(
            SourcePosition.path,
            SourcePosition.inode,
            SourcePosition.offset,
            SourcePosition.fingerprint,
        ).where(SourcePosition.source == source)
    ).all()
    return ({r[0]: (int(r[1]), int(r[2])) for r in rows}, {r[0]: r[3] for r in rows if r[3]})


def replace_file_positions(
    session: Session,
    source: str,
    positions: dict[str, tuple[int, int]],
    fingerprints: dict[str, str],
    now: datetime,
) -> None:
    """Make the stored positions exactly ``positions`` (files no longer tracked go)."""
    session.execute(delete(SourcePosition).where(SourcePosition.source == source))
    if positions:
        session.execute(
            insert(table_of(SourcePosition)),
            [
                {
                    "source": source,
                    "path": path,
                    "inode": inode,
                    "offset": offset,
                    "fingerprint": fingerprints.get(path) or None,
                    "updated_at": now,
                }
                for path, (inode, offset) in positions.items()
            ],
        )


# --------------------------------------------------------------------------- SQL watermarks


def get_watermark(session: Session, source: str) -> str | None:
    return session.scalar(select(SourceWatermark.value).where(SourceWatermark.source == source))


def set_watermark(session: Session, source: str, value: str, now: datetime) -> None:
    done = session.execute(
        update(SourceWatermark)
        .where(SourceWatermark.source == source)
        .values(value=value, updated_at=now)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        session.execute(insert(SourceWatermark).values(source=source, value=value, updated_at=now))


# --------------------------------------------------------------------------- idempotency keys


def find_ingest_answer(
    session: Session, source: str, key: str
) -> tuple[int, dict[str, Any]] | None:
    """(status, answer) of the request stored under ``key``, if any."""
    row = session.execute(
        select(IngestRequest.status, IngestRequest.answer).where(
            IngestRequest.source == source, IngestRequest.key == key
        )
    ).first()
    return (int(row[0]), dict(row[1])) if row is not None else None


def save_ingest_answer(
    session: Session, source: str, key: str, status: int, answer: dict[str, Any], now: datetime
) -> bool:
    """Keep the answer under ``key``; False when another request holds the key already."""
    done = session.execute(
        upsert(session, table_of(IngestRequest)).on_conflict_do_nothing(),
        [{"source": source, "key": key, "created_at": now, "status": status, "answer": answer}],
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def prune_ingest_answers(session: Session, before: datetime) -> int:
    """Forget keys stored before ``before``; returns how many."""
    done = session.execute(delete(IngestRequest).where(IngestRequest.created_at < before))
    return int(done.rowcount)  # type: ignore[attr-defined]
