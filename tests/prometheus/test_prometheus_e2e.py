"""Against real servers: promtool on a real scrape, Prometheus scraping the demo agent, and
every SQL panel run on the PostgreSQL database the demo agent wrote."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prom_support import (
    PROM_TYPE,
    SQL_TYPE,
    DemoAgent,
    alert_blocks,
    dashboards,
    query,
    report_links,
    targets,
)

from monitor.demo import START

RATE_INTERVAL = "1m"  # what Grafana would give $__rate_interval at a 1 s scrape interval
#: bounded, and generous: the first test here waits for the demo on 2 busy cores
pytestmark = pytest.mark.timeout(300)


# --------------------------------------------------------------------------- PromQL


def _label_values(url: str, selector: str, label: str) -> list[str]:
    r = httpx.get(url + "/api/v1/series", params={"match[]": selector}, timeout=10)
    assert r.status_code == 200, r.text
    return sorted({s[label] for s in r.json()["data"] if label in s})


def _promql(expr: str, values: dict[str, list[str]]) -> str:
    """Substitute variables as Grafana does for Prometheus: one value raw, several as (a|b)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "__rate_interval":
            return RATE_INTERVAL
        vals = values[name]
        return vals[0] if len(vals) == 1 else "(" + "|".join(map(re.escape, vals)) + ")"

    out = re.sub(r"\$(\w+)", one, expr)
    assert "$" not in out, out
    return out


def _variables(url: str, board: dict[str, Any]) -> dict[str, list[str]]:
    """Resolve the board's label_values() variables against Prometheus, choosing All."""
    values: dict[str, list[str]] = {}
    for v in board["templating"]["list"]:
        if v["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v["query"].strip())
        assert m is not None, v["query"]
        values[v["name"]] = _label_values(url, _promql(m.group(1), values), m.group(2))
        assert values[v["name"]], f"{board['uid']}: variable {v['name']} has no values"
    return values


def test_every_promql_panel_returns_data(prometheus: str) -> None:
    boards = dashboards()
    variables = {name: _variables(prometheus, board) for name, board in boards.items()}
    now = time.time()
    empty, checked = [], 0
    for name, panel, target in targets(PROM_TYPE):
        expr = _promql(target["expr"], variables[name])
        if target["instant"]:
            result = query(prometheus, expr)
        else:
            result = query(prometheus, expr, start=str(now - 30), end=str(now), step="1")
        checked += 1
        if not result:
            empty.append(f"{name} / {panel['title']}: {expr}")
    assert checked >= 30
    assert not empty, "panels without data:\n" + "\n".join(empty)


def _overview_value(url: str, title: str) -> float:
    board = dashboards()["driftmon-overview.json"]
    panel = next(p for p in board["panels"] if p["title"] == title)
    result = query(url, _promql(panel["targets"][0]["expr"], _variables(url, board)))
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_verdict_panels_encode_what_the_demo_ended_with(prometheus: str) -> None:
    """The demo ends with an undrifted run and a changed canary: the mapped values say so."""
    assert _overview_value(prometheus, "Query drift verdict") == 0  # NO DRIFT
    assert _overview_value(prometheus, "Canary verdict") == 2  # CHANGED


def _alerts(url: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = httpx.get(url + "/api/v1/alerts", timeout=10).json()["data"][
        "alerts"
    ]
    return alerts


def test_the_demo_s_last_change_fires_the_benign_alert_not_the_page(prometheus: str) -> None:
    """The demo ends on an int8 re-deployment: changed, graded benign (retrieval held)."""
    deadline = time.monotonic() + 20
    while True:
        firing = [
            a
            for a in _alerts(prometheus)
            if a["state"] == "firing" and a["labels"]["alertname"] == "EmbeddingBenignModelChange"
        ]
        if firing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(firing) == 1, _alerts(prometheus)
    alert = firing[0]
    assert alert["labels"]["severity"] == "info"
    assert alert["labels"]["model"] == "demo" and alert["labels"]["canary_set"] == "core"
    assert alert["annotations"]["runbook_url"].endswith("#embeddingbenignmodelchange")
    names = {a["labels"]["alertname"] for a in _alerts(prometheus)}
    assert "EmbeddingSilentModelChange" not in names  # a benign change pages nobody
    # the demo's clock stopped in January 2026, so its jobs look long stale
    assert "DriftmonJobStale" in names
    assert "DriftmonAgentDown" not in names


def test_prometheus_loaded_every_rule_and_evaluates_it_without_error(prometheus: str) -> None:
    groups = httpx.get(prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert sorted(r["name"] for r in rules) == sorted(alert_blocks())
    for r in rules:
        assert r["health"] == "ok" and not r.get("lastError"), r
        assert r["annotations"]["runbook_url"].endswith("#" + r["name"].lower())


# --------------------------------------------------------------------------- scrape


def test_promtool_check_metrics_passes_on_a_real_scrape(promtool: str, demo: DemoAgent) -> None:
    scrape = httpx.get(demo.url + "/metrics", timeout=10)
    assert scrape.status_code == 200 and "driftmon_canary_verdict{" in scrape.text
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape.text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


# --------------------------------------------------------------------------- SQL

#: stand-ins for Grafana's variable values (which come from Prometheus; same database)
SQL_VARIABLES = {
    "model": "SELECT DISTINCT model_name FROM model_versions",
    "model_version": "SELECT DISTINCT version FROM model_versions",
    "test": "SELECT DISTINCT test FROM drift_metrics",
    "canary_set": "SELECT DISTINCT name FROM canary_sets",
}


def _grafana_sql(raw: str, values: dict[str, list[str]], start: str, end: str) -> str:
    """Expand Grafana's PostgreSQL macros and multi-value variables (quoted, comma-joined)."""
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m.group(1).strip()} BETWEEN '{start}' AND '{end}'",
        raw,
    )
    sql = sql.replace("$__timeFrom()", f"'{start}'").replace("$__timeTo()", f"'{end}'")
    return re.sub(
        r"\$(\w+)",
        lambda m: ",".join("'" + v.replace("'", "''") + "'" for v in values[m.group(1)]),
        sql,
    )


def test_every_sql_panel_returns_rows(postgres_demo: DemoAgent) -> None:
    from sqlalchemy import create_engine

    # the dashboard's time range, around the demo's simulated hours
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    start = (START - timedelta(days=1)).strftime(fmt)
    end = (max(datetime.now(UTC), START) + timedelta(days=1)).strftime(fmt)
    url = postgres_demo.database_url
    assert url is not None
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    empty, checked = [], 0
    try:
        with engine.connect() as conn:
            values = {
                name: [str(r[0]) for r in conn.exec_driver_sql(q)]
                for name, q in SQL_VARIABLES.items()
            }
            assert all(values.values()), values
            for name, panel, target in targets(SQL_TYPE):
                sql = _grafana_sql(target["rawSql"], values, start, end)
                rows = conn.exec_driver_sql(sql).mappings().all()
                checked += 1
                if not rows:
                    empty.append(f"{name} / {panel['title']}: {sql}")
                elif target["format"] == "time_series":
                    times = [r["time"] for r in rows]
                    assert times == sorted(times), panel["title"]
                for column in report_links(panel):  # a run id to link to its report
                    assert all(isinstance(r[column], int) for r in rows), (panel["title"], column)
                if panel["title"] == "Emerging query groups":
                    # the demo's topic drift: a new product line, with example queries
                    assert any("charge" in (r["example_queries"] or "") for r in rows), rows
    finally:
        engine.dispose()
    assert checked >= 10
    assert not empty, "SQL panels without rows:\n" + "\n".join(empty)
