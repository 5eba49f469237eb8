"""``driftmon canary import`` on hostile files: one named line and exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fault_helpers import assert_clean, driftmon, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main
from monitor.storage.engine import Database

ITEMS = [
    {"id": "q1", "kind": "query", "text": "how do I reset my password"},
    {"id": "d1", "kind": "document", "text": "Resetting a password: open settings."},
    {"id": "d2", "kind": "document", "text": "Billing questions go to finance."},
]
QRELS = "q1 0 d1 2\nq1 0 d2 0\n"


def _files(folder: Path, items: bytes, qrels: bytes, suffix: str = ".jsonl") -> tuple[Path, Path]:
    (folder / f"set{suffix}").write_bytes(items)
    (folder / "set.qrels").write_bytes(qrels)
    return folder / f"set{suffix}", folder / "set.qrels"


def _config(folder: Path, db: Database, items: Path, qrels: Path) -> Path:
    return write_config(
        folder,
        db.url,
        f"""
        [[models]]
        name = "prod"
        dimensions = 32
        [[canary_sets]]
        name = "core"
        path = "{items}"
        qrels = "{qrels}"
        """,
    )


def _good_items() -> bytes:
    return "".join(json.dumps(i) + "\n" for i in ITEMS).encode()


DEEP = "[" * 3000 + "]" * 3000
#: (case id, items bytes, qrels bytes, file suffix, words the error line names)
BAD = [
    ("qrels not UTF-8", _good_items(), b"q1 0 d1 \xff\n", ".jsonl", "not UTF-8"),
    (
        "deep JSON",
        b'{"id": "q1", "text": ' + DEEP.encode() + b"}\n",
        QRELS.encode(),
        ".jsonl",
        "JSON",
    ),
    ("lone surrogate", b'{"id": "q1", "text": "x \\udc80"}\n', b"", ".jsonl", "surrogate"),
    ("NUL in text", b'{"id": "q1", "text": "x \\u0000"}\n', b"", ".jsonl", "NUL"),
    ("NUL in id", b'{"id": "q\\u0000", "text": "x"}\n', b"", ".jsonl", "NUL"),
    ("NUL in CSV", b"id,kind,text\nq1,query,a\x00b\n", b"", ".csv", "NUL"),
    ("CSV field over 128 KiB", b'id,kind,text\nq1,query,"' + b"a" * (20 << 20), b"", ".csv", "CSV"),
    ("duplicate judgement", _good_items(), b"q1 0 d1 2\nq1 0 d1 1\n", ".jsonl", "duplicate"),
    ("30-digit grade", _good_items(), b"q1 0 d1 " + b"9" * 30 + b"\n", ".jsonl", "range"),
    ("huge JSON number", b'{"id": ' + b"9" * 5000 + b', "text": "x"}\n', b"", ".jsonl", "JSON"),
]


@pytest.mark.parametrize(
    ("items", "qrels", "suffix", "named"),
    [pytest.param(i, q, s, n, id=case) for case, i, q, s, n in BAD],
)
def test_a_bad_canary_file_is_one_named_line(
    tmp_path: Path,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    items: bytes,
    qrels: bytes,
    suffix: str,
    named: str,
) -> None:
    cfg = _config(tmp_path, db, *_files(tmp_path, items, qrels, suffix))
    code = main(["canary", "import", "-c", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and named in err, err


def test_the_installed_command_names_the_problem(tmp_path: Path, db: Database) -> None:
    cfg = _config(tmp_path, db, *_files(tmp_path, _good_items(), b"q1 0 d1 \xff\n"))
    done = driftmon("canary", "import", "-c", str(cfg))
    assert_clean(done)
    assert done.returncode == 2 and "not UTF-8" in done.stderr


_MUTATION = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\x00", b"\xff", b"\\udc80", b"\\u0000", b"[" * 1200, b"9" * 40, b'"']),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    where=st.sampled_from(["items", "qrels"]),
    at=st.integers(min_value=0, max_value=200),
    junk=_MUTATION,
    csv_items=st.booleans(),
)
def test_fuzzed_canary_files_never_crash(
    tmp_path: Path,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    where: str,
    at: int,
    junk: bytes,
    csv_items: bool,
) -> None:
    if csv_items:
        good = "id,kind,text\n" + "".join(f"{i['id']},{i['kind']},{i['text']}\n" for i in ITEMS)
        items, suffix = good.encode(), ".csv"
    else:
        items, suffix = _good_items(), ".jsonl"
    qrels = QRELS.encode()
    if where == "items":
        items = items[:at] + junk + items[at:]
    else:
        qrels = qrels[:at] + junk + qrels[at:]
    cfg = _config(tmp_path, db, *_files(tmp_path, items, qrels, suffix))
    code = main(["canary", "import", "-c", str(cfg)])  # an uncaught exception fails the test
    err = capsys.readouterr().err
    assert code in (0, 2)
    assert code == 0 or err.count("\n") == 1, err
