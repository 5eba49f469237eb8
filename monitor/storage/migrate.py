"""Alembic, driven from code: upgrade, current revision, and the start-up guard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import SchemaMismatch, StorageError
from monitor.storage.engine import Database, connect_error, safe_url

__all__ = [
    "alembic_config",
    "check_revision",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]


def _script_location() -> str:
    try:
        return str(resources.files("monitor.migrations"))  # installed: packaged as data
    except ModuleNotFoundError:  # a source checkout: migrations/ sits beside monitor/
        return str(Path(__file__).resolve().parents[2] / "migrations")


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def head_revision(db: Database) -> str:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    try:
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise connect_error(db.url, exc) from None


@contextmanager
def _migration_connection(db: Database) -> Iterator[Connection]:
    """One transaction for a migration; on SQLite with foreign keys off around it.

    Batch mode rebuilds a SQLite table by copying it and dropping the original;
    with foreign keys on, dropping a parent table would cascade-delete its
    children's rows. The pragma only takes effect outside a transaction.
    """
    with db.engine.connect() as conn:
        sqlite = db.dialect == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if db.dialect == "postgresql":  # replicas upgrading at once must not race
                    conn.execute(text("SELECT pg_advisory_xact_lock(7305392001)"))
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def _ahead(db: Database, current: str) -> SchemaMismatch:
    head = head_revision(db)
    return SchemaMismatch(
        f"database {safe_url(db.url)} is at revision {current}, newer than this driftmon's "
        f"{head}: run 'driftmon db downgrade {head}' with the newer driftmon that migrated it, "
        "or upgrade driftmon"
    )


def _known(db: Database, revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config(db))
    return revision in {rev.revision for rev in script.walk_revisions()}


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; returns (before, after)."""
    before = current_revision(db)
    if before is not None and not _known(db, before):
        raise _ahead(db, before)
    cfg = alembic_config(db)
    with _migration_connection(db) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current_revision(db) or ""


def downgrade(db: Database, revision: str) -> tuple[str | None, str]:
    """Migrate down to ``revision`` (a known one, or 'base'); returns (before, after)."""
    before = current_revision(db)
    if before is not None and not _known(db, before):
        raise _ahead(db, before)
    if revision != "base" and not _known(db, revision):
        raise SchemaMismatch(f"revision {revision!r} is not one this driftmon knows")
    cfg = alembic_config(db)
    with _migration_connection(db) as conn:
        cfg.attributes["connection"] = conn
        try:
            command.downgrade(cfg, revision)
        except CommandError as exc:  # e.g. the target is above the current revision
            raise StorageError(f"cannot downgrade to {revision}: {exc}") from None
    return before, current_revision(db) or "base"


def check_revision(db: Database) -> None:
    """Raise SchemaMismatch unless the database is exactly at the code's head revision."""
    current = current_revision(db)
    head = head_revision(db)
    if current == head:
        return
    script = ScriptDirectory.from_config(alembic_config(db))
    if current is None:
        raise SchemaMismatch(
            f"database {safe_url(db.url)} has no driftmon schema: run 'driftmon db upgrade' first"
        )
    if current in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaMismatch(
            f"database {safe_url(db.url)} is at revision {current}, behind the "
            f"code's {head}: run 'driftmon db upgrade'"
        )
    raise _ahead(db, current)
