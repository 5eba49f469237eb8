"""One masking function, and a URL password masked in every place it could appear."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cli_support import driftmon, error_lines

from monitor.config import mask_secrets, mask_url
from monitor.errors import StorageError
from monitor.storage.engine import Database

SECRET = "S3cr3tPw"


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql://u:{SECRET}@h/db",
        f"postgresql://u@h:5432/db?password={SECRET}",
        f"postgresql://u@h/db?sslmode=require&password={SECRET}&x=1",
        f"postgresql+psycopg://u:{SECRET}@h/db",
        f"database 'postgresql://u@h/db?password={SECRET}' failed",
        f"host=h user=u password={SECRET} dbname=d",
        f"https://hooks.example/x?token={SECRET}",
        f'{{"message": "query on postgresql://u@h/db?PASSWORD={SECRET} failed"}}',
    ],
)
def test_mask_secrets(text: str) -> None:
    masked = mask_secrets(text)
    assert SECRET not in masked and "***" in masked


def test_mask_secrets_leaves_plain_text_and_urls_alone() -> None:
    for text in ("sqlite:///driftmon.db", "https://api.openai.com/v1", "drift.alpha: 0.5"):
        assert mask_secrets(text) == text


def test_mask_url_keeps_only_scheme_and_host() -> None:
    assert mask_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/***"
    assert (
        mask_url("https://u:p@events.pagerduty.com/v2/enqueue")
        == "https://events.pagerduty.com/***"
    )
    assert mask_url("") == ""


def test_config_check_masks_secret_urls(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        "[[alerts.sinks]]\nname = 'chat'\nkind = 'slack'\n"
        "url = 'https://hooks.slack.com/services/T000/B000/SlackSecret1'\n"
        "[[alerts.sinks]]\nname = 'pd'\nkind = 'pagerduty'\nrouting_key_env = 'PD_KEY'\n"
        "url = 'https://events.pagerduty.com/v2/enqueue/PdSecret2'\n"
        "[[alerts.sinks]]\nname = 'hook'\n"
        "url = 'https://bot:HookSecret3@hooks.internal/alert?token=HookSecret4'\n"
    )
    proc = driftmon(
        "config",
        "check",
        str(f),
        env={"DRIFTMON_DATABASE_URL": f"postgresql://u@db.internal/drift?password={SECRET}"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    for secret in (SECRET, "SlackSecret1", "PdSecret2", "HookSecret3", "HookSecret4"):
        assert secret not in out, secret
    data = json.loads(proc.stdout)
    assert data["database"]["url"] == "postgresql://u@db.internal/drift?password=***"
    assert data["alerts"]["sinks"][0]["url"] == "https://hooks.slack.com/***"
    assert data["alerts"]["sinks"][1]["url"] == "https://events.pagerduty.com/***"


def test_cli_error_lines_mask_the_password(tmp_path: Path) -> None:
    env = {"DRIFTMON_DATABASE_URL": f"postgresql://u@127.0.0.1:1/db?password={SECRET}"}
    (line,) = error_lines(driftmon("status", cwd=tmp_path, env=env))
    assert SECRET not in line and "password=***" in line, line
    env = {"DRIFTMON_DATABASE_URL": f"postgresql://u:{SECRET}@127.0.0.1:notaport/db"}
    (line,) = error_lines(driftmon("status", cwd=tmp_path, env=env))
    assert SECRET not in line and "not usable" in line, line


def test_storage_errors_mask_the_password() -> None:
    db = Database(f"postgresql://u@127.0.0.1:1/db?password={SECRET}")
    with pytest.raises(StorageError) as info:
        db.ping()
    assert SECRET not in str(info.value) and "password=***" in str(info.value)
    with pytest.raises(StorageError) as info:
        Database(f"postgresql://u:{SECRET}@127.0.0.1:notaport/db")
    assert SECRET not in str(info.value)


def test_job_log_and_job_runs_error_mask_the_password(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    f = tmp_path / "c.toml"
    f.write_text(
        f"[database]\nurl = 'sqlite:///{db}'\n"
        "[[models]]\nname = 'prod'\nprovider = 'hash'\n"
        "[[sources]]\nname = 'app'\nkind = 'sql'\nurl_env = 'APP_DB_URL'\n"
        "query = 'SELECT id, q AS query FROM t WHERE id > :watermark ORDER BY id LIMIT :limit'\n"
        "time_field = ''\n"
    )
    env = {"APP_DB_URL": f"postgresql://u@127.0.0.1:1/app?password={SECRET}"}
    assert driftmon("db", "upgrade", "-c", str(f)).returncode == 0
    proc = driftmon("run-once", "sample", "-c", str(f), env=env)
    assert proc.returncode == 1, proc.stderr  # the job failed ...
    assert "password=***" in proc.stdout + proc.stderr  # ... naming the URL, masked
    assert SECRET not in proc.stdout + proc.stderr
    with sqlite3.connect(db) as conn:
        (error,) = conn.execute("SELECT error FROM job_runs WHERE job = 'sample'").fetchone()
    assert error and SECRET not in error and "password=***" in error, error


def test_a_malformed_sql_source_url_is_an_input_error() -> None:
    from monitor.clock import SystemClock
    from monitor.config import SourceSettings
    from monitor.errors import InputError
    from monitor.sources.sql import SqlSource

    cfg = SourceSettings(name="app", kind="sql", url_env="X", query=":watermark :limit")
    with pytest.raises(InputError) as info:
        SqlSource(cfg, SystemClock(), f"postgresql://u:{SECRET}@127.0.0.1:notaport/app")
    assert "url is not usable" in str(info.value) and SECRET not in str(info.value)
