"""Alembic environment: one file for SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from monitor.storage.schema import Base

config = context.config
target_metadata = Base.metadata
EXTERNAL_TABLES = {"apscheduler_jobs"}


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name in EXTERNAL_TABLES)


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        include_name=include_name,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        _run(conn)
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("driftmon migrations run online only ('driftmon db upgrade')")
run_migrations_online()
