"""Property: whatever a client sends, the running daemon answers below 500 and stores nothing
from a refused request (bodies, headers and lengths fuzzed with hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from server_helpers import TOKEN, Daemon, raw_exchange, running_daemon, status_of

_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)  # surrogates and NUL too
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**50), max_value=10**50),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
)
_TIME = st.one_of(
    st.sampled_from(
        [
            "2026-03-02T11:30:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-13-45",
            "",
        ]
    ),
    _SCALAR,
)
_RECORD = st.fixed_dictionaries(
    {"query": st.one_of(_TEXT, _SCALAR), "ts": _TIME},
    optional={
        "tenant": st.one_of(_SCALAR, st.lists(_SCALAR, max_size=3)),
        "model": st.sampled_from(["m", "nope", ""]),
        "embedding": st.one_of(
            st.lists(st.one_of(st.floats(), st.integers(-(10**40), 10**40)), max_size=20),
            _TEXT,
        ),
    },
)
_NESTED: Any = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=3), max_leaves=20)


def _body(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["records", "ndjson", "nested", "deep", "bytes"]))
    if kind == "records":
        return json.dumps(draw(st.lists(_RECORD, max_size=8))).encode()
    if kind == "ndjson":
        lines = draw(st.lists(st.one_of(_RECORD, _NESTED), max_size=6))
        return b"\n".join(json.dumps(x).encode() for x in lines)
    if kind == "nested":
        return json.dumps(draw(_NESTED)).encode()
    if kind == "deep":
        depth = draw(st.integers(500, 20000))
        return b"[" * depth + b"]" * draw(st.integers(0, depth))
    return bytes(draw(st.binary(max_size=300)))


@st.composite
def requests(draw: Any) -> tuple[bytes, bool]:
    """(raw request, whether its body is sent whole with a correct length)."""
    method = draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "HEAD"]))
    path = draw(st.sampled_from(["/v1/queries", "/v1/queries", "/healthz", "/metrics", "/x%00"]))
    body = _body(draw)
    headers = {"Host": "x"}
    ctype = draw(
        st.sampled_from(
            [
                "application/json",
                "application/x-ndjson",
                "text/plain",
                "application/json; charset=latin-1",
                None,
            ]
        )
    )
    if ctype:
        headers["Content-Type"] = ctype
    auth = draw(
        st.sampled_from([f"Bearer {TOKEN}", f"Bearer {TOKEN}", "Bearer x", "Basic a", None])
    )
    if auth:
        headers["Authorization"] = auth
    length = draw(
        st.sampled_from(["right", "right", "missing", "-1", "abc", "short", "huge", "chunked"])
    )
    whole = length == "right"
    if length == "right":
        headers["Content-Length"] = str(len(body))
    elif length == "short":
        headers["Content-Length"] = str(len(body) + 10)
    elif length == "huge":
        headers["Content-Length"] = str(10**12)
    elif length == "chunked":
        headers["Transfer-Encoding"] = "chunked"
    elif length != "missing":
        headers["Content-Length"] = length
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.sampled_from(["k1", "k2", "x" * 300]))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body, whole


@pytest.mark.slow
def test_no_request_gets_a_5xx_or_stores_anything_when_refused(tmp_path: Path) -> None:
    with running_daemon(tmp_path, f"sqlite:///{tmp_path / 'd.db'}") as daemon:
        _fuzz(daemon)
        assert daemon.alive()
        log = daemon.log_text()
        assert "Traceback" not in log and '"level": "error"' not in log.lower()


def _fuzz(daemon: Daemon) -> None:
    seen: set[int] = set()

    @settings(max_examples=120, deadline=None, database=None)
    @given(requests())
    def one(case: tuple[bytes, bool]) -> None:
        raw, _whole = case
        before = (daemon.samples(), daemon.counter("read"))
        answer = raw_exchange(daemon.address, raw, timeout=30)
        status = status_of(answer)
        seen.add(status)
        assert status < 500, answer[:300]
        if status != 202:
            assert (daemon.samples(), daemon.counter("read")) == before

    one()
    assert 202 in seen and 400 in seen and 401 in seen  # the fuzz reached the handler
