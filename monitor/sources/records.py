"""One query as a source hands it over, and the field mapping shared by every source kind."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from monitor.clock import Clock, as_utc
from monitor.config import SourceSettings

__all__ = [
    "Counts",
    "SourceRecord",
    "decode_embedding",
    "parse_time",
    "record_from_fields",
    "storable_text",
]

#: longest metadata value kept (a stratum label, a tenant id), in characters
MAX_META_CHARS = 200
#: event times outside these years are rejected as ``bad_time``: every window
#: (aligned to the epoch) around them fits in a datetime and in both databases
_MIN_YEAR, _MAX_YEAR = 1900, 9000


class Counts(dict[str, int]):
    """Outcome counters of one read: ``read`` and ``rejected_<reason>``."""

    def add(self, reason: str, n: int = 1) -> None:
        if n:
            self[reason] = self.get(reason, 0) + n

    def merge(self, other: Mapping[str, int]) -> None:
        for k, v in other.items():
            self.add(k, v)


@dataclass(frozen=True)
class SourceRecord:
    """One production query; ``text`` is raw here and is redacted before it is stored.

    ``embedding`` and ``model`` are set when the sender computed the vector itself
    (HTTP ingest): ``model`` names a ``[[models]]`` entry.
    """

    text: str
    event_time: datetime
    meta: dict[str, str] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    model: str | None = None


def storable_text(text: str) -> bool:
    """True when ``text`` can be stored alike on SQLite and PostgreSQL.

    A NUL character (PostgreSQL refuses it in text) or an unpaired surrogate
    (not encodable as UTF-8) makes a record a rejection on every database.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_time(value: object) -> datetime | None:
    """An aware UTC time from ISO 8601 text, epoch seconds or a driver's datetime.

    None when the value is no time, or lies outside the years 1900-9000.
    """
    try:
        when = _parse_time(value)
    except (OverflowError, OSError, ValueError):
        return None
    if when is None or not _MIN_YEAR <= when.year <= _MAX_YEAR:
        return None
    return when


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    return None


def _meta_value(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    try:
        text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    except ValueError:  # an int too long to print
        return None
    return text[:MAX_META_CHARS] if text else None


def decode_embedding(value: object) -> np.ndarray | None:
    """A float32 vector from a JSON list of numbers or base64 of little-endian float32."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if not raw or len(raw) % 4:
            return None
        vec = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif isinstance(value, list) and value:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return None
        try:
            vec = np.asarray(value, dtype=np.float32)
        except (OverflowError, ValueError):  # an int beyond any float
            return None
    else:
        return None
    return vec if bool(np.all(np.isfinite(vec))) else None


def record_from_fields(get: Any, settings: SourceSettings, clock: Clock) -> SourceRecord | str:
    """Map one row or object through the source's field names.

    ``get(name)`` returns the field's value or None. Returns the record, or the
    rejection reason (``missing_text``, ``bad_text``, ``bad_time``,
    ``bad_metadata``, ``bad_embedding``).
    """
    text = get(settings.text_field)
    if not isinstance(text, str) or not text.strip():
        return "missing_text"
    if not storable_text(text):
        return "bad_text"
    when: datetime | None
    if settings.time_field:
        when = parse_time(get(settings.time_field))
        if when is None:
            return "bad_time"
    else:
        when = clock.now()
    meta: dict[str, str] = {}
    for name in (*settings.metadata_fields, settings.stratify_by):
        if name and name not in meta and (value := _meta_value(get(name))) is not None:
            if not storable_text(value):
                return "bad_metadata"
            meta[name] = value
    if settings.kind != "http":
        return SourceRecord(text=text, event_time=when, meta=meta)
    raw_vec, model = get("embedding"), get("model")
    if raw_vec is None and model is None:
        return SourceRecord(text=text, event_time=when, meta=meta)
    vec = decode_embedding(raw_vec)
    if vec is None or not isinstance(model, str) or not model:
        return "bad_embedding"
    return SourceRecord(text=text, event_time=when, meta=meta, embedding=vec, model=model)
