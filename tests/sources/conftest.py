"""Fixtures of the source tests: configs written as TOML, and the application's own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import fresh_postgres_schema

from monitor.storage.engine import Database


@pytest.fixture
def app_db_url(db: Database, tmp_path: Path) -> Iterator[str]:
    """The application's own database, a second one beside the agent's, on the same backend."""
    if db.dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'application.db'}"
        return
    with fresh_postgres_schema("app_") as url:
        yield url
