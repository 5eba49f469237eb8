"""Shared fixtures: clean environment, both databases, fixed clocks, loopback servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from support import Receiver, postgres_schema_url

from monitor.clock import FixedClock
from monitor.storage.engine import Database
from monitor.storage.migrate import upgrade


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DRIFTMON_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("DRIFTMON_"):
            monkeypatch.delenv(key)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """An empty database URL: SQLite in a temp folder, and PostgreSQL in a fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'driftmon.db'}"
    else:
        yield from postgres_schema_url()


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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()
