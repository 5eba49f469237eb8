"""grafana/: committed dashboards equal the generator's output and are well formed."""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

from prom_support import (
    GRAFANA,
    PROM_TYPE,
    PROMETHEUS_OWN,
    SQL_TYPE,
    dashboards,
    generator,
    metric_names,
    panels,
    report_links,
    targets,
)

from monitor.metrics import CATALOGUE, METER_CATALOGUE
from monitor.storage.schema import Base

GRAFANA_MACROS = {"__timeFilter", "__timeFrom", "__timeTo", "__rate_interval"}
DATASOURCE_UIDS = {PROM_TYPE: "${datasource}", SQL_TYPE: "${sqldb}"}


def test_committed_dashboards_equal_the_generators_output() -> None:
    gen = generator()
    committed = {p.name: p.read_text() for p in (GRAFANA / "dashboards").glob("*.json")}
    assert committed == gen.render(), "dashboards are stale: run python grafana/generate.py"
    assert gen.main(["--check"]) == 0


def test_four_dashboards_with_unique_uids_and_titles() -> None:
    boards = dashboards()
    assert sorted(boards) == [
        "driftmon-agent.json",
        "driftmon-canary.json",
        "driftmon-drift.json",
        "driftmon-overview.json",
    ]
    uids = [b["uid"] for b in boards.values()]
    titles = [b["title"] for b in boards.values()]
    assert len(set(uids)) == len(uids) and all(8 <= len(u) <= 40 for u in uids)
    assert len(set(titles)) == len(titles)
    for name, board in boards.items():
        assert board["uid"] + ".json" == name and board.get("id") is None


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def test_panels_are_described_placed_and_bound_to_a_datasource_variable() -> None:
    for name, board in dashboards().items():
        all_panels = list(panels(board))
        ids = [p["id"] for p in all_panels]
        assert len(set(ids)) == len(ids), name
        for a, b in combinations(all_panels, 2):
            assert not _overlap(a["gridPos"], b["gridPos"]), (name, a["title"], b["title"])
        for p in all_panels:
            pos = p["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, (name, p["title"])
            if p["type"] == "row":
                continue
            assert len(p["description"]) >= 40, (name, p["title"], "needs a description")
            assert p["targets"], (name, p["title"])
            kinds = {t["datasource"]["type"] for t in p["targets"]}
            assert len(kinds) == 1 and p["datasource"]["type"] in kinds, (name, p["title"])
            for t in p["targets"]:
                assert t["datasource"]["uid"] == DATASOURCE_UIDS[t["datasource"]["type"]]
            assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])


def _variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


def test_every_variable_used_is_defined_and_model_boards_have_both_model_variables() -> None:
    for name, board in dashboards().items():
        defined = _variables(board)
        assert {"datasource", "sqldb"} <= set(defined), name
        for v in defined.values():
            if v["type"] == "query":
                assert v["multi"] and v["includeAll"] and "allValue" not in v, (name, v)
                for used in re.findall(r"\$(\w+)", v["query"]):
                    assert used in defined and list(defined).index(used) < list(defined).index(
                        v["name"]
                    ), (name, v["name"], used)
        for p in panels(board):
            for t in p.get("targets", []):
                text = t.get("expr", "") + t.get("rawSql", "")
                for used in re.findall(r"\$(\w+)", text):
                    assert used in defined or used in GRAFANA_MACROS, (name, p["title"], used)
        if name != "driftmon-agent.json":
            assert {"model", "model_version"} <= set(defined), name


def test_every_metric_on_a_dashboard_exists() -> None:
    used: set[str] = set()
    for _, _, target in targets(PROM_TYPE):
        used |= metric_names(target["expr"])
        rest = re.sub(r"\bdriftmon_[a-z_]+\b", "", target["expr"])
        others = set(re.findall(r"\b([A-Za-z_:][\w:]*)\s*\{", rest))
        assert others <= PROMETHEUS_OWN, others
    for board in dashboards().values():
        for v in board["templating"]["list"]:
            if v["type"] == "query":
                used |= metric_names(v["query"])
    known = (
        set(CATALOGUE)
        | set(METER_CATALOGUE)
        | {
            f"{name}_bucket"
            for name, (kind, _, _) in METER_CATALOGUE.items()
            if kind == "histogram"
        }
    )
    assert used and used <= known, sorted(used - known)


def test_sql_panels_read_only_driftmon_tables() -> None:
    tables = set(Base.metadata.tables)
    seen = set()
    for name, panel, target in targets(SQL_TYPE):
        raw = target["rawSql"]
        assert target["rawQuery"] and target["format"] in ("table", "time_series")
        assert re.match(r"^\s*SELECT\b", raw, re.I), (name, panel["title"])
        used = set(re.findall(r"\b(?:FROM|JOIN)\s+(?!LATERAL\b)(\w+)\b(?!\s*\()", raw, re.I))
        assert used and used <= tables, (name, panel["title"], used - tables)
        seen |= used
        if target["format"] == "time_series":
            assert '"time"' in raw and raw.rstrip().endswith("ORDER BY 1"), panel["title"]
    assert {"drift_runs", "canary_runs", "job_runs", "alert_deliveries"} <= seen


def test_provisioning_matches_the_dashboards() -> None:
    datasources = (GRAFANA / "provisioning" / "datasources" / "driftmon.yaml").read_text()
    provider = (GRAFANA / "provisioning" / "dashboards" / "driftmon.yaml").read_text()
    for board in dashboards().values():
        for var_name, kind in (("datasource", PROM_TYPE), ("sqldb", SQL_TYPE)):
            preset = _variables(board)[var_name]
            assert preset["query"] == kind
            assert f"uid: {preset['current']['value']}" in datasources
            assert f"name: {preset['current']['text']}\n    type: {kind}\n" in datasources
    assert "apiVersion: 1" in datasources and "apiVersion: 1" in provider
    assert "path: /var/lib/grafana/dashboards/driftmon" in provider
    assert "type: file" in provider


RUN_TABLES = {
    ("driftmon-drift.json", "Drift runs"): ("run_id", "drift"),
    ("driftmon-canary.json", "Canary runs"): ("run_id", "canary"),
    ("driftmon-canary.json", "Migration checks"): ("check_id", "migrate"),
}


def test_run_tables_link_each_row_to_its_report_on_the_agent() -> None:
    boards = dashboards()
    for board in boards.values():
        url_var = _variables(board)["driftmon_url"]
        assert url_var["type"] == "textbox" and url_var["query"] == "http://127.0.0.1:9108"
    linked = {
        (name, p["title"]): report_links(p)
        for name, board in boards.items()
        for p in panels(board)
        if p["type"] != "row" and report_links(p)
    }
    assert set(linked) == set(RUN_TABLES)
    for key, (column, kind) in RUN_TABLES.items():
        (link,) = linked[key][column]
        assert link["url"] == f"${{driftmon_url}}/ui/{kind}/${{__value.raw}}", key
        panel = next(p for p in panels(boards[key[0]]) if p["title"] == key[1])
        assert f" AS {column}," in panel["targets"][0]["rawSql"], key
