"""Pure helpers of the sampler: windows, text normalisation, hashing, redaction."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

__all__ = ["normalise", "redact", "text_hash", "window_start"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPACE = re.compile(r"\s+")
_REDACTIONS = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d(?!\w)"), "<phone>"),
    (re.compile(r"\d{6,}"), "<number>"),
)


def window_start(when: datetime, window: timedelta) -> datetime:
    """The start of the window (aligned to the Unix epoch) that contains ``when``."""
    seconds = window.total_seconds()
    offset = (when - _EPOCH).total_seconds()
    return _EPOCH + timedelta(seconds=(offset // seconds) * seconds)


def normalise(text: str) -> str:
    """Case- and whitespace-folded text: what counts as 'the same query'."""
    return _SPACE.sub(" ", text).strip().casefold()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def redact(text: str, extra: tuple[re.Pattern[str], ...] = ()) -> str:
    """Mask emails, phone numbers and long digit runs (and any ``extra`` patterns)."""
    for pattern, mask in _REDACTIONS:
        text = pattern.sub(mask, text)
    for pattern in extra:
        text = pattern.sub("<redacted>", text)
    return text
