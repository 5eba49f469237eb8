"""Engine and session factory from DatabaseSettings; SQLite gets WAL and foreign keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from monitor.config.masking import mask_secrets
from monitor.errors import StorageError

__all__ = ["Database", "Session", "connect_error", "safe_url", "sqlite_file"]


def safe_url(url: str) -> str:
    """The URL with any password masked (``user:pw@`` and ``?password=``), for messages."""
    return mask_secrets(url)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    return Path(database) if database and database != ":memory:" else None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _wrote(session: Session, _flush_context: Any = None) -> None:
    session.info["wrote"] = True


def _wrote_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _wrote(state.session)


def _write_path_failure(exc: DBAPIError) -> bool:
    """A failure of the database itself: no space, read only, no privilege, shutting down."""
    if isinstance(exc, OperationalError):
        return True
    code = str(getattr(getattr(exc, "orig", None), "sqlstate", None) or "")
    return code[:2] in ("53", "57") or code in ("25006", "42501")


class Database:
    """Owns the engine; hands out one transaction per job via :meth:`transaction`."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("postgresql"):
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            kwargs.update(pool_size=pool_size, pool_pre_ping=True)
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise StorageError(
                mask_secrets(f"database.url {safe_url(self.url)} is not usable: {first}")
            ) from None
        except ModuleNotFoundError as exc:
            raise StorageError(
                f"database.url needs the Python package {exc.name!r} "
                "(for PostgreSQL, from a clone: pip install '.[postgres]')"
            ) from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "after_flush", _wrote)
        event.listen(self._sessions, "do_orm_execute", _wrote_dml)
        #: why the last write failed; None once a transaction that wrote commits
        self.last_write_error: str | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """Raise StorageError unless the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise connect_error(self.url, exc) from None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        try:
            with self._sessions.begin() as session:
                yield session
            if session.info.pop("wrote", False):
                self.last_write_error = None
        except DBAPIError as exc:
            if _write_path_failure(exc):
                self.last_write_error = _first_line(exc)
            if isinstance(exc, OperationalError):
                raise StorageError(
                    f"database {safe_url(self.url)} failed: {_first_line(exc)}"
                ) from exc
            raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; rolled back at the end."""
        with self._sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    """The first line of a driver error, any password in it masked."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return mask_secrets(lines[0]) if lines else type(exc).__name__


def connect_error(url: str, exc: BaseException) -> StorageError:
    """The one-line error for a failed connection; a missing database is named as such."""
    first = _first_line(exc)
    missing = re.search(r'database "([^"]+)" does not exist', first)
    if missing:
        parsed = make_url(url)
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        return StorageError(
            f"database {missing.group(1)} does not exist on {where} (create it first)"
        )
    return StorageError(f"database {safe_url(url)} is unreachable: {first}")
