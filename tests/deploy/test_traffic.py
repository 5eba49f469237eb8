"""The local stack's traffic generator against a real `driftmon run` on loopback, with the
stack's own config and environment; and the Dockerfile's HEALTHCHECK on that daemon."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from deploy_support import DEPLOY, ROOT
from support import DRIFTMON, Receiver, free_port
from test_dockerfile import healthcheck_command

from monitor.traffic import Plan, drift_share_at


def _healthz(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def stack_agent(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> Iterator[tuple[str, dict[str, str]]]:
    """`driftmon run` on deploy/driftmon.toml with the compose file's environment."""
    cfg = tmp_path / "driftmon.toml"
    cfg.write_text(
        (DEPLOY / "driftmon.toml").read_text().replace("http://alertmanager:9093", receiver.url)
    )
    shutil.copytree(ROOT / "examples" / "canaries", tmp_path / "canaries")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    port = free_port()
    env = {
        **os.environ,
        **compose["services"]["driftmon"]["environment"],
        "DRIFTMON_CONFIG": str(cfg),
        "DRIFTMON_DATABASE_URL": db_url,
        "DRIFTMON_SERVER_LISTEN": f"127.0.0.1:{port}",
    }
    subprocess.run(
        [DRIFTMON, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120
    )
    with (tmp_path / "agent.log").open("wb") as log:
        proc = subprocess.Popen([DRIFTMON, "run", "--log-format", "json"], env=env, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthz(url):
            assert proc.poll() is None, (tmp_path / "agent.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the agent did not come up"
            time.sleep(0.2)  # another process starts; nothing to inject a clock into
        yield url, env
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0  # SIGTERM is a graceful stop


def _traffic(url: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.traffic",
            "--url",
            url,
            "--token-env",
            "DEMO_INGEST_TOKEN",
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _records_read(url: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("driftmon_source_records_total{") and 'outcome="read"' in line:
            if 'source="app"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.slow
def test_traffic_fills_the_stack_agent(stack_agent: tuple[str, dict[str, str]]) -> None:
    url, env = stack_agent
    done = _traffic(url, env, "--batches", "3", "--per-minute", "600", "--batches-per-minute", "60")
    assert done.returncode == 0, done.stderr
    assert "3 requests, 30 queries accepted, 0 rejected, 0 requests failed" in done.stdout
    assert _records_read(url) == 30

    bad = _traffic(url, {**env, "DEMO_INGEST_TOKEN": "not-the-token"}, "--batches", "1")
    assert bad.returncode == 1 and "answered 401" in bad.stderr
    assert "{" not in bad.stderr  # no query record is echoed
    assert _records_read(url) == 30

    # the Dockerfile's HEALTHCHECK, as Docker would run it in the container
    hc = healthcheck_command()
    hc[0] = sys.executable if hc[0] == "python" else hc[0]  # the image's python is on PATH
    assert subprocess.run(hc, env=env, timeout=30).returncode == 0
    wrong = {**env, "DRIFTMON_SERVER_LISTEN": f"127.0.0.1:{free_port()}"}
    assert subprocess.run(hc, env=wrong, capture_output=True, timeout=30).returncode != 0


def test_a_missing_token_is_one_line_and_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_TOKEN"}
    done = _traffic("http://127.0.0.1:9", env, "--token-env", "NO_SUCH_TOKEN")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "traffic: --token-env: environment variable NO_SUCH_TOKEN is not set"
    )


def test_phases_alternate_ordinary_then_drift() -> None:
    plan = Plan(url="", token="t", normal_minutes=8, drift_minutes=10, drift_share=0.3)
    assert [drift_share_at(plan, m) for m in (0, 7.9, 8, 17.9, 18, 26)] == [
        0.0,
        0.0,
        0.3,
        0.3,
        0.0,
        0.3,
    ]
    assert drift_share_at(Plan(url="", token="t", drift_minutes=0), 100) == 0.0


@pytest.mark.parametrize(
    "args", [["--per-minute", "0"], ["--batches-per-minute", "-1"], ["--drift-share", "1.5"]]
)
def test_a_bad_argument_is_one_line_and_exit_2(args: list[str]) -> None:
    done = _traffic("http://127.0.0.1:9", {**os.environ, "DEMO_INGEST_TOKEN": "t"}, *args)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
