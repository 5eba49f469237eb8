"""A bad record never stops a source: it is counted ``rejected_<reason>`` and read past.

Each run is the installed ``driftmon run-once sample`` in a subprocess, on SQLite
and PostgreSQL (the agent's database); the SQL source's own database is SQLite,
which can hold the NUL and lone-surrogate text a PostgreSQL agent must not store.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fault_helpers import assert_clean, driftmon, write_config
from sqlalchemy import select

from monitor.storage.engine import Database
from monitor.storage.schema import QuerySample, SourceCounter, SourcePosition

TS = "2026-03-02T10:00:00+00:00"
#: (raw JSON line, the reason it is rejected with)
DEEP = "[" * 3000 + "]" * 3000
POISON = [
    (f'{{"query": "bad \\udc80 text", "ts": "{TS}"}}', "rejected_bad_text"),
    (f'{{"query": "q", "tenant": "\\ud800", "ts": "{TS}"}}', "rejected_bad_metadata"),
    (f'{{"query": "q", "ts": "{TS}", "x": {DEEP}}}', "rejected_too_deep"),
    ('{"query": "q", "ts": "0001-01-01T00:00:00+01:00"}', "rejected_bad_time"),
    ('{"query": "q", "ts": "9999-12-31T23:59:59-01:00"}', "rejected_bad_time"),
    ('{"query": "q", "ts": ' + "9" * 5000 + "}", "rejected_malformed_json"),
    ('{"query": "q", "ts": 1e308}', "rejected_bad_time"),
]
GOOD = 51
#: NUL is stripped (alike on SQLite and PostgreSQL, which cannot store it): stored, not rejected
NUL = [
    (f'{{"query": "nul \\u0000 text", "tenant": "a", "ts": "{TS}"}}', "nul  text"),
    (f'{{"query": "nul tenant", "tenant": "t\\u0000", "ts": "{TS}"}}', "nul tenant"),
]


def _counters(db: Database) -> dict[str, int]:
    with db.read() as s:
        return dict(s.execute(select(SourceCounter.counter, SourceCounter.value)).all())  # type: ignore[arg-type]


def _texts(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(QuerySample.text)).all())


def test_poison_lines_are_counted_and_the_offset_moves_past_them(
    tmp_path: Path, db: Database
) -> None:
    log = tmp_path / "q.jsonl"
    good = [json.dumps({"query": f"good {i}", "tenant": "a", "ts": TS}) for i in range(GOOD)]
    lines = [good[0], *(p for p, _ in POISON), *(p for p, _ in NUL), *good[1:]]
    log.write_text("\n".join(lines) + "\n")
    cfg = write_config(
        tmp_path,
        db.url,
        f"""
        [[sources]]
        name = "log"
        path = "{log}"
        metadata_fields = ["tenant"]
        [sampling]
        window = "1d"
        max_per_window = 1000
        """,
    )
    for _ in range(2):  # the second run has nothing left to read
        done = driftmon("run-once", "sample", "-c", str(cfg))
        assert_clean(done)
        assert done.returncode == 0, done.stderr
    counters = _counters(db)
    assert counters["read"] == GOOD + len(POISON) + len(NUL)
    expected: dict[str, int] = {}
    for _, reason in POISON:
        expected[reason] = expected.get(reason, 0) + 1
    assert {k: v for k, v in counters.items() if k.startswith("rejected_")} == expected
    kept = [f"good {i}" for i in range(GOOD)] + [text for _, text in NUL]
    assert sorted(_texts(db)) == sorted(kept)
    with db.read() as s:
        assert s.scalar(select(SourcePosition.offset)) == log.stat().st_size


ORDER = "ORDER BY id LIMIT :limit"


def test_poison_rows_do_not_stick_a_sql_watermark(tmp_path: Path, db: Database) -> None:
    app = tmp_path / "app.db"
    rows = [
        (1, "good one", TS, "a"),
        (2, "nul \x00 text", TS, "a"),
        (3, "lone \udc80", TS, "a"),
        (4, "early", "0001-01-01T00:00:00+01:00", "a"),
        (5, "late", "9999-12-31T23:59:59-01:00", "a"),
        (6, "bad tenant", TS, "t\x00"),
        (7, "good two", TS, "a"),
    ]
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, q TEXT, ts TEXT, tenant TEXT)")
    for row in rows:  # a lone surrogate only goes in as bytes SQLite does not check
        conn.execute(
            "INSERT INTO log VALUES (?, CAST(? AS TEXT), ?, CAST(? AS TEXT))",
            (row[0], row[1].encode("utf-8", "surrogatepass"), row[2], row[3].encode()),
        )
    conn.commit()
    conn.close()
    cfg = write_config(
        tmp_path,
        db.url,
        f"""
        [[sources]]
        name = "app"
        kind = "sql"
        url = "sqlite:///{app}"
        query = "SELECT id, q AS query, ts, tenant FROM log WHERE id > :watermark {ORDER}"
        metadata_fields = ["tenant"]
        [sampling]
        window = "1d"
        max_per_window = 1000
        """,
    )
    done = driftmon("run-once", "sample", "-c", str(cfg))
    assert_clean(done)
    assert done.returncode == 0, done.stderr
    counters = _counters(db)
    assert counters["read"] == len(rows)
    assert sorted(_texts(db)) == ["bad tenant", "good one", "good two", "nul  text"]  # NUL stripped
    assert sum(v for k, v in counters.items() if k.startswith("rejected_")) == 3
    assert counters.get("rejected_bad_time") == 2


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_parse_time_rejects_times_beyond_the_calendar(value: str) -> None:
    from monitor.sources.records import parse_time

    assert parse_time(value) is None
