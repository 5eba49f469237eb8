"""The abuse cases of the reliability probe, each against a running ``driftmon run`` daemon."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import (
    AUTH,
    DRIFTMON,
    STATUS_TOKEN,
    Daemon,
    free_port,
    json_body,
    post_body,
    raw_exchange,
    records,
    running_daemon,
    status_of,
    write_config,
)

TS = "2026-03-02T11:30:00Z"


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "x", **headers}.items())
    return f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode()


def _answer_to_head(daemon: Daemon, head: bytes) -> bytes:
    """Send only the head of a request and read what comes back before any body is sent."""
    with socket.create_connection(daemon.address, timeout=10) as s:
        s.sendall(head)
        return s.recv(65536)


def _threads(daemon: Daemon) -> int:
    assert daemon.proc is not None
    status = Path(f"/proc/{daemon.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads")))


def test_lengths_framing_and_tokens_are_checked_before_the_body(daemon: Daemon) -> None:
    json_ct = {"Content-Type": "application/json"}
    for length in ("-1", "abc", "0x10", "1.5", "1e3"):
        for path in ("/v1/queries", "/healthz"):
            answer = raw_exchange(
                daemon.address, _head(path, {"Content-Length": length}) + b"x" * 4096
            )
            assert status_of(answer) == 400, (path, length, answer[:80])
    assert status_of(raw_exchange(daemon.address, _head("/v1/queries", {**AUTH, **json_ct}))) == 400
    chunked = _head("/v1/queries", {**AUTH, **json_ct, "Transfer-Encoding": "chunked"})
    assert status_of(raw_exchange(daemon.address, chunked + b"5\r\nhello\r\n0\r\n\r\n")) == 411
    # 300 MB promised: refused on the head alone, without the token or over the cap
    huge = {**json_ct, "Content-Length": str(300 << 20)}
    assert status_of(_answer_to_head(daemon, _head("/v1/queries", huge))) == 401
    wrong = {**huge, "Authorization": "Bearer nope"}
    assert status_of(_answer_to_head(daemon, _head("/v1/queries", wrong))) == 401
    assert status_of(_answer_to_head(daemon, _head("/v1/queries", {**huge, **AUTH}))) == 413
    # a client that sends its (too large) body anyway still reads the 413
    big = json.dumps(records(1)).encode() + b" " * (3 << 19)
    resp = httpx.post(daemon.url + "/v1/queries", content=big, headers={**AUTH, **json_ct})
    assert resp.status_code == 413 and "over the limit" in resp.json()["error"]
    # a body shorter than its length, then a half-close: not stored
    body = json.dumps(records(3)).encode()
    short = post_body("/v1/queries", body[: len(body) // 2], {"Content-Length": str(len(body))})
    assert status_of(raw_exchange(daemon.address, short)) in (0, 400)
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        resp = httpx.request(method, daemon.url + "/v1/queries", headers=AUTH)
        assert resp.status_code == 405 and resp.headers["allow"] == "POST", method
    assert daemon.samples() == 0 and daemon.counter("read") == 0
    assert daemon.alive() and "Traceback" not in daemon.log_text()


def _post(daemon: Daemon, body: bytes, ct: str = "application/json") -> httpx.Response:
    return httpx.post(
        daemon.url + "/v1/queries", content=body, headers={**AUTH, "Content-Type": ct}, timeout=30
    )


def test_hostile_records_are_refused_or_rejected_by_reason(daemon: Daemon) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert _post(daemon, deep).status_code == 400
    assert (
        _post(daemon, b'[{"query": "q", "ts": 1, "tenant": ' + b"9" * 5000 + b"}]").status_code
        == 400
    )
    ndjson = b"\n".join([b'{"query": "fine", "ts": "' + TS.encode() + b'"}', b"[" * 5000])
    resp = _post(daemon, ndjson, "application/x-ndjson")
    assert resp.status_code == 202 and resp.json()["rejected_by_reason"] == {"nested_too_deep": 1}
    cases = [
        ({"query": "lone \udc80 surrogate", "ts": TS}, "bad_text"),
        ({"query": "q", "ts": TS, "tenant": "t\udc80"}, "bad_metadata"),
        ({"query": "q", "ts": "0001-01-01T00:00:00+01:00"}, "bad_time"),
        ({"query": "q", "ts": "9999-12-31T23:59:59-01:00"}, "bad_time"),
        ({"query": "q", "ts": 1e300}, "bad_time"),
        ({"query": "q"}, "missing_time"),
        (
            {"query": "q", "ts": TS, "model": "m", "embedding": [10**400] + [1] * 15},
            "bad_embedding",
        ),
    ]
    body = json.dumps([c[0] for c in cases] + [{"query": "nul\u0000byte", "ts": TS}]).encode()
    resp = _post(daemon, body)
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert [e["reason"] for e in doc["errors"]] == [c[1] for c in cases]
    assert doc["accepted"] == 1
    assert daemon.scalar("SELECT count(*) FROM query_samples WHERE text = 'nulbyte'") == 1
    assert daemon.alive() and "Traceback" not in daemon.log_text()


def test_concurrent_requests_create_one_model_version(daemon: Daemon) -> None:
    def send(i: int, out: list[int]) -> None:
        vec = [float(i + 1)] * 16
        body = [{"query": f"q{i}", "ts": TS, "model": "m", "embedding": vec}]
        out.append(_post(daemon, json.dumps(body).encode()).status_code)

    codes: list[int] = []
    threads = [threading.Thread(target=send, args=(i, codes)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [202] * 6
    assert daemon.scalar("SELECT count(*) FROM model_versions") == 1


@pytest.mark.slow
def test_slow_idle_and_silent_clients_are_cut_off(tmp_path: Path) -> None:
    with running_daemon(tmp_path, f"sqlite:///{tmp_path / 'd.db'}") as daemon:
        threads_before = _threads(daemon)
        socks: list[tuple[str, socket.socket]] = []
        for _ in range(20):
            trickle = socket.create_connection(daemon.address)
            trickle.sendall(b"POST /v1/queries HTTP/1.1\r\nHost: x\r\n")
            socks.append(("trickle", trickle))
            socks.append(("idle", socket.create_connection(daemon.address)))
            silent = socket.create_connection(daemon.address)
            silent.sendall(post_body("/v1/queries", b"[", {"Content-Length": "500"}))
            socks.append(("silent", silent))
            headers = socket.create_connection(daemon.address)
            headers.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            socks.append(("unfinished", headers))
        for _, s in socks:
            s.setblocking(False)
        start = time.monotonic()
        open_socks = dict(enumerate(socks))
        cut: dict[str, list[float]] = {}
        while open_socks and time.monotonic() - start < 20:
            for i, (kind, s) in list(open_socks.items()):
                try:
                    if kind == "trickle":
                        s.send(b"X")  # one byte every ~0.2 s, never finishing the head
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    cut.setdefault(kind, []).append(time.monotonic() - start)
                    s.close()
                    del open_socks[i]
            time.sleep(0.2)
        assert not open_socks, f"{len(open_socks)} slow connections were never cut off"
        assert {k: len(v) for k, v in cut.items()} == {
            "trickle": 20,
            "idle": 20,
            "silent": 20,
            "unfinished": 20,
        }
        assert max(cut["trickle"]) < 10  # request_deadline = 4s, not the client's pace
        assert _threads(daemon) <= threads_before + 2
        assert httpx.get(daemon.url + "/healthz").status_code == 200


@pytest.mark.slow
def test_connection_cap_refuses_cleanly_and_keep_alive_works(tmp_path: Path) -> None:
    with running_daemon(tmp_path, f"sqlite:///{tmp_path / 'd.db'}") as daemon:
        with socket.create_connection(daemon.address) as s:
            for _ in range(3):  # three requests on one connection
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = b""
                while not answer.endswith(b"ok\n"):
                    answer += s.recv(4096)
                assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"HTTP/1.1") == 1
        idle = [socket.create_connection(daemon.address) for _ in range(40)]  # the cap
        try:
            extra = socket.create_connection(daemon.address, timeout=10)
            assert extra.recv(4096).startswith(b"HTTP/1.1 503")
            extra.close()
        finally:
            for s in idle:
                s.close()
        assert httpx.get(daemon.url + "/healthz").status_code == 200


def test_status_and_metrics_need_the_token_probes_do_not(daemon: Daemon) -> None:
    good = {"Authorization": f"Bearer {STATUS_TOKEN}"}
    for path in ("/metrics", "/api/v1/status"):
        assert httpx.get(daemon.url + path).status_code == 401
        assert httpx.get(daemon.url + path, headers=AUTH).status_code == 401
        assert httpx.get(daemon.url + path, headers=good).status_code == 200
    assert httpx.get(daemon.url + "/healthz").status_code == 200
    assert httpx.get(daemon.url + "/readyz").status_code in (200, 503)


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", port)
    with socket.create_server(("127.0.0.1", port)):
        done = subprocess.run(
            [DRIFTMON, "run", "-c", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "INGEST_TOKEN": "x", "STATUS_TOKEN": "y"},
        )
    assert done.returncode != 0
    assert f"server.listen 127.0.0.1:{port}: address already in use" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_huge_query_neither_freezes_the_daemon_nor_leaks_raw_bytes(tmp_path: Path) -> None:
    with running_daemon(tmp_path, f"sqlite:///{tmp_path / 'd.db'}") as daemon:
        garbage = b"GET /\x1b[31mforged-line\r\n\r\n"
        assert status_of(raw_exchange(daemon.address, garbage)) in (0, 400)
        query = "7" * ((1 << 20) - 200)
        body = json.dumps([{"query": query, "ts": TS}]).encode()
        result: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: result.append(_post(daemon, body)))
        sender.start()
        health = [httpx.get(daemon.url + "/healthz", timeout=5).status_code for _ in range(5)]
        sender.join(60)
        assert health == [200] * 5
        assert result[0].status_code == 202 and result[0].json()["truncated"] == 1
        assert daemon.scalar("SELECT count(*) FROM query_samples WHERE text = '<phone>'") == 1
        log = daemon.log_text()
        assert "forged-line" not in log and "\x1b" not in log and "Traceback" not in log


@pytest.mark.slow
def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    with running_daemon(tmp_path, f"sqlite:///{tmp_path / 'd.db'}") as daemon:
        body = json.dumps(records(1000)).encode()
        with socket.create_connection(daemon.address, timeout=30) as s:
            s.sendall(post_body("/v1/queries", body[:-1], {"Content-Length": str(len(body))}))
            time.sleep(0.3)  # the request is in flight: head read, body still coming
            assert daemon.proc is not None
            daemon.proc.send_signal(15)
            time.sleep(0.3)
            s.sendall(body[-1:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert status_of(answer) == 202, answer[:200]
        assert json_body(answer)["accepted"] == 1000
        assert daemon.stop() == 0
        assert daemon.samples() == 1000
