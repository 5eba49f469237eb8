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
    "clean_text",
    "decode_embedding",
    "parse_time",
    "record_from_fields",
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
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00
            return None
    return None


def clean_text(value: str) -> str | None:
    """``value`` without NUL characters (PostgreSQL cannot store them), or None when it
    holds a lone surrogate (not encodable: it cannot be hashed, stored or embedded)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value.replace("\x00", "") if "\x00" in value else value


def _meta_value(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**MAX_META_CHARS:
        return None
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
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
        except (OverflowError, ValueError):  # an integer of hundreds of digits
            return None
    else:
        return None
    return vec if bool(np.all(np.isfinite(vec))) else None


def record_from_fields(get: Any, settings: SourceSettings, clock: Clock) -> SourceRecord | str:
    """Map one row or object through the source's field names.

    ``get(name)`` returns the field's value or None. Returns the record, or the
    rejection reason (``missing_text``, ``bad_text``, ``missing_time``, ``bad_time``,
    ``bad_metadata``, ``bad_embedding``).
    """
    text = get(settings.text_field)
    if not isinstance(text, str) or not text.strip():
        return "missing_text"
    cleaned = clean_text(text)
    if cleaned is None:
        return "bad_text"
    when: datetime | None
    if settings.time_field:
        raw_time = get(settings.time_field)
        if raw_time is None:
            return "missing_time"
        when = parse_time(raw_time)
        if when is None:
            return "bad_time"
    else:
        when = clock.now()
    meta: dict[str, str] = {}
    for name in (*settings.metadata_fields, settings.stratify_by):
        if name and name not in meta and (value := _meta_value(get(name))) is not None:
            kept = clean_text(value)
            if kept is None:
                return "bad_metadata"
            meta[name] = kept
    text = cleaned
    if settings.kind != "http":
        return SourceRecord(text=text, event_time=when, meta=meta)
    raw_vec, model = get("embedding"), get("model")
    if raw_vec is None and model is None:
        return SourceRecord(text=text, event_time=when, meta=meta)
    vec = decode_embedding(raw_vec)
    if vec is None or not isinstance(model, str) or not model:
        return "bad_embedding"
    return SourceRecord(text=text, event_time=when, meta=meta, embedding=vec, model=model)
