"""Shared fixtures: clean environment, both databases, fixed clocks, loopback servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from monitor.clock import FixedClock
from monitor.storage.engine import Database
from monitor.storage.migrate import upgrade

#: read before any test clears DRIFTMON_* variables
POSTGRES_URL = os.environ.get("DRIFTMON_TEST_POSTGRES_URL", "")
#: .ci/run fails the build when a skip reason starts with this
SERVICE_MISSING = "service unavailable:"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTMON_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("DRIFTMON_"):
            monkeypatch.delenv(key)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


def _postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip(f"{SERVICE_MISSING} PostgreSQL (set DRIFTMON_TEST_POSTGRES_URL, e.g. "
                    "postgresql://postgres@127.0.0.1:5432/test)")
    from sqlalchemy import create_engine, text

    schema = "t_" + uuid.uuid4().hex[:12]
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[str]:
    """An empty database URL: SQLite in a temp folder, and PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'driftmon.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database, on both backends."""
    database = Database(db_url)
    upgrade(database)
    yield database
    pool = database.engine.pool
    checked_out = pool.checkedout() if hasattr(pool, "checkedout") else 0
    database.dispose()
    assert checked_out == 0, f"{checked_out} pooled connections leaked"


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
        import json

        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()
