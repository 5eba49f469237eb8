"""A real ``driftmon run`` daemon with one HTTP source, and raw-socket helpers to talk to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from support import DRIFTMON, free_port, wait_for

TOKEN = "ingest-token-0123456789"
STATUS_TOKEN = "status-token-9876543210"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Daemon:
    cfg: Path
    log: Path
    db_url: str
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [DRIFTMON, "run", "-c", str(self.cfg), "--log-format", "json"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "INGEST_TOKEN": TOKEN, "STATUS_TOKEN": STATUS_TOKEN},
            )
        wait_for(
            lambda: httpx.get(self.url + "/healthz", timeout=2).status_code == 200,
            180,  # a loaded 2-core CI machine starts the daemon slowly
            "the daemon's /healthz",
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def scalar(self, sql: str) -> int:
        url = self.db_url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(sql)).scalar() or 0)
        finally:
            engine.dispose()

    def samples(self) -> int:
        return self.scalar("SELECT count(*) FROM query_samples")

    def counter(self, name: str) -> int:
        return self.scalar(
            f"SELECT coalesce(sum(value), 0) FROM source_counters WHERE counter = '{name}'"
        )


def write_config(folder: Path, db_url: str, port: int, extra: str = "", source: str = "") -> Path:
    cfg = folder / "driftmon.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [database]
            url = "{db_url}"
            [server]
            listen = "127.0.0.1:{port}"
            token_env = "STATUS_TOKEN"
            max_connections = 40
            idle_timeout = "3s"
            read_timeout = "2s"
            request_deadline = "4s"
            [agent]
            log_level = "debug"
            shutdown_grace = "20s"
            [[models]]
            name = "m"
            provider = "hash"
            dimensions = 16
            [[sources]]
            name = "app"
            kind = "http"
            token_env = "INGEST_TOKEN"
            text_field = "query"
            time_field = "ts"
            metadata_fields = ["tenant"]
            max_body_bytes = 1048576
            {source}
            [sampling]
            window = "1h"
            max_per_window = 100000
            max_future = "1000d"
            [schedule]
            sample = "1h"
            canary = "1h"
            drift = "1h"
            alerts = "1h"
            deliver = "1h"
            """
        )
        + textwrap.dedent(extra)
    )
    subprocess.run(
        [DRIFTMON, "db", "upgrade", "-c", str(cfg)], check=True, capture_output=True, timeout=120
    )
    return cfg


@contextmanager
def running_daemon(
    folder: Path, db_url: str, extra: str = "", source: str = ""
) -> Iterator[Daemon]:
    port = free_port()
    cfg = write_config(folder, db_url, port, extra, source)
    daemon = Daemon(cfg, folder / "daemon.log", db_url, port)
    daemon.start()
    try:
        yield daemon
    finally:
        if daemon.alive():
            daemon.stop()


def records(n: int, tenant: str = "t0", prefix: str = "query") -> list[dict[str, object]]:
    return [
        {"query": f"{prefix} {i}", "ts": "2026-03-02T11:30:00Z", "tenant": tenant} for i in range(n)
    ]


def raw_exchange(address: tuple[str, int], data: bytes, timeout: float = 10) -> bytes:
    """Send ``data``, half-close, and read the whole answer (b"" if the server just closed)."""
    with socket.create_connection(address, timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    """The status code of the first response in ``answer`` (0 for none)."""
    if not answer.startswith(b"HTTP/1.1 "):
        return 0
    return int(answer[9:12])


def post_body(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = {"Host": "x", "Content-Type": "application/json", **AUTH, **(headers or {})}
    head.setdefault("Content-Length", str(len(body)))
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode() + body


def json_body(answer: bytes) -> dict[str, object]:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]
