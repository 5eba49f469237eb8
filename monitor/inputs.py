"""User files: canary sets, qrels, embedding matrices (.npy / JSON lines), id lists.

One reader per kind of file; every mistake is an :class:`InputError` whose one-line
message names the file (and the line, where there is one). Nothing here logs the
text of a canary item or a query.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "Item",
    "Qrel",
    "load_matrix",
    "qrels_by_query",
    "read_canary_set",
    "read_ids",
    "read_qrels",
]

Item = tuple[str, str, str]  # (id, kind, text)
Qrel = tuple[str, str, int]  # (query id, doc id, relevance)

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_QRELS_HEADER = ["query_id", "doc_id", "relevance"]


def _read_text(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} file {path} is a directory") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror}") from None


# --------------------------------------------------------------------------- canary sets


def _items_jsonl(path: Path, text: str) -> list[Item]:
    items: list[Item] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path}:{lineno}: not valid JSON") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object")
        items.append(_item(path, lineno, obj.get("id"), obj.get("kind", "query"), obj.get("text")))
    return items


def _items_csv(path: Path, text: str) -> list[Item]:
    reader = csv.DictReader(text.splitlines())
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


def read_canary_set(path: str, qrels_path: str = "") -> tuple[list[Item], list[Qrel]]:
    """Items and judgements of a canary set, checked: no duplicate ids, no unknown ids."""
    file = Path(path)
    text = _read_text(file, "canary set")
    items = _items_csv(file, text) if file.suffix.lower() == ".csv" else _items_jsonl(file, text)
    if not items:
        raise InputError(f"{file}: the canary set is empty")
    seen: set[str] = set()
    for key, _, _ in items:
        if key in seen:
            raise InputError(f"{file}: duplicate id {key!r}")
        seen.add(key)
    qrels: list[Qrel] = []
    if qrels_path:
        qrels = read_qrels(qrels_path)
        kinds = {key: kind for key, kind, _ in items}
        for q, d, _ in qrels:
            if kinds.get(q) != "query":
                raise InputError(f"{qrels_path}: query id {q!r} is not a query of the canary set")
            if kinds.get(d) != "document":
                raise InputError(f"{qrels_path}: doc id {d!r} is not a document of the canary set")
    return items, qrels


# --------------------------------------------------------------------------- qrels


def read_qrels(path: str) -> list[Qrel]:
    """Judgements from TREC qrels (``qid iter docid rel``) or a TSV with the header
    ``query_id doc_id relevance``; a (query, doc) pair may appear once."""
    lines = [
        (n, line)
        for n, line in enumerate(_read_text(path, "qrels").splitlines(), 1)
        if line.strip()
    ]
    if not lines:
        raise InputError(f"qrels file {path} holds no judgement")
    tsv = lines[0][1].split() == _QRELS_HEADER
    out: list[Qrel] = []
    seen: set[tuple[str, str]] = set()
    for lineno, line in lines[1:] if tsv else lines:
        parts = [p.strip() for p in (line.split("\t") if tsv and "\t" in line else line.split())]
        if len(parts) != (3 if tsv else 4):
            shape = "query_id<TAB>doc_id<TAB>relevance" if tsv else "qid 0 docid rel"
            raise InputError(f"{path}:{lineno}: expected '{shape}'")
        qid, did, grade = (parts[0], parts[1], parts[2]) if tsv else (parts[0], parts[2], parts[3])
        try:
            rel = int(grade)
        except ValueError:
            raise InputError(f"{path}:{lineno}: relevance {grade!r} is not an integer") from None
        if (qid, did) in seen:
            raise InputError(f"{path}:{lineno}: duplicate judgement of {did!r} for {qid!r}")
        seen.add((qid, did))
        out.append((qid, did, rel))
    return out


def qrels_by_query(qrels: list[Qrel]) -> dict[str, dict[str, int]]:
    """``{query id: {doc id: relevance}}`` of :func:`read_qrels` rows."""
    out: dict[str, dict[str, int]] = {}
    for qid, did, rel in qrels:
        out.setdefault(qid, {})[did] = rel
    return out


# --------------------------------------------------------------------------- matrices


def _jsonl_rows(path: Path, what: str) -> list[list[float]]:
    rows: list[list[float]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        message = "is not a .npy array nor a UTF-8 JSON-lines file"
        raise InputError(f"{what} file {path} {message}") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or "embedding" not in record:
            raise InputError(f"{path}: line {lineno}: no 'embedding' field")
        vec = record["embedding"]
        if not isinstance(vec, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in vec
        ):
            raise InputError(f"{path}: line {lineno}: 'embedding' must be a list of numbers")
        if rows and len(vec) != len(rows[0]):
            raise InputError(
                f"{path}: line {lineno}: embedding has {len(vec)} values, "
                f"expected {len(rows[0])} like the first"
            )
        rows.append(vec)
    if not rows:
        raise InputError(f"{what} file {path}: no embeddings found")
    return rows


def _npy(path: Path, what: str) -> NDArray[Any]:
    import numpy as np

    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{what} file {path} is not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):  # pragma: no cover - the magic check rules out .npz
        raise InputError(f"{what} file {path} is an .npz archive; expected one .npy array")
    return arr


def load_matrix(path: str | Path, what: str) -> NDArray[np.float64]:
    """A finite, non-empty (n, d) float array from a ``.npy`` file or JSON lines whose
    records carry an ``embedding`` list; ``what`` names the file's role in messages."""
    import numpy as np

    p = Path(path)
    try:
        with p.open("rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
    except FileNotFoundError:
        raise InputError(f"{what} file {p} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{what} file {p} is a directory") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file {p}: {exc.strerror}") from None
    if magic.startswith(_ZIP_MAGIC):
        raise InputError(f"{what} file {p} is an .npz archive; expected one .npy array")
    if magic == _NPY_MAGIC:
        arr = _npy(p, what)
    elif p.suffix.lower() == ".npy":
        raise InputError(f"{what} file {p} is not a .npy array (no NumPy header) nor JSON lines")
    else:
        arr = np.asarray(_jsonl_rows(p, what), dtype=np.float64)
    if arr.ndim != 2 or 0 in arr.shape:
        raise InputError(
            f"{what} file {p} must hold a non-empty 2-D array (n, d), got shape {arr.shape}"
        )
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InputError(f"{what} file {p} must hold real numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} file {p} contains NaN or inf values")
    return np.asarray(arr, dtype=np.float64)


# --------------------------------------------------------------------------- id lists


def read_ids(path: str, n_rows: int, what: str) -> list[str]:
    """One id per line, as many as ``n_rows``, unique and non-empty."""
    lines = _read_text(path, what).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    ids = [line.strip() for line in lines]
    seen: set[str] = set()
    for lineno, key in enumerate(ids, 1):
        if not key:
            raise InputError(f"{path}:{lineno}: empty id")
        if key in seen:
            raise InputError(f"{path}:{lineno}: duplicate id {key!r}")
        seen.add(key)
    if len(ids) != n_rows:
        raise InputError(f"{what} file {path} has {len(ids)} ids for {n_rows} rows")
    return ids
