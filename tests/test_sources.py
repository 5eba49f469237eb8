"""The JSON-lines source: positions, partial lines, rotation and bad lines."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.clock import FixedClock
from monitor.config import SourceSettings
from monitor.sources import JsonlSource, normalise, redact, text_hash, window_start


def _source(path: Path, clock: FixedClock, **kw: str) -> JsonlSource:
    return JsonlSource(SourceSettings(name="s", path=str(path), **kw), clock)


def test_reads_only_complete_new_lines_and_counts_bad_ones(
    tmp_path: Path, clock: FixedClock
) -> None:
    f = tmp_path / "q.jsonl"
    f.write_bytes(
        b'{"query": "a", "ts": "2026-03-02T10:00:00Z"}\n'
        b"not json\n"
        b'{"query": ""}\n'
        b"\xff\xfe\n"
        b"[1, 2]\n"
        b'{"query": "b", "ts": "yesterday"}\n'
        b'{"query": "c", "ts": 1772445600}\n'
        b'{"query": "partial"'
    )
    src = _source(f, clock)
    batch = src.read({})
    assert [r.text for r in batch.records] == ["a", "c"]
    assert batch.records[1].event_time == datetime.fromtimestamp(1772445600, UTC)
    assert batch.counts == {
        "read": 7,
        "rejected_malformed_json": 1,
        "rejected_missing_text": 1,
        "rejected_not_utf8": 1,
        "rejected_not_an_object": 1,
        "rejected_bad_time": 1,
    }
    ((inode, offset),) = batch.positions.values()
    with f.open("ab") as fh:
        fh.write(b', "ts": "2026-03-02T11:00:00Z"}\n')
    again = src.read({str(f): (inode, offset)})
    assert [r.text for r in again.records] == ["partial"]


def test_truncation_and_rotation_start_over(tmp_path: Path, clock: FixedClock) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text('{"query": "one"}\n{"query": "two"}\n')
    src = _source(f, clock, time_field="")
    pos = src.read({}).positions
    f.write_text('{"query": "three"}\n')  # truncated and rewritten
    batch = src.read(pos)
    assert [r.text for r in batch.records] == ["three"]
    assert batch.records[0].event_time == clock.now()
    os.rename(f, tmp_path / "q.jsonl.1")
    f.write_text('{"query": "four"}\n')  # rotated: a new inode at the same path
    rotated = src.read(batch.positions)
    assert [r.text for r in rotated.records] == ["four"]
    assert rotated.counts["rotated_or_truncated"] == 1


def test_windows_hashing_and_redaction() -> None:
    t = datetime(2026, 3, 2, 10, 59, 59, tzinfo=UTC)
    assert window_start(t, timedelta(hours=1)) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert window_start(t, timedelta(minutes=15)) == datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
    assert normalise("  Where IS\tmy order ") == "where is my order"
    assert text_hash("Where is my order") == text_hash("where  is my ORDER")
    masked = redact("mail jane.doe@corp.example or call +1 (555) 123-4567, card 4111111111111111")
    assert "jane" not in masked and "555" not in masked and "4111" not in masked
    assert masked.count("<") == 3
