"""Fuzzed JSON lines through the sample job: every line is read, counted and passed."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.storage.engine import Database
from monitor.storage.schema import SourceCounter, SourcePosition

_N = itertools.count()
_VALUE = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "\x00", "\udc80"]),
)
_LINE = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\n" not in b),
    st.fixed_dictionaries(
        {}, optional={"query": _VALUE, "ts": _VALUE, "tenant": _VALUE, "x": _VALUE}
    ).map(lambda d: json.dumps(d).encode()),
    st.integers(min_value=1, max_value=4000).map(lambda n: b'{"query": "q", "x": ' + b"[" * n),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(_LINE, min_size=1, max_size=12))
def test_fuzzed_lines_never_stop_the_source(
    tmp_path: Path, db: Database, clock: FixedClock, lines: list[bytes]
) -> None:
    n = next(_N)
    log = tmp_path / f"q{n}.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    cfg = tmp_path / f"d{n}.toml"
    cfg.write_text(f"""
[database]
url = "{db.url}"
[[sources]]
name = "s{n}"
path = "{log}"
metadata_fields = ["tenant"]
[sampling]
window = "1d"
""")
    ctx = JobContext(settings=load_settings(cfg), db=db, clock=clock)
    out = run_job(ctx, "sample")
    assert out.status == "ok", out.message
    with db.read() as s:
        read = s.scalar(
            select(SourceCounter.value).where(
                SourceCounter.source == f"s{n}", SourceCounter.counter == "read"
            )
        )
        offset = s.scalar(select(SourcePosition.offset).where(SourcePosition.source == f"s{n}"))
    assert read == len(lines) and offset == log.stat().st_size
