"""Fixtures of the server tests: a running daemon on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Daemon, running_daemon
from support import postgres_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'driftmon.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def daemon(backend_url: str, tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path, backend_url) as d:
        yield d
