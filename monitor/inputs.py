"""Reading canary set files: JSON lines or CSV items, TREC qrels or TSV judgements."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from monitor.errors import InputError

__all__ = ["read_canary_set"]

Item = tuple[str, str, str]  # (id, kind, text)
Qrel = tuple[str, str, int]  # (query id, doc id, relevance)


def _items_jsonl(path: Path) -> list[Item]:
    items: list[Item] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{path}:{lineno}: not valid JSON") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object")
            items.append(
                _item(path, lineno, obj.get("id"), obj.get("kind", "query"), obj.get("text"))
            )
    return items


def _items_csv(path: Path) -> list[Item]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"id", "text"} <= set(reader.fieldnames):
            raise InputError(f"{path}: a CSV canary set needs the columns id, text (and kind)")
        return [
            _item(path, i + 2, row.get("id"), row.get("kind") or "query", row.get("text"))
            for i, row in enumerate(reader)
        ]


def _item(path: Path, lineno: int, key: object, kind: object, text: object) -> Item:
    if not isinstance(key, str | int) or isinstance(key, bool) or str(key) == "":
        raise InputError(f"{path}:{lineno}: missing or invalid 'id'")
    if kind not in ("query", "document"):
        raise InputError(f"{path}:{lineno}: 'kind' must be 'query' or 'document'")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{path}:{lineno}: empty or missing 'text' for id {key!s}")
    return str(key), str(kind), text


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
    for lineno, parts in rows:
        if len(parts) != 4:
            raise InputError(f"{path}:{lineno}: expected 'qid 0 docid rel'")
        try:
            rel = int(parts[3])
        except ValueError:
            raise InputError(f"{path}:{lineno}: relevance must be an integer") from None
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
        qrels = _qrels(qfile)
        kinds = {key: kind for key, kind, _ in items}
        for q, d, _ in qrels:
            if kinds.get(q) != "query":
                raise InputError(f"{qfile}: query id {q!r} is not a query of the canary set")
            if kinds.get(d) != "document":
                raise InputError(f"{qfile}: doc id {d!r} is not a document of the canary set")
    return items, qrels
