"""Canary set files: formats accepted, every mistake named, nothing imported on error."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import InputError
from monitor.inputs import read_canary_set


def _write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def test_jsonl_and_trec_qrels(tmp_path: Path) -> None:
    items = _write(
        tmp_path,
        "c.jsonl",
        '{"id": "q1", "text": "where is my order"}\n\n'
        '{"id": 7, "kind": "document", "text": "Tracking help"}\n',
    )
    qrels = _write(tmp_path, "c.qrels", "q1 0 7 2\n")
    got_items, got_qrels = read_canary_set(items, qrels)
    assert got_items == [("q1", "query", "where is my order"), ("7", "document", "Tracking help")]
    assert got_qrels == [("q1", "7", 2)]


def test_csv_items_and_tsv_qrels(tmp_path: Path) -> None:
    items = _write(tmp_path, "c.csv", 'id,kind,text\nq1,query,hello\nd1,document,"world, hi"\n')
    qrels = _write(tmp_path, "c.tsv", "query_id\tdoc_id\trelevance\nq1\td1\t1\n")
    assert read_canary_set(items, qrels) == (
        [("q1", "query", "hello"), ("d1", "document", "world, hi")],
        [("q1", "d1", 1)],
    )


@pytest.mark.parametrize(
    "items,qrels,message",
    [
        pytest.param(
            '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n',
            None,
            "duplicate id 'a'",
            id="duplicate-id",
        ),
        pytest.param(
            '{"id": "a", "text": "  "}\n', None, "empty or missing 'text'", id="empty-text"
        ),
        pytest.param(
            '{"id": "a", "text": "x", "kind": "passage"}\n', None, "'kind' must be", id="bad-kind"
        ),
        pytest.param('{"id": "a", "text": "x"\n', None, ":1: not valid JSON", id="bad-json"),
        pytest.param("", None, "empty", id="empty-file"),
        pytest.param('{"id": "a", "text": "x"}\n', "a 0 zz 1\n", "doc id 'zz'", id="unknown-doc"),
        pytest.param(
            '{"id": "a", "text": "x"}\n', "a 0 1\n", "expected 'qid 0 docid rel'", id="short-qrel"
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, items: str, qrels: str | None, message: str) -> None:
    path = _write(tmp_path, "c.jsonl", items)
    qpath = _write(tmp_path, "c.qrels", qrels) if qrels is not None else ""
    with pytest.raises(InputError, match=message):
        read_canary_set(path, qpath)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_canary_set(str(tmp_path / "nope.jsonl"))
    path = _write(tmp_path, "c.jsonl", '{"id": "a", "text": "x"}\n')
    with pytest.raises(InputError, match="qrels file .* does not exist"):
        read_canary_set(path, str(tmp_path / "nope.qrels"))
