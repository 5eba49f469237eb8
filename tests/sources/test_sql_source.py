"""The SQL source against a real second database: SQLite beside the agent's, or PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from source_helpers import write_settings
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from monitor.clock import FixedClock
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.storage.engine import Database
from monitor.storage.schema import QuerySample, SourceWatermark

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NASTY = "'); DROP TABLE search_log; --"


def _app(url: str) -> Engine:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    ts = "TIMESTAMP WITH TIME ZONE" if engine.dialect.name == "postgresql" else "TEXT"
    ident = (
        "SERIAL PRIMARY KEY"
        if engine.dialect.name == "postgresql"
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE search_log (id {ident}, q TEXT, ts {ts}, tenant TEXT)"))
    return engine


def _insert(engine: Engine, rows: list[tuple[str, datetime]]) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO search_log (q, ts, tenant) VALUES (:q, :ts, 'acme')"),
            [{"q": q, "ts": ts.isoformat() if sqlite else ts} for q, ts in rows],
        )


def _ctx(
    tmp_path: Path,
    db: Database,
    clock: FixedClock,
    query: str,
    *,
    chunk: int = 10,
    extra: str = 'metadata_fields = ["tenant"]',
) -> JobContext:
    settings = write_settings(
        tmp_path,
        db.url,
        f"""
        [[sources]]
        name = "app"
        kind = "sql"
        url_env = "APP_DB_URL"
        query = "{query}"
        {extra}
        [sampling]
        window = "1d"
        max_per_window = 1000
        chunk_size = {chunk}
        """,
    )
    return JobContext(settings=settings, db=db, clock=clock, environ={"APP_DB_URL": ""})


def _texts(db: Database) -> list[str]:
    with db.read() as s:
        return sorted(t for t in s.scalars(select(QuerySample.text)) if t is not None)


BY_ID = "SELECT id, q AS query, ts, tenant FROM search_log WHERE id > :watermark ORDER BY id LIMIT :limit"  # noqa: E501


def test_id_watermark_reads_each_row_once_across_runs_and_restarts(
    tmp_path: Path, db: Database, app_db_url: str, clock: FixedClock
) -> None:
    app = _app(app_db_url)
    _insert(app, [(f"q{i:02d}", T0 + timedelta(minutes=i)) for i in range(24)] + [(NASTY, T0)])
    ctx = _ctx(tmp_path, db, clock, BY_ID)
    ctx = dataclasses.replace(ctx, environ={"APP_DB_URL": app_db_url})
    out = run_job(ctx, "sample")
    assert (out.status, out.items) == ("ok", 25), out.message
    _insert(app, [("late one", T0), ("late two", T0)])
    restarted = JobContext(
        settings=ctx.settings, db=db, clock=clock, environ={"APP_DB_URL": app_db_url}
    )
    assert run_job(restarted, "sample").items == 2
    assert run_job(restarted, "sample").items == 0
    texts = _texts(db)
    assert len(texts) == 27 and NASTY in texts  # bound, stored as data
    with db.read() as s:
        assert s.scalar(select(SourceWatermark.value)) == "int:27"
        metas = s.scalars(select(QuerySample.meta)).all()
    assert all(m == {"tenant": "acme"} for m in metas)
    with app.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM search_log")) == 27
    app.dispose()


def test_timestamp_watermark_never_splits_rows_sharing_a_time(
    tmp_path: Path, db: Database, app_db_url: str, clock: FixedClock
) -> None:
    app = _app(app_db_url)
    times = [0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4]  # runs longer than a batch too
    _insert(app, [(f"t{i:02d}", T0 + timedelta(seconds=s)) for i, s in enumerate(times)])
    query = "SELECT q AS query, ts FROM search_log WHERE ts > :watermark ORDER BY ts LIMIT :limit"
    ctx = _ctx(
        tmp_path,
        db,
        clock,
        query,
        chunk=4,
        extra='watermark_field = "ts"\nwatermark_kind = "timestamp"',
    )
    ctx = dataclasses.replace(ctx, environ={"APP_DB_URL": app_db_url})
    out = run_job(ctx, "sample")
    assert out.status == "ok", out.message
    assert _texts(db) == [f"t{i:02d}" for i in range(len(times))]
    _insert(app, [("after", T0 + timedelta(seconds=9))])
    assert run_job(ctx, "sample").items == 1
    app.dispose()


@pytest.mark.parametrize(
    "query,start,message",
    [
        pytest.param(
            "INSERT INTO search_log (q) SELECT 'x' WHERE :watermark IS NOT NULL "
            "AND :limit IS NOT NULL RETURNING id, q AS query, ts",
            "",
            "failed",
            id="writing-is-refused",
        ),
        pytest.param(
            "SELECT id, q AS query, ts FROM search_log WHERE id > :watermark "
            "ORDER BY id DESC LIMIT :limit",
            "",
            "ORDER BY id",
            id="unordered",
        ),
        pytest.param(
            "SELECT id, q AS query, ts FROM search_log WHERE id >= :watermark "
            "ORDER BY id LIMIT :limit",
            "2",
            "at or below the watermark",
            id="not-past-the-mark",
        ),
        pytest.param(
            "SELECT id, q, ts FROM search_log WHERE id > :watermark LIMIT :limit",
            "",
            "no column 'query'",
            id="missing-column",
        ),
    ],
)
def test_a_bad_query_fails_the_run_by_name_and_changes_nothing(
    tmp_path: Path,
    db: Database,
    app_db_url: str,
    clock: FixedClock,
    query: str,
    start: str,
    message: str,
) -> None:
    app = _app(app_db_url)
    _insert(app, [("a", T0), ("b", T0), ("c", T0)])
    ctx = _ctx(tmp_path, db, clock, query, extra=f'watermark_start = "{start}"')
    ctx = dataclasses.replace(ctx, environ={"APP_DB_URL": app_db_url})
    out = run_job(ctx, "sample")
    assert out.status == "failed" and out.message.startswith("source 'app': ")
    assert message in out.message
    assert _texts(db) == []
    with app.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM search_log")) == 3
    app.dispose()


def test_the_url_comes_from_the_named_environment_variable(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    ctx = _ctx(tmp_path, db, clock, BY_ID)
    ctx = dataclasses.replace(ctx, environ={})
    out = run_job(ctx, "sample")
    assert out.status == "failed"
    assert out.message == "sources.app.url_env: environment variable APP_DB_URL is not set"
