"""JSON-lines log files: a glob, read from a remembered position per file.

The source never writes: it returns the records, the new positions and the counts,
and the caller stores all three in one transaction, so a crash re-reads rather
than skips. A partial last line (no newline yet) is left for the next read.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.clock import Clock, as_utc
from monitor.config import SourceSettings
from monitor.domain import QueryRecord

__all__ = ["JsonlSource", "ReadBatch"]


@dataclass
class ReadBatch:
    records: list[QueryRecord] = field(default_factory=list)
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (inode, offset)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, reason: str, n: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + n


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


class JsonlSource:
    """Reads new lines of every file matching ``settings.path``."""

    def __init__(self, settings: SourceSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    @property
    def name(self) -> str:
        return self.settings.name

    def files(self) -> list[str]:
        return sorted(p for p in glob.glob(self.settings.path) if os.path.isfile(p))

    def read(self, positions: dict[str, tuple[int, int]], max_records: int = 100_000) -> ReadBatch:
        """Records appended since ``positions``; stops after ``max_records``."""
        batch = ReadBatch()
        for path in self.files():
            if len(batch.records) >= max_records:
                break
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # rotated away between glob and stat
            inode, offset = positions.get(path, (st.st_ino, 0))
            if inode != st.st_ino or st.st_size < offset:
                batch.count("rotated_or_truncated")
                offset = 0
            with open(path, "rb") as fh:
                fh.seek(offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # partial line: the writer is not done with it
                    offset += len(raw)
                    self._parse(raw, batch)
                    if len(batch.records) >= max_records:
                        break
            batch.positions[path] = (st.st_ino, offset)
        return batch

    def _parse(self, raw: bytes, batch: ReadBatch) -> None:
        batch.count("read")
        if not raw.strip():
            batch.count("rejected_empty_line")
            return
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            batch.count("rejected_not_utf8")
            return
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            batch.count("rejected_malformed_json")
            return
        if not isinstance(obj, dict):
            batch.count("rejected_not_an_object")
            return
        text = obj.get(self.settings.text_field)
        if not isinstance(text, str) or not text.strip():
            batch.count("rejected_missing_text")
            return
        when: datetime | None
        if self.settings.time_field:
            when = _parse_time(obj.get(self.settings.time_field))
            if when is None:
                batch.count("rejected_bad_time")
                return
        else:
            when = self.clock.now()
        batch.records.append(QueryRecord(text=text, event_time=when))
