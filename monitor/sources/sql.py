"""A query on the application's own database, read forward from a watermark.

The user's query names two bound parameters, ``:watermark`` and ``:limit``, and
orders its rows by the watermark column::

    SELECT id, q AS query, ts FROM search_log WHERE id > :watermark ORDER BY id LIMIT :limit

Values are always bound, never pasted into the SQL. The connection is read only
where the driver allows it (PostgreSQL ``SET TRANSACTION READ ONLY``, SQLite
``PRAGMA query_only``) and every transaction is rolled back.

The watermark is the last row's value, kept with its type (``int:42``,
``datetime:2026-03-02T10:00:00+00:00``, ``str:...``) so the next query binds
exactly what the database returned. When a full batch ends inside a run of
equal watermarks (timestamps), those rows are left for the next query, which
reads the whole run; a run longer than 16 batches is read at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from monitor.clock import Clock
from monitor.config import SourceSettings
from monitor.config.masking import mask_secrets
from monitor.errors import InputError
from monitor.sources.records import Counts, SourceRecord, record_from_fields

__all__ = ["SqlBatch", "SqlSource", "decode_watermark", "encode_watermark"]

_TIE_GROWTH = 16


def encode_watermark(value: object) -> str:
    """A watermark value as ``<type>:<text>`` for the agent's database."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a watermark")
    if isinstance(value, int):
        return f"int:{value}"
    if isinstance(value, float):
        return f"float:{value!r}"
    if isinstance(value, Decimal):
        return f"decimal:{value}"
    if isinstance(value, datetime):
        return f"datetime:{value.isoformat()}"
    if isinstance(value, date):
        return f"date:{value.isoformat()}"
    if isinstance(value, str):
        return f"str:{value}"
    raise TypeError(f"a {type(value).__name__} cannot be a watermark")


def decode_watermark(stored: str) -> object:
    kind, _, raw = stored.partition(":")
    decoders: dict[str, Any] = {
        "int": int,
        "float": float,
        "decimal": Decimal,
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "str": str,
    }
    if kind not in decoders:
        raise ValueError(f"unknown watermark type {kind!r}")
    return decoders[kind](raw)


@dataclass
class SqlBatch:
    records: list[SourceRecord] = field(default_factory=list)
    watermark: object = None
    counts: Counts = field(default_factory=Counts)
    more: bool = False  # the batch was full: more rows may follow


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    # bytes that are not UTF-8 reach the row as surrogates: one rejected row, not a failed query
    dbapi_conn.text_factory = _lenient_text
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only = ON")
    cur.close()


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class SqlSource:
    """Reads rows past the watermark from ``url`` with the configured query."""

    def __init__(self, settings: SourceSettings, clock: Clock, url: str) -> None:
        self.settings = settings
        self.clock = clock
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        try:
            self._shown = mask_secrets(make_url(url).render_as_string(hide_password=True))
            self._engine: Engine = (
                create_engine(url, pool_size=1, max_overflow=0)
                if (not url.startswith("sqlite"))
                else create_engine(url)
            )
        except (ArgumentError, NoSuchModuleError, ModuleNotFoundError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InputError(
                mask_secrets(f"source {settings.name!r}: url is not usable: {first}")
            ) from None
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_read_only)

    @property
    def name(self) -> str:
        return self.settings.name

    def initial_watermark(self) -> object:
        """The watermark before the first read (``watermark_start``, or everything)."""
        start = self.settings.watermark_start
        if self.settings.watermark_kind == "id":
            value = start or "0"
            try:
                return int(value)
            except ValueError:
                return float(value)
        value = start or "1970-01-01T00:00:00+00:00"
        if self._engine.dialect.name == "sqlite":
            return value  # SQLite keeps times as text: compare as written
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def read(self, watermark: object, limit: int) -> SqlBatch:
        """At most ``limit`` records after ``watermark`` (more when a tie run needs it)."""
        want = limit
        while True:
            rows = self._fetch(watermark, want)
            full = len(rows) >= want
            keep = _complete_runs(rows, self.settings.watermark_field) if full else len(rows)
            if keep or not full or want >= limit * _TIE_GROWTH:
                break
            want *= 4  # one watermark value fills the batch: read the whole run
        batch = SqlBatch(watermark=watermark, more=full)
        if full and keep == 0:
            keep = len(rows)
            batch.counts.add("watermark_run_split")  # rows sharing the last value may be missed
        self._check_order(rows[:keep], watermark)
        for row in rows[:keep]:
            batch.counts.add("read")
            got = record_from_fields(row.get, self.settings, self.clock)
            if isinstance(got, str):
                batch.counts.add("rejected_" + got)
            else:
                batch.records.append(got)
        if keep:
            batch.watermark = rows[keep - 1][self.settings.watermark_field]
        return batch

    def _fetch(self, watermark: object, limit: int) -> list[Any]:
        cfg = self.settings
        try:
            with self._engine.connect() as conn:
                if self._engine.dialect.name == "postgresql":
                    conn = conn.execution_options(postgresql_readonly=True)
                try:
                    result = conn.execute(text(cfg.query), {"watermark": watermark, "limit": limit})
                    columns = set(result.keys())
                    rows = list(result.mappings())
                finally:
                    conn.rollback()
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise InputError(
                f"source {cfg.name!r}: the query on {self._shown} failed: "
                f"{detail[0] if detail else type(exc).__name__}"
            ) from exc
        needed = [cfg.watermark_field, cfg.text_field] + (
            [cfg.time_field] if cfg.time_field else []
        )
        missing = [c for c in needed if c not in columns]
        if missing:
            raise InputError(
                f"source {cfg.name!r}: the query returns no column "
                f"{missing[0]!r} (it returns: {', '.join(sorted(columns))})"
            )
        return rows

    def _check_order(self, rows: Sequence[Any], watermark: object) -> None:
        col = self.settings.watermark_field
        prev, first = watermark, True
        for row in rows:
            value = row[col]
            if value is None:
                raise InputError(f"source {self.name!r}: a row has no watermark ({col} is NULL)")
            try:
                comparable = type(value) is type(prev)
                if comparable and first and value <= prev:
                    raise InputError(
                        f"source {self.name!r}: the query returned a row at or "
                        f"below the watermark: filter with '{col} > :watermark'"
                    )
                if comparable and not first and value < prev:
                    raise InputError(
                        f"source {self.name!r}: rows are not ordered by the "
                        f"watermark column: add ORDER BY {col}"
                    )
            except TypeError:  # e.g. naive and aware datetimes: leave it to the database
                pass
            prev, first = value, False

    def close(self) -> None:
        self._engine.dispose()


def _complete_runs(rows: Sequence[Any], column: str) -> int:
    """How many leading rows to keep so that no run of equal watermarks is cut."""
    last = rows[-1][column]
    k = len(rows)
    while k > 0 and rows[k - 1][column] == last:
        k -= 1
    return k
