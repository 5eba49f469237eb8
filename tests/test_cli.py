"""The command line as a user meets it: subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def driftmon(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("driftmon: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """A copy of examples/ with a free port."""
    shutil.copytree(EXAMPLES, tmp_path / "ex", ignore=shutil.ignore_patterns("*.db*"))
    cfg = tmp_path / "ex" / "quickstart.toml"
    cfg.write_text(cfg.read_text().replace("127.0.0.1:9108", f"127.0.0.1:{free_port()}"))
    return cfg


@pytest.mark.parametrize(
    "body,needles",
    [
        pytest.param(
            "[database]\nurll = 'x'\n", ["database.urll", "unknown key"], id="unknown-key"
        ),
        pytest.param("[drift]\nalpha = 'high'\n", ["drift.alpha", "a number"], id="wrong-type"),
        pytest.param(
            "[sampling]\nwindow = '1 hour'\n", ["sampling.window", "duration"], id="bad-duration"
        ),
        pytest.param(
            "[[models]]\nprovider = 'hash'\n", ["models[0].name", "required"], id="missing-required"
        ),
        pytest.param("[[models]]\nname='a'\nprovider='openai'\n", ["base_url"], id="cross-check"),
        pytest.param("[server\n", ["not valid TOML"], id="bad-toml"),
    ],
)
def test_config_mistakes_are_one_line(tmp_path: Path, body: str, needles: list[str]) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(body)
    _one_line_error(driftmon("config", "check", str(f)), *needles)


def test_config_check_missing_file() -> None:
    _one_line_error(driftmon("config", "check", "/nonexistent/driftmon.toml"), "does not exist")


def test_config_check_masks_secrets_and_applies_env(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        "[database]\nurl = 'postgresql://app:hunter2@db.internal/drift'\n"
        "[[models]]\nname = 'prod'\nprovider = 'openai'\nbase_url = 'http://x'\n"
        "api_key_env = 'MY_KEY'\n"
    )
    proc = driftmon(
        "config",
        "check",
        str(f),
        env={
            "MY_KEY": "sk-abc123",
            "DRIFTMON_DRIFT_ALPHA": "0.05",
            "DRIFTMON_MODELS_PROD_DIMENSIONS": "64",
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert "hunter2" not in proc.stdout and "sk-abc123" not in proc.stdout
    data = json.loads(proc.stdout)
    assert data["database"]["url"] == "postgresql://app:***@db.internal/drift"
    assert data["models"][0]["api_key_env"] == "MY_KEY (set)"
    assert data["drift"]["alpha"] == 0.05 and data["models"][0]["dimensions"] == 64


def test_unknown_env_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("")
    _one_line_error(
        driftmon("config", "check", str(f), env={"DRIFTMON_DRIFT_ALPHAA": "1"}),
        "DRIFTMON_DRIFT_ALPHAA",
    )


def test_run_refuses_an_unmigrated_database(quickstart: Path) -> None:
    _one_line_error(driftmon("run", "-c", str(quickstart), timeout=60), "driftmon db upgrade")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    proc = driftmon(
        "db",
        "upgrade",
        env={"DRIFTMON_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/x"},
        cwd=tmp_path,
    )
    _one_line_error(proc, "unreachable")


def test_run_once_reports_job_status(quickstart: Path) -> None:
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    ok = driftmon("run-once", "cycle", "-c", str(quickstart))
    assert ok.returncode == 0, ok.stderr
    assert "drift: ok" in ok.stdout and "canary: ok" in ok.stdout
    (quickstart.parent / "canaries" / "core.jsonl").unlink()
    failed = driftmon("run-once", "canary", "-c", str(quickstart))
    assert failed.returncode == 1 and "canary: failed" in failed.stdout
    assert "does not exist" in failed.stdout


def test_daemon_serves_metrics_after_first_cycle_and_stops_on_sigterm(quickstart: Path) -> None:
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    port = re.search(r'listen = "127.0.0.1:(\d+)"', quickstart.read_text()).group(1)  # type: ignore[union-attr]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "-c", str(quickstart), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        names: set[str] = set()
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and not {"driftmon_drift_detected", "driftmon_canary_min_cosine"} <= names
        ):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
            except httpx.TransportError:
                pass
            time.sleep(0.2)  # polling a separate process; no clock to inject across it
        assert {"driftmon_drift_detected", "driftmon_canary_min_cosine"} <= names
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text == "ok\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    logs = [json.loads(line) for line in err.splitlines()]
    assert any(rec.get("job") == "drift" for rec in logs)
    assert not any(
        "user0@example.com" in line or "office chair" in line for line in err.splitlines()
    ), "query text or PII in logs"
