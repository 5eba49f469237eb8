"""Reading canary set files: JSON lines or CSV items, TREC qrels or TSV judgements."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from monitor.errors import InputError

__all__ = ["read_canary_set"]

Item = tuple[str, str, str]  # (id, kind, text)
Qrel = tuple[str, str, int]  # (query id, doc id, relevance)

#: the largest relevance grade stored (the column is a 32-bit integer)
MAX_GRADE = 2**31 - 1
#: the largest CSV field read, in characters (a canary text is a query or a document)
MAX_CSV_FIELD = 16 << 20


def _items_jsonl(path: Path) -> list[Item]:
    items: list[Item] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):  # malformed, too deep, a number too long
                raise InputError(
                    f"{path}:{lineno}: not valid JSON (or nested too deeply)"
                ) from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object")
            items.append(
                _item(path, lineno, obj.get("id"), obj.get("kind", "query"), obj.get("text"))
            )
    return items


def _items_csv(path: Path) -> list[Item]:
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            if not reader.fieldnames or not {"id", "text"} <= set(reader.fieldnames):
                raise InputError(f"{path}: a CSV canary set needs the columns id, text (and kind)")
            return [
                _item(path, i + 2, row.get("id"), row.get("kind") or "query", row.get("text"))
                for i, row in enumerate(reader)
            ]
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def _item(path: Path, lineno: int, key: object, kind: object, text: object) -> Item:
    if not isinstance(key, str | int) or isinstance(key, bool) or str(key) == "":
        raise InputError(f"{path}:{lineno}: missing or invalid 'id'")
    if kind not in ("query", "document"):
        raise InputError(f"{path}:{lineno}: 'kind' must be 'query' or 'document'")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{path}:{lineno}: empty or missing 'text' for id {key!r}")
    if not (_storable(str(key)) and _storable(text)):
        raise InputError(
            f"{path}:{lineno}: 'id' or 'text' holds a NUL character or an unpaired surrogate"
        )
    return str(key), str(kind), text


def _storable(text: str) -> bool:
    """Text both databases store alike: no NUL, encodable as UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _qrels(path: Path) -> list[Qrel]:
    out: list[Qrel] = []
    with path.open(encoding="utf-8") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    if lines and lines[0].split() == ["query_id", "doc_id", "relevance"]:
        rows = [
            (i + 2, ln.split("\t") if "\t" in ln else ln.split()) for i, ln in enumerate(lines[1:])
        ]
        rows = [(n, [r[0], "0", r[1], r[2]] if len(r) == 3 else r) for n, r in rows]
    else:
        rows = [(i + 1, ln.split()) for i, ln in enumerate(lines)]
    seen: set[tuple[str, str]] = set()
    for lineno, parts in rows:
        if len(parts) != 4:
            raise InputError(f"{path}:{lineno}: expected 'qid 0 docid rel'")
        try:
            rel = int(parts[3])
        except ValueError:
            raise InputError(f"{path}:{lineno}: relevance must be an integer") from None
        if abs(rel) > MAX_GRADE:
            raise InputError(f"{path}:{lineno}: relevance is out of range (at most {MAX_GRADE})")
        if (parts[0], parts[2]) in seen:
            raise InputError(f"{path}:{lineno}: a second judgement of ({parts[0]!r}, {parts[2]!r})")
        seen.add((parts[0], parts[2]))
        out.append((parts[0], parts[2], rel))
    return out


def read_canary_set(path: str, qrels_path: str = "") -> tuple[list[Item], list[Qrel]]:
    """Items and judgements of a canary set, checked: no duplicate ids, no unknown ids."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"canary set file {file} does not exist")
    try:
        items = _items_csv(file) if file.suffix.lower() == ".csv" else _items_jsonl(file)
    except UnicodeDecodeError:
        raise InputError(f"{file}: not UTF-8 text") from None
    if not items:
        raise InputError(f"{file}: the canary set is empty")
    seen: set[str] = set()
    for key, _, _ in items:
        if key in seen:
            raise InputError(f"{file}: duplicate id {key!r}")
        seen.add(key)
    qrels: list[Qrel] = []
    if qrels_path:
        qfile = Path(qrels_path)
        if not qfile.is_file():
            raise InputError(f"qrels file {qfile} does not exist")
        try:
            qrels = _qrels(qfile)
        except UnicodeDecodeError:
            raise InputError(f"{qfile}: not UTF-8 text") from None
        kinds = {key: kind for key, kind, _ in items}
        for q, d, _ in qrels:
            if kinds.get(q) != "query":
                raise InputError(f"{qfile}: query id {q!r} is not a query of the canary set")
            if kinds.get(d) != "document":
                raise InputError(f"{qfile}: doc id {d!r} is not a document of the canary set")
    return items, qrels
