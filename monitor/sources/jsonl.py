"""JSON-lines log files: a glob, each file followed by inode from a remembered offset.

The source never writes: it yields records with the positions they take the files
to, and the caller stores both in one transaction, so a crash re-reads rather
than skips, and a committed chunk is never read again. A partial last line (no
newline yet) is left for the next read.

Files are known by inode, and by a fingerprint of their first bytes (so a reused
inode is not mistaken for the file read before):

- a file renamed away (``q.jsonl`` -> ``q.jsonl.1``) is found again under a
  glob match or beside its old path, and its unread tail is finished; once
  fully read and no longer growing it is forgotten;
- a file shorter than its offset, or whose first bytes changed, was truncated
  and is read from the start;
- a new file whose first bytes equal those of a file that was truncated or
  vanished is that file's copy (``copytruncate``) and continues at its offset.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from monitor.clock import Clock
from monitor.config import SourceSettings
from monitor.sources.records import Counts, SourceRecord, record_from_fields

__all__ = ["JsonlSource", "ReadBatch"]

#: bytes of a file's head that identify it
FINGERPRINT_BYTES = 256
#: a head shorter than this is too weak to recognise a copied file by
_MIN_COPY_FINGERPRINT = 64
_BLOCK = 1 << 20


@dataclass
class ReadBatch:
    """Records of one chunk, the positions after it (every tracked file) and the counts."""

    records: list[SourceRecord] = field(default_factory=list)
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (inode, off)
    fingerprints: dict[str, str] = field(default_factory=dict)  # path -> "n:sha256"
    counts: Counts = field(default_factory=Counts)

    def count(self, reason: str, n: int = 1) -> None:
        self.counts.add(reason, n)


@dataclass
class _File:
    path: str
    inode: int
    offset: int
    mtime: float


def fingerprint(path: str, length: int) -> str:
    """``"<n>:<sha256>"`` of the first ``n = min(length, 256)`` bytes, or "" when n is 0."""
    n = min(length, FINGERPRINT_BYTES)
    if n <= 0:
        return ""
    try:
        with open(path, "rb") as fh:
            head = fh.read(n)
    except OSError:
        return ""
    return f"{len(head)}:{hashlib.sha256(head).hexdigest()}"


def _head_matches(path: str, fp: str) -> bool:
    n, _, _ = fp.partition(":")
    return n.isdigit() and fingerprint(path, int(n)) == fp


class JsonlSource:
    """Reads new lines of every file matching ``settings.path``."""

    def __init__(self, settings: SourceSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    @property
    def name(self) -> str:
        return self.settings.name

    def files(self) -> list[str]:
        return sorted(p for p in glob.glob(self.settings.path, recursive=True) if os.path.isfile(p))

    def read(
        self,
        positions: dict[str, tuple[int, int]],
        max_records: int = 100_000,
        fingerprints: dict[str, str] | None = None,
    ) -> ReadBatch:
        """Every record appended since ``positions`` (up to about ``max_records``), in one batch."""
        out = ReadBatch()
        for batch in self.chunks(positions, fingerprints, chunk_size=max_records):
            out.records.extend(batch.records)
            out.counts.merge(batch.counts)
            out.positions, out.fingerprints = batch.positions, batch.fingerprints
            if len(out.records) >= max_records:
                break
        return out

    def chunks(
        self,
        positions: dict[str, tuple[int, int]],
        fingerprints: dict[str, str] | None = None,
        chunk_size: int = 5000,
    ) -> Iterator[ReadBatch]:
        """Batches of at most ``chunk_size`` lines; each carries every file's position after it.

        Always yields at least one batch, so new, moved and forgotten files are saved.
        """
        plan, counts = self._resolve(positions, fingerprints or {})
        state = {f.path: (f.inode, f.offset) for f in plan}
        stable: dict[str, str] = {}  # fingerprints of files read past their first 256 bytes
        batch = ReadBatch(counts=counts)
        lines = 0
        for f in plan:
            for raw, end in self._lines(f.path, f.offset):
                if raw is None:
                    batch.count("read")
                    batch.count("rejected_line_too_long")
                else:
                    self._parse(raw, batch)
                state[f.path] = (f.inode, end)
                lines += 1
                if lines >= chunk_size:
                    yield self._seal(batch, state, stable)
                    batch, lines = ReadBatch(), 0
        yield self._seal(batch, state, stable)

    @staticmethod
    def _seal(
        batch: ReadBatch, state: dict[str, tuple[int, int]], stable: dict[str, str]
    ) -> ReadBatch:
        batch.positions = dict(state)
        for path, (_, offset) in state.items():
            fp = stable.get(path) or fingerprint(path, offset)
            if offset >= FINGERPRINT_BYTES:
                stable[path] = fp
            batch.fingerprints[path] = fp
        return batch

    # ------------------------------------------------------------------ finding files

    def _resolve(
        self, positions: dict[str, tuple[int, int]], fps: dict[str, str]
    ) -> tuple[list[_File], Counts]:
        """Where every tracked file is now, and which matching files are new."""
        counts = Counts()
        matches: dict[str, os.stat_result] = {}
        for p in self.files():
            try:
                matches[p] = os.stat(p)
            except FileNotFoundError:
                continue  # rotated away between glob and stat
        by_inode = {st.st_ino: p for p, st in matches.items()}
        listings: dict[str, dict[int, str]] = {}
        plan: dict[int, _File] = {}
        lost: list[tuple[int, str]] = []  # (offset, fingerprint) of truncated or vanished files
        for path, (inode, offset) in positions.items():
            fp = fps.get(path, "")
            where = self._locate(path, inode, by_inode, listings)
            if where is None or (fp and not _head_matches(where, fp)):
                counts.add("rotated_or_truncated")  # gone, or its inode now holds another file
                lost.append((offset, fp))
                continue
            if where != path:
                counts.add("rotated_or_truncated")
            try:
                st = os.stat(where)
            except FileNotFoundError:
                lost.append((offset, fp))
                continue
            if st.st_size < offset:
                if where == path:
                    counts.add("rotated_or_truncated")
                lost.append((offset, fp))
                offset = 0
            elif where == path and where not in matches and st.st_size == offset:
                continue  # a rotated file, read to its end and no longer growing: forget it
            plan.setdefault(inode, _File(where, inode, offset, st.st_mtime))
        for path, st in matches.items():
            if st.st_ino in plan:
                continue
            offset = 0
            for i, (lost_offset, fp) in enumerate(lost):
                if (
                    fp
                    and int(fp.partition(":")[0]) >= _MIN_COPY_FINGERPRINT
                    and st.st_size >= lost_offset
                    and _head_matches(path, fp)
                ):
                    offset = lost_offset
                    counts.add("resumed_copy")
                    del lost[i]
                    break
            plan[st.st_ino] = _File(path, st.st_ino, offset, st.st_mtime)
        return sorted(plan.values(), key=lambda f: (f.mtime, f.path)), counts

    @staticmethod
    def _locate(
        path: str, inode: int, by_inode: dict[int, str], listings: dict[str, dict[int, str]]
    ) -> str | None:
        try:
            if os.stat(path).st_ino == inode:
                return path
        except FileNotFoundError:
            pass
        if inode in by_inode:
            return by_inode[inode]
        folder = os.path.dirname(path) or "."
        if folder not in listings:
            try:
                with os.scandir(folder) as it:
                    listings[folder] = {
                        e.inode(): e.path for e in it if e.is_file(follow_symlinks=False)
                    }
            except OSError:
                listings[folder] = {}
        return listings[folder].get(inode)

    # ------------------------------------------------------------------ reading lines

    def _lines(self, path: str, offset: int) -> Iterator[tuple[bytes | None, int]]:
        """(complete line, offset after it); None for a line over ``max_line_bytes``."""
        limit = self.settings.max_line_bytes
        try:
            fh = open(path, "rb")
        except OSError:
            return
        with fh:
            fh.seek(offset)
            pos, rest, skipping = offset, b"", False
            while block := fh.read(_BLOCK):
                parts = (rest + block).split(b"\n")
                rest = parts.pop()
                for line in parts:
                    pos += len(line) + 1
                    if skipping:
                        skipping = False
                        yield None, pos
                    elif len(line) + 1 > limit:
                        yield None, pos
                    else:
                        yield line, pos
                if len(rest) > limit:  # no newline in sight: drop the bytes, keep the start
                    pos += len(rest)
                    rest, skipping = b"", True
            # a partial (or over-long, unfinished) last line waits for the writer

    def _parse(self, raw: bytes, batch: ReadBatch) -> None:
        counts = batch.counts
        counts["read"] = counts.get("read", 0) + 1
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
        except ValueError:  # malformed, or an integer beyond the digit limit
            batch.count("rejected_malformed_json")
            return
        except RecursionError:
            batch.count("rejected_too_deep")
            return
        if not isinstance(obj, dict):
            batch.count("rejected_not_an_object")
            return
        got = record_from_fields(obj.get, self.settings, self.clock)
        if isinstance(got, str):
            batch.count("rejected_" + got)
        else:
            batch.records.append(got)
