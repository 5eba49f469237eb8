"""The JSON-lines source on real files: rotation, truncation, copies, long lines, crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from source_helpers import write_settings
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.config import SourceSettings
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.sources import JsonlSource
from monitor.storage.engine import Database
from monitor.storage.schema import QuerySample, SourceCounter, SourcePosition


def _lines(*texts: str) -> str:
    return "".join(json.dumps({"query": t, "ts": "2026-03-02T10:00:00Z"}) + "\n" for t in texts)


def _source(pattern: Path | str, clock: FixedClock, **kw: object) -> JsonlSource:
    return JsonlSource(SourceSettings(name="s", path=str(pattern), **kw), clock)  # type: ignore[arg-type]


def _texts(batch: object) -> list[str]:
    return [r.text for r in batch.records]  # type: ignore[attr-defined]


def test_a_renamed_file_has_its_unread_tail_finished_then_is_forgotten(
    tmp_path: Path, clock: FixedClock
) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_lines("a", "b"))
    src = _source(log, clock)
    first = src.read({})
    with log.open("a") as fh:  # written after our read, before the rotation
        fh.write(_lines("c", "d"))
    os.rename(log, tmp_path / "q.jsonl.1")  # beside the glob, no longer matching it
    log.write_text(_lines("e"))
    rotated = src.read(first.positions, fingerprints=first.fingerprints)
    assert _texts(rotated) == ["c", "d", "e"]  # the old file first
    assert rotated.counts["rotated_or_truncated"] == 1
    assert set(rotated.positions) == {str(log), str(tmp_path / "q.jsonl.1")}
    with (tmp_path / "q.jsonl.1").open("a") as fh:  # the writer had not reopened yet
        fh.write(_lines("f"))
    late = src.read(rotated.positions, fingerprints=rotated.fingerprints)
    assert _texts(late) == ["f"]
    quiet = src.read(late.positions, fingerprints=late.fingerprints)
    assert _texts(quiet) == [] and set(quiet.positions) == {str(log)}  # read out: forgotten


def test_rotation_inside_the_glob_reads_each_line_once(tmp_path: Path, clock: FixedClock) -> None:
    log = tmp_path / "q.jsonl"
    src = _source(tmp_path / "q.jsonl*", clock)
    log.write_text(_lines("a"))
    seen = _texts(batch := src.read({}))
    for gen in range(1, 4):  # logrotate: q.jsonl.N -> N+1, q.jsonl -> .1, a new q.jsonl
        with log.open("a") as fh:
            fh.write(_lines(f"tail{gen}"))
        for n in range(gen - 1, 0, -1):
            os.rename(tmp_path / f"q.jsonl.{n}", tmp_path / f"q.jsonl.{n + 1}")
        os.rename(log, tmp_path / "q.jsonl.1")
        log.write_text(_lines(f"new{gen}"))
        batch = src.read(batch.positions, fingerprints=batch.fingerprints)
        seen += _texts(batch)
    seen += _texts(src.read(batch.positions, fingerprints=batch.fingerprints))
    assert Counter(seen) == Counter(["a", "tail1", "new1", "tail2", "new2", "tail3", "new3"])


def test_truncation_is_seen_by_size_and_by_fingerprint(tmp_path: Path, clock: FixedClock) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_lines("one", "two"))
    src = _source(log, clock)
    b1 = src.read({})
    with log.open("r+") as fh:  # truncated in place, then refilled beyond the old offset
        fh.truncate(0)
        fh.write(_lines("three-is-a-longer-line", "four"))
    b2 = src.read(b1.positions, fingerprints=b1.fingerprints)
    assert _texts(b2) == ["three-is-a-longer-line", "four"]
    assert b2.counts["rotated_or_truncated"] == 1
    log.write_text(_lines("5"))  # shorter than the offset
    assert _texts(src.read(b2.positions, fingerprints=b2.fingerprints)) == ["5"]


def test_a_reused_inode_with_other_content_is_read_from_the_start(
    tmp_path: Path, clock: FixedClock
) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_lines("old", "old2"))
    src = _source(log, clock)
    b1 = src.read({})
    os.remove(log)
    log.write_text(_lines("new file with more text than the old one", "x", "y"))
    # whatever inode the new file got, pretend it got the old one back
    ((_, offset),) = b1.positions.values()
    stale = {str(log): (os.stat(log).st_ino, offset)}
    b2 = src.read(stale, fingerprints=b1.fingerprints)
    assert _texts(b2) == ["new file with more text than the old one", "x", "y"]


def test_a_copytruncate_copy_continues_where_the_original_stopped(
    tmp_path: Path, clock: FixedClock
) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_lines("a", "b", "c"))
    src = _source(tmp_path / "q.jsonl*", clock)
    b1 = src.read({})
    with log.open("a") as fh:
        fh.write(_lines("d", "e"))
    shutil.copy(log, tmp_path / "q.jsonl.1")  # copytruncate: copy, then truncate in place
    with log.open("r+") as fh:
        fh.truncate(0)
    with log.open("a") as fh:
        fh.write(_lines("f"))
    b2 = src.read(b1.positions, fingerprints=b1.fingerprints)
    assert sorted(_texts(b2)) == ["d", "e", "f"]
    assert b2.counts["resumed_copy"] == 1


def test_long_lines_are_skipped_without_holding_them(tmp_path: Path, clock: FixedClock) -> None:
    log = tmp_path / "q.jsonl"
    huge = json.dumps({"query": "x" * 5_000_000})
    log.write_text(_lines("before") + huge + "\n" + _lines("after") + huge[:3_000_000])
    src = _source(log, clock, max_line_bytes=1000)
    b1 = src.read({})
    assert _texts(b1) == ["before", "after"]
    assert b1.counts["rejected_line_too_long"] == 1
    ((_, offset),) = b1.positions.values()
    assert offset == log.stat().st_size - 3_000_000  # the unfinished long line waits
    with log.open("a") as fh:
        fh.write(huge[3_000_000:] + "\n" + _lines("last"))
    b2 = src.read(b1.positions)
    assert _texts(b2) == ["last"] and b2.counts["rejected_line_too_long"] == 1


def test_chunks_are_bounded_and_carry_the_positions_they_reach(
    tmp_path: Path, clock: FixedClock
) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_lines(*[f"q{i}" for i in range(10)]))
    chunks = list(_source(log, clock).chunks({}, chunk_size=3))
    assert [len(c.records) for c in chunks] == [3, 3, 3, 1]
    offsets = [next(iter(c.positions.values()))[1] for c in chunks]
    assert offsets == sorted(offsets) and offsets[-1] == log.stat().st_size
    assert chunks[0].positions != chunks[1].positions


# --------------------------------------------------------------------------- the job


def _config(tmp_path: Path, db: Database, log: Path, chunk: int) -> Path:
    write_settings(
        tmp_path,
        db.url,
        f"""
        [[sources]]
        name = "log"
        path = "{log}"
        [sampling]
        window = "1d"
        max_per_window = 100000
        chunk_size = {chunk}
        """,
    )
    return tmp_path / "driftmon.toml"


def test_a_killed_sampler_resumes_without_losing_or_repeating_a_line(
    tmp_path: Path, db: Database
) -> None:
    n = 8_000
    log = tmp_path / "q.jsonl"
    with log.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"query": f"query {i:05d}", "ts": 1735725600 + i}) + "\n")
    size = log.stat().st_size
    cfg = _config(tmp_path, db, log, chunk=100)
    cmd = [sys.executable, "-m", "monitor", "run-once", "sample", "-c", str(cfg)]

    def committed() -> int:
        with db.read() as s:
            return int(s.scalar(select(SourcePosition.offset)) or 0)

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while committed() == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # mid-chunk: no handler, no cleanup
    finally:
        proc.wait()
    at_kill = committed()
    assert 0 < at_kill < size, "the kill must land mid-file"

    _config(tmp_path, db, log, chunk=5000)  # the chunk size may change across a restart
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with db.read() as s:
        texts = s.scalars(select(QuerySample.text)).all()
        counters = dict(s.execute(select(SourceCounter.counter, SourceCounter.value)).all())
        assert s.scalar(select(SourcePosition.offset)) == size
    assert len(texts) == n and set(texts) == {f"query {i:05d}" for i in range(n)}
    assert counters["read"] == n and counters["sampled"] == n


def test_a_glob_matching_nothing_fails_only_when_nothing_is_tracked(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    log = tmp_path / "q.jsonl"
    log.write_text(_lines("a"))
    ctx = JobContext(
        settings=write_settings(
            tmp_path,
            db.url,
            f"""
        [[sources]]
        name = "log"
        path = "{log}"
        """,
        ),
        db=db,
        clock=clock,
    )
    assert run_job(ctx, "sample").status == "ok"
    with log.open("a") as fh:
        fh.write(_lines("b"))
    os.rename(log, tmp_path / "q.jsonl.1")  # mid-rotation: the new file is not there yet
    out = run_job(ctx, "sample")
    assert (out.status, out.details["log"]["sampled"]) == ("ok", 1)
    os.remove(tmp_path / "q.jsonl.1")
    assert run_job(ctx, "sample").status == "ok"  # forgets the vanished file
    failed = run_job(ctx, "sample")
    assert failed.status == "failed" and "no file matches" in failed.message
