"""Where production queries come from, and how they are reduced before storage."""

from __future__ import annotations

from monitor.sources.jsonl import JsonlSource, ReadBatch
from monitor.sources.sampler import normalise, redact, text_hash, window_start

__all__ = ["JsonlSource", "ReadBatch", "normalise", "redact", "text_hash", "window_start"]
