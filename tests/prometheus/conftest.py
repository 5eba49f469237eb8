"""Fixtures: promtool, the demo agent serving /metrics, and a real Prometheus scraping it.

The demo agent runs once per session in a subprocess (``driftmon demo --serve``), on a
fresh PostgreSQL schema when DRIFTMON_TEST_POSTGRES_URL is set (so the SQL panels can be
run against what it wrote) and on SQLite otherwise. Every process started here is
stopped in a ``finally`` with a bounded grace period.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prom_support import (
    ALERTS,
    POSTGRES_URL,
    RULES,
    DemoAgent,
    query,
    stop,
    wait_for,
)
from support import SERVICE_MISSING, free_port, fresh_postgres_schema, require_postgres

DEMO_TIMEOUT = 180.0  # the demo takes 15 s on 2 idle cores, 80 s when they are busy
PROMETHEUS_TIMEOUT = 40.0
SCRAPES_WANTED = 3  # enough samples for increase()/rate() over the panels' windows


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{SERVICE_MISSING} {name} is not installed (apt-get install prometheus)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTMON_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


@contextmanager
def _postgres_schema() -> Iterator[str | None]:
    """A PostgreSQL URL whose search_path is a fresh schema (dropped afterwards), or None."""
    if not POSTGRES_URL:
        yield None
        return
    with fresh_postgres_schema("t_prom_") as url:
        yield url


class DemoProcess:
    """`driftmon demo --serve` started in a subprocess; :meth:`ready` waits for it."""

    def __init__(self, folder: Path, database_url: str | None) -> None:
        self.database_url, self.folder = database_url, folder / "work"
        self.url = f"http://127.0.0.1:{free_port()}"
        env = _child_env(**({"DRIFTMON_DATABASE_URL": database_url} if database_url else {}))
        self.log = folder / "demo.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitor",
                    "demo",
                    "--serve",
                    "--listen",
                    self.url.removeprefix("http://"),
                    "--dir",
                    str(self.folder),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=folder,
            )

    def ready(self) -> DemoAgent:
        """Wait until the demo's six phases have run and it keeps serving /metrics."""
        wait_for(
            lambda: "Serving http" in self.log.read_text(errors="replace"),
            DEMO_TIMEOUT,
            "the demo agent serving /metrics",
            self.proc,
            self.log,
        )
        return DemoAgent(self.url, self.database_url, self.folder)


@pytest.fixture(scope="session")
def demo_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    """The demo agent, on a fresh PostgreSQL schema when one is configured, else SQLite."""
    with _postgres_schema() as database_url:
        process = DemoProcess(tmp_path_factory.mktemp("demo"), database_url)
        try:
            yield process
        finally:
            stop(process.proc)


@pytest.fixture(scope="session", autouse=True)
def _start_the_demo_early(request: pytest.FixtureRequest) -> None:
    """The demo takes a while: start it with the first test here if any test needs it."""
    needs = {"demo", "prometheus", "postgres_demo"}
    if any(needs & set(getattr(item, "fixturenames", ())) for item in request.session.items):
        request.getfixturevalue("demo_process")


@pytest.fixture(scope="session")
def demo(demo_process: DemoProcess) -> DemoAgent:
    """The demo agent after its six phases, still serving /metrics."""
    return demo_process.ready()


@pytest.fixture(scope="session")
def postgres_demo(request: pytest.FixtureRequest) -> DemoAgent:
    """The demo agent that wrote to PostgreSQL (skipped without DRIFTMON_TEST_POSTGRES_URL)."""
    require_postgres()
    agent: DemoAgent = request.getfixturevalue("demo")
    assert agent.database_url is not None
    return agent


def prometheus_config(target: str) -> str:
    """alerts/prometheus.yml, with fast intervals, the given target and absolute paths."""
    text = (ALERTS / "prometheus.yml").read_text()
    for old, new in (
        ("scrape_interval: 30s", "scrape_interval: 1s"),
        ("scrape_timeout: 10s", "scrape_timeout: 1s"),
        ("evaluation_interval: 30s", "evaluation_interval: 1s"),
        ('"127.0.0.1:9108"', f'"{target}"'),
        ("- driftmon.rules.yml", f"- {RULES}"),
    ):
        assert text.count(old) == 1, f"alerts/prometheus.yml no longer contains {old!r} once"
        text = text.replace(old, new)
    return text


def _ready(url: str) -> bool:
    scraped = query(url, 'sum_over_time(up{job="driftmon"}[1m])')
    if not scraped or float(scraped[0]["value"][1]) < SCRAPES_WANTED:
        return False
    groups = httpx.get(url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    return bool(groups) and all(g["evaluationTime"] > 0 for g in groups)


@pytest.fixture(scope="session")
def prometheus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Prometheus scraping the demo agent every second, with alerts/ rules loaded."""
    binary = tool("prometheus")  # before starting the demo, which takes a while
    demo: DemoProcess = request.getfixturevalue("demo_process")
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(prometheus_config(demo.url.removeprefix("http://")))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
        )
    try:  # Prometheus scrapes the demo while it runs; both must be ready
        demo.ready()
        wait_for(
            lambda: httpx.get(url + "/-/ready", timeout=2).status_code == 200,
            PROMETHEUS_TIMEOUT,
            "Prometheus ready",
            proc,
            log,
        )
        wait_for(
            lambda: _ready(url),
            PROMETHEUS_TIMEOUT,
            f"{SCRAPES_WANTED} good scrapes of the agent and evaluated rules",
            proc,
            log,
        )
        yield url
    finally:
        stop(proc)
