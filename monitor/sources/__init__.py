"""Where production queries come from, and how they are reduced before storage.

Sources read; they never write. Each returns records and the position they take
it to (file offsets, a SQL watermark), and the sampling job stores both in one
transaction.
"""

from __future__ import annotations

from monitor.sources.jsonl import JsonlSource, ReadBatch
from monitor.sources.records import Counts, SourceRecord
from monitor.sources.sampler import (
    OTHER_STRATUM,
    capped_reservoir_slots,
    compile_patterns,
    normalise,
    redact,
    reservoir_rng,
    reservoir_slots,
    text_hash,
    window_start,
)

__all__ = [
    "OTHER_STRATUM",
    "Counts",
    "JsonlSource",
    "ReadBatch",
    "SourceRecord",
    "capped_reservoir_slots",
    "compile_patterns",
    "normalise",
    "redact",
    "reservoir_rng",
    "reservoir_slots",
    "text_hash",
    "window_start",
]
