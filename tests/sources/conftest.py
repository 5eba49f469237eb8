"""Fixtures of the source tests: configs written as TOML, and the application's own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.storage.engine import Database

#: read before any test clears DRIFTMON_* variables
POSTGRES_URL = os.environ.get("DRIFTMON_TEST_POSTGRES_URL", "")


@pytest.fixture
def app_db_url(db: Database, tmp_path: Path) -> Iterator[str]:
    """The application's own database, a second one beside the agent's, on the same backend."""
    if db.dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'application.db'}"
        return
    from sqlalchemy import create_engine, text

    schema = "app_" + uuid.uuid4().hex[:12]
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
