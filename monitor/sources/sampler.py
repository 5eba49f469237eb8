"""Pure helpers of the sampler: windows, normalisation, hashing, redaction, reservoir draws."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = [
    "OTHER_STRATUM",
    "capped_reservoir_slots",
    "compile_patterns",
    "normalise",
    "redact",
    "reservoir_rng",
    "reservoir_slots",
    "text_hash",
    "window_start",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPACE = re.compile(r"\s+")
# Linear time on any input: a match may start only where a run of its characters
# starts (the look-behinds), and the possessive runs (``++``) never give back
# characters that could not end them anyway ('@' and '.' are not in them), so no
# position of the text is scanned more than a bounded number of times.
_REDACTIONS = (
    (re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+"), "<email>"),
    (re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d(?!\w)"), "<phone>"),
    (re.compile(r"\d{6,}"), "<number>"),
)
#: the stratum shared by values beyond ``max_strata`` in one window
OTHER_STRATUM = "~other"


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


def compile_patterns(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """The configured extra redaction patterns (``sampling.redact_patterns``)."""
    return tuple(re.compile(p) for p in patterns)


def redact(text: str, extra: tuple[re.Pattern[str], ...] = ()) -> str:
    """Mask emails, phone numbers and long digit runs (and any ``extra`` patterns)."""
    for pattern in extra:  # first: a site pattern may need the digits the built-ins mask
        text = pattern.sub("<redacted>", text)
    for pattern, mask in _REDACTIONS:
        text = pattern.sub(mask, text)
    return text


def reservoir_rng(
    seed: int, source: str, stratum: str, window: datetime, seen: int
) -> np.random.Generator:
    """The generator of one batch of draws: reproducible from the stored reservoir state."""
    key = [
        seed % 2**63,
        zlib.crc32(source.encode()),
        zlib.crc32(stratum.encode()),
        int(window.timestamp()) % 2**63,
        seen,
    ]
    return np.random.default_rng(key)


def reservoir_slots(seen: int, kept: int, cap: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Slots of ``n`` records offered to a reservoir that has seen ``seen`` (Algorithm R).

    While the reservoir holds fewer than ``cap`` records each record takes the next
    free slot; afterwards the record at 1-based position ``t`` replaces a uniformly
    drawn slot ``j`` in [0, t) when ``j < cap`` and is dropped (-1) otherwise. Every
    record seen so far then sits in the reservoir with probability ``cap / t``
    (Vitter 1985, "Random sampling with a reservoir", ACM TOMS 11(1)). A slot drawn
    twice in one batch ends with the later record, as sequential offers would.
    """
    slots = np.full(n, -1, dtype=np.int64)
    fill = max(0, min(cap - kept, n))
    slots[:fill] = np.arange(kept, kept + fill)
    if n > fill:
        positions = seen + np.arange(fill + 1, n + 1, dtype=np.int64)
        draws = rng.integers(0, positions)
        slots[fill:] = np.where(draws < cap, draws, -1)
    return slots


def capped_reservoir_slots(
    seen: int,
    kept: int,
    cap: int,
    hashes: Sequence[str],
    held: dict[int, str],
    max_identical: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Algorithm R that does not offer a text already held ``max_identical`` times.

    ``held`` maps slot -> text hash of the reservoir now and is updated in place.
    Returns (slots, filled, seen, kept): a slot per record, -1 for dropped, -2 for
    not offered (its text is at the cap); ``filled`` marks records that took a
    free slot. Records not offered do not count as seen, so the reservoir stays a
    uniform sample of the records that were offered.
    """
    copies: dict[str, int] = {}
    for h in held.values():
        copies[h] = copies.get(h, 0) + 1
    slots = np.full(len(hashes), -1, dtype=np.int64)
    filled = np.zeros(len(hashes), dtype=bool)
    for i, h in enumerate(hashes):
        if copies.get(h, 0) >= max_identical:
            slots[i] = -2
            continue
        seen += 1
        if kept < cap:
            slot, kept = kept, kept + 1
            filled[i] = True
        else:
            slot = int(rng.integers(0, seen))
            if slot >= cap:
                continue
        old = held.get(slot)
        if old is not None:
            copies[old] -= 1
        copies[h] = copies.get(h, 0) + 1
        held[slot] = h
        slots[i] = slot
    return slots, filled, seen, kept
