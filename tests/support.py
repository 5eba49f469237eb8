"""Helpers shared by the tests (a module with a unique name, importable from any test)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

#: read at import, before any test clears DRIFTMON_* variables
POSTGRES_URL = os.environ.get("DRIFTMON_TEST_POSTGRES_URL", "")
#: .ci/run fails the build when a skip reason starts with this
SERVICE_MISSING = "service unavailable:"


def _console_script() -> str:
    beside = Path(sys.executable).parent / "driftmon"  # the venv running the tests
    return str(beside) if beside.exists() else shutil.which("driftmon") or "driftmon"


#: the installed console script, also when the venv running the tests is not activated
DRIFTMON = _console_script()


@contextmanager
def fresh_postgres_schema(prefix: str = "t_") -> Iterator[str]:
    """A URL of POSTGRES_URL whose search_path is a new schema, dropped on exit."""
    from sqlalchemy import create_engine, text

    schema = prefix + uuid.uuid4().hex[:12]
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def require_postgres() -> str:
    """POSTGRES_URL, or a skip that ``.ci/run`` counts as a missing service."""
    if not POSTGRES_URL:
        pytest.skip(
            f"{SERVICE_MISSING} PostgreSQL (set DRIFTMON_TEST_POSTGRES_URL, e.g. "
            "postgresql://postgres@127.0.0.1:5432/test)"
        )
    return POSTGRES_URL


def postgres_schema_url() -> Iterator[str]:
    """Like :func:`fresh_postgres_schema`, skipping (as a missing service) without PostgreSQL."""
    require_postgres()
    with fresh_postgres_schema() as url:
        yield url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` (another process is working) until true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.TransportError, OSError):  # not listening yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """A webhook receiver on 127.0.0.1 whose answers the test scripts."""

    def __init__(self) -> None:
        from monitor.server import HttpServer, Request, Response

        self.requests: list[Request] = []
        self.script: list[tuple[int, dict[str, str]]] = []  # answers to give, then 204s
        self._response = Response

        def handle(req: Request) -> Response:
            self.requests.append(req)
            status, headers = self.script.pop(0) if self.script else (204, {})
            return Response(status, b"", headers=headers)

        self.server = HttpServer("127.0.0.1:0", {"/hook": handle})
        self.url = self.server.url + "/hook"

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(r.body) for r in self.requests]


#: the newest migration revision in the repository (tests that name it follow new ones)
MIGRATIONS_HEAD = max(
    p.name[:4]
    for p in (Path(__file__).resolve().parent.parent / "migrations" / "versions").glob("[0-9]*.py")
)
