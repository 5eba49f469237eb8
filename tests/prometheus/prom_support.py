"""Helpers shared by the Prometheus/Grafana tests: artefact paths, dashboards, processes."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
GRAFANA = ROOT / "grafana"
RULES = ALERTS / "driftmon.rules.yml"
RULE_TESTS = ALERTS / "driftmon.rules.test.yml"
#: .ci/run fails the build when a skip reason starts with this
PROM_TYPE = "prometheus"
SQL_TYPE = "grafana-postgresql-datasource"
#: metrics the dashboards and rules may use besides driftmon's own
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "ALERTS"}
#: read at import (collection), before the suite's autouse fixture clears DRIFTMON_*
POSTGRES_URL = os.environ.get("DRIFTMON_TEST_POSTGRES_URL", "")


@dataclass(frozen=True)
class DemoAgent:
    url: str  # http://127.0.0.1:PORT, serving /metrics
    database_url: str | None  # the PostgreSQL URL it wrote to; None when on SQLite
    folder: Path


def query(url: str, promql: str, **params: str) -> list[dict[str, Any]]:
    """The result of an instant query (a range query when start/end/step are given)."""
    path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
    r = httpx.get(url + path, params={"query": promql, **params}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (promql, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def generator() -> ModuleType:
    """grafana/generate.py, loaded from its path (grafana/ is data, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "driftmon_grafana_generate", GRAFANA / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> committed dashboard JSON."""
    return {
        p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def report_links(panel: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Column -> the data links a panel puts on it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for o in panel["fieldConfig"]["overrides"]:
        for prop in o["properties"]:
            if prop["id"] == "links" and o["matcher"]["id"] == "byName":
                out[o["matcher"]["options"]] = prop["value"]
    return out


def targets(kind: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dashboard file, panel, target) for every target on a ``kind`` datasource."""
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == kind:
                    yield name, panel, target


def alert_blocks() -> dict[str, str]:
    """Alert name -> the text of its rule in driftmon.rules.yml (no YAML parser needed)."""
    text = RULES.read_text()
    parts = re.split(r"^\s*- alert: ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bdriftmon_[a-z_]+\b", text))


def wait_for(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` (and the log) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}\n{tail(log)}")
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):  # not listening yet
            pass
        time.sleep(0.25)
    raise AssertionError(f"{what}: not reached within {timeout:.0f}s\n{tail(log)}")


def tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.is_file():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; always reaps the process."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
