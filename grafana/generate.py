"""Generate driftmon's Grafana dashboards: ``python grafana/generate.py [--check]``.

The dashboards are plain dicts built by one small builder (:class:`Board`) and written
as JSON to ``grafana/dashboards/``. The JSON is committed; a test fails when it differs
from what this script produces, so edit this file and re-run it, never the JSON.
Panels use two datasource variables (``$datasource`` for Prometheus, ``$sqldb`` for
PostgreSQL) and the query variables ``$model`` and ``$model_version``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
PROM = {"type": "prometheus", "uid": "${datasource}"}
SQL = {"type": "grafana-postgresql-datasource", "uid": "${sqldb}"}
MV = 'model=~"$model",model_version=~"$model_version"'
SQL_MV = "mv.model_name IN ($model) AND mv.version IN ($model_version)"
ALPHA = 0.01  # drift.alpha default: the line drawn on p-value panels

Json = dict[str, Any]


# --------------------------------------------------------------------------- builder


def prom(expr: str, legend: str = "", *, table: bool = False) -> Json:
    """A PromQL target; ``table`` makes it an instant query shown as a table."""
    return {
        "datasource": PROM,
        "expr": expr,
        "legendFormat": legend,
        "instant": table,
        "range": not table,
        "format": "table" if table else "time_series",
    }


def sql(raw: str, fmt: str = "table") -> Json:
    """A PostgreSQL target (``fmt`` is table or time_series)."""
    return {
        "datasource": SQL,
        "format": fmt,
        "rawQuery": True,
        "editorMode": "code",
        "rawSql": " ".join(raw.split()),
    }


def mapping(*states: tuple[int, str, str]) -> list[Json]:
    """Value mappings from (value, text, colour), e.g. ``(1, "DRIFT", "red")``."""
    return [
        {
            "type": "value",
            "options": {
                str(value): {"text": text, "color": color, "index": i}
                for i, (value, text, color) in enumerate(states)
            },
        }
    ]


def steps(*pairs: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in pairs]}


def var(name: str, label: str, query: str) -> Json:
    """A multi-value query variable on the Prometheus datasource (All = every value)."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": PROM,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "current": {},
        "options": [],
        "regex": "",
        "hide": 0,
    }


def ds_var(name: str, label: str, plugin: str, default: str, default_uid: str) -> Json:
    """A datasource variable preset to the datasource grafana/provisioning creates."""
    return {
        "type": "datasource",
        "name": name,
        "label": label,
        "query": plugin,
        "current": {"text": default, "value": default_uid},
        "hide": 0,
        "refresh": 1,
        "regex": "",
    }


DATASOURCES = [
    ds_var("datasource", "Prometheus", "prometheus", "driftmon Prometheus", "driftmon-prometheus"),
    ds_var("sqldb", "PostgreSQL", SQL["type"], "driftmon PostgreSQL", "driftmon-postgres"),
]
MODEL_VARS = [
    var("model", "Model", "label_values(driftmon_model_version_info, model)"),
    var(
        "model_version",
        "Model version",
        'label_values(driftmon_model_version_info{model=~"$model"}, model_version)',
    ),
]


class Board:
    """A dashboard; panels flow left to right in Grafana's 24-column grid."""

    def __init__(self, uid: str, title: str, description: str, variables: list[Json]) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.variables = [*DATASOURCES, *variables]
        self.panels: list[Json] = []
        self._x = self._y = self._row_h = 0

    def _place(self, w: int, h: int) -> Json:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        pos = {"x": self._x, "y": self._y, "w": w, "h": h}
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def row(self, title: str) -> None:
        self._x = 24  # start a new line, and the next panel below it
        pos = self._place(24, 1)
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": pos,
                "panels": [],
            }
        )

    def add(
        self,
        kind: str,
        title: str,
        description: str,
        *targets: Json,
        w: int = 12,
        h: int = 8,
        unit: str = "",
        defaults: Json | None = None,
        custom: Json | None = None,
        options: Json | None = None,
        transformations: list[Json] | None = None,
        overrides: list[Json] | None = None,
    ) -> None:
        field: Json = {"unit": unit} if unit else {}
        field.update(defaults or {})
        if custom:
            field["custom"] = custom
        refs = [{"refId": chr(ord("A") + i), **t} for i, t in enumerate(targets)]
        panel: Json = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "gridPos": self._place(w, h),
            "datasource": refs[0]["datasource"],
            "targets": refs,
            "fieldConfig": {"defaults": field, "overrides": overrides or []},
            "options": options or {},
        }
        if transformations:
            panel["transformations"] = transformations
        self.panels.append(panel)

    def json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["driftmon"],
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "1m",
            "time": {"from": "now-7d", "to": "now"},
            "timezone": "utc",
            "annotations": {"list": []},
            "links": [
                {
                    "type": "dashboards",
                    "tags": ["driftmon"],
                    "title": "driftmon",
                    "asDropdown": False,
                    "includeVars": True,
                    "keepTime": True,
                }
            ],
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


# --------------------------------------------------------------------------- shared queries

DRIFT_VERDICT = (
    f"driftmon_drift_detected{{{MV}}} or on (model, model_version) "
    f"(2 * driftmon_drift_insufficient_data{{{MV}}} == 2)"
)
DRIFT_MAPPING = mapping(
    (0, "no drift", "green"), (1, "DRIFT", "red"), (2, "too few samples", "blue")
)
CANARY_SEL = MV + ',canary_set=~"$canary_set"'


def canary_verdict(selector: str) -> str:
    """0 unchanged, 1 noise, 2 changed, from the driftmon_canary_verdict state set."""
    return (
        f'driftmon_canary_verdict{{{selector},state="noise"}} + ignoring (state) '
        f'2 * driftmon_canary_verdict{{{selector},state="changed"}}'
    )


CANARY_MAPPING = mapping((0, "unchanged", "green"), (1, "noise", "yellow"), (2, "CHANGED", "red"))
HIDE_PROM_COLUMNS = [
    {
        "id": "organize",
        "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}},
    }
]
TABLE = {"showHeader": True, "cellHeight": "sm"}
STAT = {
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "colorMode": "background",
    "graphMode": "none",
    "textMode": "value_and_name",
}
TIMELINE = {"mergeValues": True, "showValue": "auto", "alignValue": "left", "rowHeight": 0.8}
DASHED = {"thresholdsStyle": {"mode": "dashed"}}


def json_examples(col: str) -> str:
    """SQL: the distinct example queries of a JSON object's 'examples' list, joined."""
    return (
        f"(SELECT string_agg(DISTINCT x, ' | ') FROM json_array_elements_text("
        f"COALESCE({col} -> 'examples', '[]'::json)) AS x)"
    )


def json_list(col: str, key: str) -> str:
    """SQL: the elements of a JSON list under ``key`` (none when it is not a list)."""
    return (
        f"json_array_elements(CASE WHEN json_typeof({col} -> '{key}') = 'array' "
        f"THEN {col} -> '{key}' ELSE '[]'::json END)"
    )


DRIFT_FROM = "FROM drift_runs dr JOIN model_versions mv ON mv.id = dr.model_version_id"


# --------------------------------------------------------------------------- dashboards


def overview() -> Board:
    b = Board(
        "driftmon-overview",
        "driftmon / Overview",
        "Every model version at a glance: verdicts, alerts and freshness.",
        MODEL_VARS,
    )
    b.row("Verdicts")
    b.add(
        "stat",
        "Query drift verdict",
        "Verdict of the latest drift run per model version. DRIFT: the primary tests (mmd, "
        "novelty, classifier; Holm-corrected) rejected 'no drift' at drift.alpha. Too few "
        "samples: a window had fewer than drift.min_samples queries, so there is no "
        "verdict. One drifted run is a signal; EmbeddingQueryDrift waits for two in a row.",
        prom(DRIFT_VERDICT, "{{model}} {{model_version}}"),
        w=8,
        h=5,
        defaults={
            "mappings": DRIFT_MAPPING,
            "color": {"mode": "thresholds"},
            "thresholds": steps((None, "green"), (1, "red"), (2, "blue")),
        },
        options=STAT,
    )
    b.add(
        "stat",
        "Canary verdict",
        "Verdict of the latest canary run per model version and canary set. CHANGED: "
        "re-embedded canary texts no longer match the baseline: the provider changed the "
        "model behind the same name (EmbeddingSilentModelChange). Noise: vectors differ "
        "within the endpoint's measured run-to-run noise.",
        prom(canary_verdict(MV), "{{model_version}} {{canary_set}}"),
        w=8,
        h=5,
        defaults={
            "mappings": CANARY_MAPPING,
            "color": {"mode": "thresholds"},
            "thresholds": steps((None, "green"), (1, "yellow"), (2, "red")),
        },
        options=STAT,
    )
    b.add(
        "stat",
        "Novel queries",
        "Share of the latest window's queries with no close neighbour in the reference "
        "window. Above 5% (orange) in two consecutive runs raises EmbeddingNoveltyHigh.",
        prom(f"driftmon_drift_novelty_ratio{{{MV}}}", "{{model}} {{model_version}}"),
        w=8,
        h=5,
        unit="percentunit",
        defaults={"decimals": 1, "thresholds": steps((None, "green"), (0.05, "orange"))},
        options=STAT,
    )
    b.row("Alerts")
    b.add(
        "table",
        "Alerts in Prometheus",
        "Pending and firing alerts from the rules in alerts/driftmon.rules.yml, one row per "
        "alert. Empty means all clear. Each alert's runbook_url explains what to do.",
        prom('ALERTS{alertname=~"Embedding.+|Driftmon.+"}', table=True),
        w=12,
        options=TABLE,
        transformations=HIDE_PROM_COLUMNS,
    )
    b.add(
        "table",
        "Alerts raised by the agent",
        "Pending and firing alerts of the agent's built-in rules (the ones it delivers to "
        "webhooks), counted by name, severity and state. They use the same names as the "
        "Prometheus rules and should agree with the table on the left.",
        prom("driftmon_alerts_active", table=True),
        w=12,
        options=TABLE,
        transformations=[
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True},
                    "renameByName": {"Value": "alerts"},
                },
            }
        ],
    )
    b.row("Freshness")
    b.add(
        "stat",
        "Since the latest drift run",
        "Age of each model version's latest drift run. Drift runs hourly by default; "
        "orange after 2 hours, red after 3 (DriftmonJobStale fires then).",
        prom(f"time() - driftmon_drift_last_run_timestamp_seconds{{{MV}}}", "{{model_version}}"),
        w=8,
        h=5,
        unit="s",
        defaults={"thresholds": steps((None, "green"), (7200, "orange"), (10800, "red"))},
        options=STAT,
    )
    b.add(
        "stat",
        "Since the latest canary run",
        "Age of the latest canary run per model version and canary set; same colours as "
        "the drift run age.",
        prom(
            f"time() - driftmon_canary_last_run_timestamp_seconds{{{MV}}}",
            "{{model_version}} {{canary_set}}",
        ),
        w=8,
        h=5,
        unit="s",
        defaults={"thresholds": steps((None, "green"), (7200, "orange"), (10800, "red"))},
        options=STAT,
    )
    b.add(
        "stat",
        "Agent up",
        "Whether Prometheus can scrape the agent's /metrics (scrape job 'driftmon'). "
        "DOWN for 5 minutes raises DriftmonAgentDown; every other number here then stops.",
        prom('up{job="driftmon"}', "{{instance}}"),
        w=8,
        h=5,
        defaults={
            "mappings": mapping((0, "DOWN", "red"), (1, "up", "green")),
            "thresholds": steps((None, "red"), (1, "green")),
        },
        options=STAT,
    )
    b.row("Model versions and alert history")
    b.add(
        "table",
        "Model versions",
        "Each active model version: provider, model id, dimensions and the fingerprint of "
        "its canary baseline. A second version under the same model name means its "
        "configuration changed; history is kept per version.",
        prom(f"driftmon_model_version_info{{{MV}}}", table=True),
        w=24,
        h=6,
        options=TABLE,
        transformations=HIDE_PROM_COLUMNS,
    )
    b.add(
        "table",
        "Alert history",
        "Every alert the agent raised in the time range (from SQL), newest first, with "
        "when it fired and resolved. Alerts about jobs have no model version.",
        sql(
            'SELECT a.started_at AS "time", a.rule AS alert, a.severity, a.state, '
            "a.labels ->> 'model_version' AS model_version, a.summary, a.fired_at, "
            "a.resolved_at FROM alerts a WHERE $__timeFilter(a.started_at) AND "
            "(a.labels ->> 'model_version' IS NULL OR a.labels ->> 'model_version' IN "
            "($model_version)) ORDER BY a.started_at DESC LIMIT 200"
        ),
        w=24,
        h=8,
        options=TABLE,
    )
    return b


def drift() -> Board:
    test_var = var("test", "Test", f"label_values(driftmon_drift_p_value{{{MV}}}, test)")
    sel = MV + ',test=~"$test"'
    b = Board(
        "driftmon-drift",
        "driftmon / Query drift",
        "Per model version: drift verdicts, per-test p-values and effect sizes, novelty, "
        "and which query groups moved.",
        [*MODEL_VARS, test_var],
    )
    b.row("Verdict")
    b.add(
        "state-timeline",
        "Drift verdict over time",
        "Verdict of the latest drift run, over time. Red stretches are drifted runs; "
        "EmbeddingQueryDrift fires once two consecutive runs drifted. Blue: too few "
        "samples for a verdict.",
        prom(DRIFT_VERDICT, "{{model}} {{model_version}}"),
        w=24,
        h=5,
        defaults={
            "mappings": DRIFT_MAPPING,
            "color": {"mode": "thresholds"},
            "thresholds": steps((None, "green"), (1, "red"), (2, "blue")),
        },
        options=TIMELINE,
    )
    b.add(
        "timeseries",
        "Novel queries",
        "Share of each window's queries with no close neighbour in the reference window. "
        "The dashed line is the 5% the EmbeddingNoveltyHigh alert uses; novelty often "
        "rises before the two-sample tests reject.",
        prom(f"driftmon_drift_novelty_ratio{{{MV}}}", "{{model}} {{model_version}}"),
        unit="percentunit",
        custom=DASHED,
        defaults={"min": 0, "thresholds": steps((None, "green"), (0.05, "orange"))},
    )
    b.add(
        "timeseries",
        "Samples per run",
        "Queries compared in the latest drift run: reference and current window. Below "
        "drift.min_samples on either side there is no verdict; few samples make p-values "
        "coarse.",
        prom(f"driftmon_drift_samples{{{MV}}}", "{{model_version}} {{side}}"),
        defaults={"min": 0},
    )
    b.row("Tests")
    b.add(
        "timeseries",
        "p-value per test",
        f"p-value of each test in the latest drift run (log scale). Below the dashed line "
        f"(alpha {ALPHA}, the default drift.alpha) a test on its own rejects 'no drift'. "
        "Only mmd, novelty and classifier decide the verdict, after Holm's correction, so "
        "one diagnostic test dipping below the line is not a drift verdict.",
        prom(f"driftmon_drift_p_value{{{sel}}}", "{{model_version}} {{test}}"),
        custom={**DASHED, "scaleDistribution": {"type": "log", "log": 10}},
        defaults={"max": 1, "thresholds": steps((None, "red"), (ALPHA, "green"))},
    )
    b.add(
        "timeseries",
        "Effect size per test",
        "How large the change is, on each test's own scale (e.g. MMD, classifier AUC above "
        "0.5, centroid shift). Compare a test with its own history, not tests with each "
        "other: a small p-value with a tiny effect is a real but small change.",
        prom(f"driftmon_drift_effect{{{sel}}}", "{{model_version}} {{test}}"),
    )
    b.add(
        "timeseries",
        "Statistic per test",
        "The raw statistic of each test, for comparison with the test's documentation in "
        "monitor/stats/.",
        prom(f"driftmon_drift_statistic{{{sel}}}", "{{model_version}} {{test}}"),
        w=24,
    )
    b.row("History and explanation (SQL)")
    b.add(
        "timeseries",
        "p-value per drift run",
        "The stored p-value of every drift run and test, from SQL: exact per-run points "
        "that outlive Prometheus retention. Read it like the p-value panel above.",
        sql(
            f"SELECT dr.created_at AS \"time\", mv.version || ' ' || dm.test AS metric, "
            f"dm.p_value AS value {DRIFT_FROM} JOIN drift_metrics dm ON dm.run_id = dr.id "
            f"WHERE $__timeFilter(dr.created_at) AND {SQL_MV} AND dm.test IN ($test) AND "
            "dm.p_value IS NOT NULL ORDER BY 1",
            "time_series",
        ),
        w=24,
        custom={"scaleDistribution": {"type": "log", "log": 10}},
        defaults={"max": 1},
    )
    b.add(
        "table",
        "Emerging query groups",
        "Groups of current queries far from every reference query, from each drift run's "
        "explanation, newest run first: the top rows are the latest explanation. 'share' "
        "is the group's part of the window; the example queries (redacted) say what the "
        "new topic is.",
        sql(
            f'SELECT dr.created_at AS "time", mv.version AS model_version, dr.verdict, '
            f"(g ->> 'size')::int AS queries, (g ->> 'share')::float AS share, "
            f"(g ->> 'max_cosine_to_ref')::float AS closest_reference_cosine, "
            f"{json_examples('g')} AS example_queries {DRIFT_FROM} CROSS JOIN LATERAL "
            f"{json_list('dr.explanation', 'emerging')} AS g WHERE "
            f"$__timeFilter(dr.created_at) AND {SQL_MV} "
            "ORDER BY dr.created_at DESC, queries DESC LIMIT 100"
        ),
        w=24,
        options=TABLE,
    )
    b.add(
        "table",
        "Reference clusters that grew or shrank",
        "Reference topic clusters whose share changed significantly between reference and "
        "current window (newest run first); ratio is current share / reference share.",
        sql(
            f'SELECT dr.created_at AS "time", mv.version AS model_version, '
            f"(c ->> 'cluster')::int AS cluster, c ->> 'status' AS status, "
            f"(c ->> 'ref_share')::float AS reference_share, "
            f"(c ->> 'cur_share')::float AS current_share, (c ->> 'ratio')::float AS ratio, "
            f"{json_examples('c')} AS example_queries {DRIFT_FROM} CROSS JOIN LATERAL "
            f"{json_list('dr.explanation', 'clusters')} AS c WHERE "
            f"$__timeFilter(dr.created_at) AND {SQL_MV} AND c ->> 'status' <> 'stable' "
            "ORDER BY dr.created_at DESC LIMIT 100"
        ),
        w=24,
        options=TABLE,
    )
    b.add(
        "table",
        "Drift runs",
        "Every drift run in the time range, newest first: the windows compared, sample "
        "sizes, the verdict, and the tests that rejected on their own (unadjusted).",
        sql(
            f'SELECT dr.created_at AS "time", mv.model_name AS model, mv.version AS '
            f"model_version, dr.verdict, dr.window_start, dr.window_end, dr.n_ref, dr.n_cur, "
            f"(SELECT string_agg(dm.test, ', ' ORDER BY dm.test) FROM drift_metrics dm "
            f"WHERE dm.run_id = dr.id AND dm.drift) AS tests_below_alpha {DRIFT_FROM} "
            f"WHERE $__timeFilter(dr.created_at) AND {SQL_MV} "
            "ORDER BY dr.created_at DESC LIMIT 200"
        ),
        w=24,
        options=TABLE,
    )
    return b


def canary() -> Board:
    set_var = var(
        "canary_set", "Canary set", f"label_values(driftmon_canary_min_cosine{{{MV}}}, canary_set)"
    )
    canary_from = (
        "FROM canary_runs cr JOIN model_versions mv ON mv.id = cr.model_version_id "
        "JOIN canary_sets cs ON cs.id = cr.set_id"
    )
    sql_sel = f"{SQL_MV} AND cs.name IN ($canary_set)"
    b = Board(
        "driftmon-canary",
        "driftmon / Canary quality",
        "Re-embedded canary sets compared with their baselines: self-similarity, "
        "norms and the verdict over time.",
        [*MODEL_VARS, set_var],
    )
    b.add(
        "state-timeline",
        "Canary verdict over time",
        "Verdict of each canary run. Green unchanged: vectors match the baseline to float "
        "round-off. Yellow noise: they differ, within the endpoint's own run-to-run noise. "
        "Red CHANGED: the model behind the name changed (EmbeddingSilentModelChange).",
        prom(canary_verdict(CANARY_SEL), "{{model_version}} {{canary_set}}"),
        w=24,
        h=5,
        defaults={
            "mappings": CANARY_MAPPING,
            "color": {"mode": "thresholds"},
            "thresholds": steps((None, "green"), (1, "yellow"), (2, "red")),
        },
        options=TIMELINE,
    )
    b.add(
        "timeseries",
        "Self-similarity to the baseline",
        "Cosine between each canary text's new embedding and its baseline: the lowest item, "
        "the mean, and the tolerance below which an item counts as changed. An unchanged "
        "model stays at 1; a different model drops far below the tolerance.",
        prom(
            f"driftmon_canary_min_cosine{{{CANARY_SEL}}}", "lowest {{model_version}} {{canary_set}}"
        ),
        prom(
            f"driftmon_canary_mean_cosine{{{CANARY_SEL}}}", "mean {{model_version}} {{canary_set}}"
        ),
        prom(
            f"driftmon_canary_tolerance_cosine{{{CANARY_SEL}}}",
            "tolerance {{model_version}} {{canary_set}}",
        ),
        defaults={"max": 1},
    )
    b.add(
        "timeseries",
        "Items below tolerance",
        "Share of canary items whose cosine to the baseline is below the tolerance. At 5% "
        "(dashed) or more the verdict is changed.",
        prom(
            f"driftmon_canary_items_below_tolerance_ratio{{{CANARY_SEL}}}",
            "{{model_version}} {{canary_set}}",
        ),
        unit="percentunit",
        custom=DASHED,
        defaults={"min": 0, "max": 1, "thresholds": steps((None, "green"), (0.05, "red"))},
    )
    b.add(
        "timeseries",
        "Norm ratio",
        "Mean vector norm relative to the baseline. 1 is unchanged; outside the dashed "
        "lines (1% either way) normalisation or quantisation changed.",
        prom(f"driftmon_canary_norm_ratio{{{CANARY_SEL}}}", "{{model_version}} {{canary_set}}"),
        custom=DASHED,
        defaults={"thresholds": steps((None, "red"), (0.99, "green"), (1.01, "red"))},
    )
    b.add(
        "stat",
        "Since the latest canary run",
        "Age of the latest canary run; canaries run hourly by default. A stale canary "
        "cannot catch a model change.",
        prom(
            f"time() - driftmon_canary_last_run_timestamp_seconds{{{CANARY_SEL}}}",
            "{{model_version}} {{canary_set}}",
        ),
        unit="s",
        defaults={"thresholds": steps((None, "green"), (7200, "orange"), (10800, "red"))},
        options=STAT,
    )
    b.row("Retrieval quality")
    b.add(
        "timeseries",
        "Retrieval quality on the canary judgements",
        "nDCG@10, recall@10 and MRR@10 of the canary queries over the canary documents "
        "(trec_eval definitions). A drop for one model version, with the canary unchanged, "
        "means the corpus or judgements moved; with the canary changed, the model did.",
        prom(
            f'driftmon_retrieval_metric{{{CANARY_SEL},metric=~"ndcg@10|recall@10|mrr@10"}}',
            "{{metric}} {{model_version}} {{canary_set}}",
        ),
        defaults={"min": 0, "max": 1},
    )
    b.add(
        "timeseries",
        "Stale-index overlap and score cut-offs",
        "Share of each canary query's top-10 documents that survive on an index built "
        "with the baseline vectors (1 = users see the same results; a silent model change "
        "collapses it), and the share of queries whose best cosine passes each configured "
        "cut-off (RAG retrieval thresholds move with the model).",
        prom(
            f'driftmon_retrieval_metric{{{CANARY_SEL},metric="top10_overlap_stale_index"}}',
            "stale-index overlap {{model_version}}",
        ),
        prom(
            f'driftmon_retrieval_metric{{{CANARY_SEL},metric=~"top1_pass@.*"}}',
            "{{metric}} {{model_version}}",
        ),
        unit="percentunit",
        defaults={"min": 0, "max": 1},
    )
    b.add(
        "table",
        "Matryoshka: quality per prefix length",
        "nDCG@10 and recall@10 of the latest canary run at each configured prefix length "
        "(canary_sets.matryoshka_dims): the quality-versus-storage table for choosing a "
        "dimension.",
        sql(
            "SELECT mv.version AS model_version, cs.name AS canary_set, rm.dims, "
            "MAX(CASE WHEN rm.metric = 'ndcg@10' THEN rm.value END) AS ndcg_at_10, "
            "MAX(CASE WHEN rm.metric = 'recall@10' THEN rm.value END) AS recall_at_10 "
            "FROM retrieval_metrics rm JOIN canary_runs cr ON cr.id = rm.canary_run_id "
            "JOIN model_versions mv ON mv.id = cr.model_version_id JOIN canary_sets cs ON "
            "cs.id = cr.set_id WHERE cr.id IN (SELECT MAX(id) FROM canary_runs GROUP BY "
            f"model_version_id, set_id) AND {sql_sel} AND rm.metric IN ('ndcg@10', "
            "'recall@10') GROUP BY mv.version, cs.name, rm.dims ORDER BY 1, 2, 3"
        ),
        w=12,
        options=TABLE,
    )
    b.add(
        "table",
        "Migration checks",
        "The latest 'driftmon migrate-check' of each pair of model versions: the verdict "
        "and its reasons, and the linear CKA between the two embedding spaces.",
        sql(
            "SELECT mc.created_at AS \"time\", fa.model_name || ' ' || fa.version AS "
            "current_version, fb.model_name || ' ' || fb.version AS candidate, mc.verdict, "
            "mc.result ->> 'cka' AS cka, mc.result -> 'reasons' AS reasons FROM "
            "migrate_checks mc JOIN model_versions fa ON fa.id = mc.from_version_id JOIN "
            "model_versions fb ON fb.id = mc.to_version_id WHERE mc.id IN (SELECT MAX(id) "
            "FROM migrate_checks GROUP BY from_version_id, to_version_id) "
            "ORDER BY mc.created_at DESC"
        ),
        w=12,
        options=TABLE,
    )
    b.row("History (SQL)")
    b.add(
        "timeseries",
        "Lowest cosine per canary run",
        "The stored lowest per-item cosine of every canary run, from SQL: exact per-run "
        "points that outlive Prometheus retention.",
        sql(
            f"SELECT cr.created_at AS \"time\", mv.version || ' ' || cs.name AS metric, "
            f"cr.min_cosine AS value {canary_from} WHERE $__timeFilter(cr.created_at) AND "
            f"{sql_sel} ORDER BY 1",
            "time_series",
        ),
        w=24,
        defaults={"max": 1},
    )
    b.add(
        "table",
        "Canary runs",
        "Every canary run in the time range, newest first, with the numbers behind its "
        "verdict and the reasons a changed verdict gave.",
        sql(
            f'SELECT cr.created_at AS "time", mv.version AS model_version, cs.name AS '
            f"canary_set, cr.verdict, cr.n_items, cr.min_cosine, cr.p01_cosine, "
            f"cr.mean_cosine, cr.share_below, cr.norm_ratio, cr.tolerance, cr.dim_baseline, "
            f"cr.dim_current, (SELECT string_agg(r, '; ') FROM json_array_elements_text("
            f"COALESCE(cr.details -> 'reasons', '[]'::json)) AS r) AS reasons {canary_from} "
            f"WHERE $__timeFilter(cr.created_at) AND {sql_sel} "
            "ORDER BY cr.created_at DESC LIMIT 200"
        ),
        w=24,
        options=TABLE,
    )
    b.add(
        "table",
        "Baselines",
        "Every baseline of the selected canary sets, whatever the time range. 'current' "
        "marks the one runs are compared with; noise_floor is the lowest cosine between "
        "repeated embeddings when it was taken.",
        sql(
            'SELECT cb.created_at AS "time", mv.version AS model_version, cs.name AS '
            "canary_set, cb.current, cb.fingerprint, cb.noise_floor, cb.reason, "
            "cb.created_by FROM canary_baselines cb JOIN model_versions mv ON mv.id = "
            "cb.model_version_id JOIN canary_sets cs ON cs.id = cb.set_id WHERE "
            f"{sql_sel} ORDER BY cb.created_at DESC LIMIT 100"
        ),
        w=24,
        h=6,
        options=TABLE,
    )
    return b


HOURLY, FREQUENT = 'job=~"canary|drift"', 'job!~"canary|drift"'


def _thresholds_for(ref_id: str, thresholds: Json) -> Json:
    return {
        "matcher": {"id": "byFrameRefID", "options": ref_id},
        "properties": [{"id": "thresholds", "value": thresholds}],
    }


def agent() -> Board:
    b = Board(
        "driftmon-agent",
        "driftmon / Agent health",
        "The agent itself: scrapes, jobs, failures, sources and alert deliveries.",
        [],
    )
    b.add(
        "stat",
        "Agent up",
        "Whether Prometheus can scrape /metrics (scrape job 'driftmon'). DOWN for 5 "
        "minutes raises DriftmonAgentDown.",
        prom('up{job="driftmon"}', "{{instance}}"),
        w=6,
        h=5,
        defaults={
            "mappings": mapping((0, "DOWN", "red"), (1, "up", "green")),
            "thresholds": steps((None, "red"), (1, "green")),
        },
        options=STAT,
    )
    b.add(
        "table",
        "Version",
        "The driftmon version each scraped agent runs.",
        prom("driftmon_build_info", table=True),
        w=6,
        h=5,
        options=TABLE,
        transformations=HIDE_PROM_COLUMNS,
    )
    b.add(
        "timeseries",
        "Scrape duration",
        "How long one /metrics scrape takes. The agent reads the latest results from the "
        "database on every scrape, so a slow or unreachable database shows here first.",
        prom('scrape_duration_seconds{job="driftmon"}', "{{instance}}"),
        w=12,
        h=5,
        unit="s",
    )
    b.row("Jobs")
    b.add(
        "stat",
        "Since the last success",
        "Age of each job's last successful run. Jobs run every minute (sample, alerts), "
        "15 s (deliver) or hour (canary, drift) by default; red is where DriftmonJobStale "
        "fires: after 10 minutes for the frequent jobs and 3 hours for the hourly ones.",
        prom(f"time() - driftmon_job_last_success_timestamp_seconds{{{HOURLY}}}", "{{job}}"),
        prom(f"time() - driftmon_job_last_success_timestamp_seconds{{{FREQUENT}}}", "{{job}}"),
        w=12,
        unit="s",
        options=STAT,
        overrides=[
            _thresholds_for("A", steps((None, "green"), (7200, "orange"), (10800, "red"))),
            _thresholds_for("B", steps((None, "green"), (300, "orange"), (600, "red"))),
        ],
    )
    b.add(
        "stat",
        "Failed in a row",
        "Latest runs of each job that failed in a row; 0 after a success. Three raise "
        "DriftmonJobFailing.",
        prom("driftmon_job_consecutive_failures", "{{job}}"),
        w=12,
        defaults={"thresholds": steps((None, "green"), (1, "orange"), (3, "red"))},
        options=STAT,
    )
    b.add(
        "timeseries",
        "Job duration",
        "Duration of each job's last successful run. A drift or canary job that keeps "
        "growing is approaching its schedule interval.",
        prom("driftmon_job_last_duration_seconds", "{{job}}"),
        unit="s",
    )
    b.add(
        "timeseries",
        "Job failures",
        "Failed runs per job in each interval. Single failures that recover are retries "
        "doing their job; the recent job runs table below has the messages.",
        prom("increase(driftmon_job_failures_total[$__rate_interval])", "{{job}}"),
        defaults={"min": 0},
    )
    b.row("Embedding providers")
    b.add(
        "timeseries",
        "Embedding calls",
        "embed() calls per second by model and outcome (ok, partial: some items failed "
        "after retries, error: the call failed), and retried requests. Errors with the "
        "breaker open mean the endpoint is unavailable.",
        prom(
            "sum by (model, outcome) (rate(driftmon_provider_calls_total[$__rate_interval]))",
            "{{model}} {{outcome}}",
        ),
        prom(
            "sum by (model) (rate(driftmon_provider_retries_total[$__rate_interval]))",
            "{{model}} retries",
        ),
        w=8,
        defaults={"min": 0},
    )
    b.add(
        "timeseries",
        "Embedding call duration (p95)",
        "95th percentile wall time of one embed() call, all its batches included. It "
        "grows with batch sizes and provider latency; rate limits show up here first.",
        prom(
            "histogram_quantile(0.95, sum by (model, le) (rate("
            "driftmon_provider_call_duration_seconds_bucket[$__rate_interval])))",
            "{{model}}",
        ),
        w=8,
        unit="s",
        defaults={"min": 0},
    )
    b.add(
        "timeseries",
        "Tokens and estimated cost",
        "Input tokens sent and the estimated cost at each model's configured price per "
        "million tokens, per interval.",
        prom(
            "sum by (model) (increase(driftmon_provider_input_tokens_total[$__rate_interval]))",
            "{{model}} tokens",
        ),
        prom(
            "sum by (model) (increase(driftmon_provider_estimated_cost_total[$__rate_interval]))",
            "{{model}} cost",
        ),
        w=8,
        defaults={"min": 0},
    )
    b.row("Sources and deliveries")
    b.add(
        "timeseries",
        "Source records",
        "Records read from each query source per second, by outcome (read, sampled, and "
        "rejected per reason). A source at zero feeds no drift run.",
        prom(
            "sum by (source, outcome) (rate(driftmon_source_records_total[$__rate_interval]))",
            "{{source}} {{outcome}}",
        ),
        w=8,
        defaults={"min": 0},
    )
    b.add(
        "timeseries",
        "Alert deliveries",
        "Deliveries per sink and outcome in each interval. Any 'dead' raises "
        "DriftmonAlertDeliveriesDead: those alerts reached nobody.",
        prom(
            "sum by (sink, outcome) (increase(driftmon_alert_deliveries_total[$__rate_interval]))",
            "{{sink}} {{outcome}}",
        ),
        w=8,
        defaults={"min": 0},
    )
    b.add(
        "timeseries",
        "Deliveries waiting",
        "Deliveries queued or being retried per sink. Normally back at 0 within seconds; "
        "above 0 for 30 minutes raises DriftmonAlertDeliveriesBacklog.",
        prom("driftmon_alert_deliveries_pending", "{{sink}}"),
        w=8,
        defaults={"min": 0},
    )
    b.row("Recent activity (SQL)")
    b.add(
        "table",
        "Recent job runs",
        "Every job run in the time range, newest first, with its replica, status, duration "
        "and error message.",
        sql(
            'SELECT jr.started_at AS "time", jr.job, jr.replica, jr.status, '
            "EXTRACT(EPOCH FROM (jr.finished_at - jr.started_at)) AS duration_seconds, "
            "jr.items, jr.error FROM job_runs jr WHERE $__timeFilter(jr.started_at) "
            "ORDER BY jr.started_at DESC LIMIT 200"
        ),
        w=24,
        options=TABLE,
    )
    b.add(
        "table",
        "Alert deliveries",
        "Every delivery in the time range, newest first: which alert went to which sink, "
        "how many attempts it took, and the last HTTP status and error.",
        sql(
            'SELECT d.created_at AS "time", d.sink, a.rule AS alert, d.event, '
            "CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered' WHEN d.dead THEN 'dead' "
            "ELSE 'pending' END AS status, d.attempts, d.delivered_at, d.last_status, "
            "d.last_error FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id "
            "WHERE $__timeFilter(d.created_at) ORDER BY d.created_at DESC LIMIT 200"
        ),
        w=24,
        options=TABLE,
    )
    return b


BOARDS = (overview, drift, canary, agent)


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    out: dict[str, str] = {}
    for build in BOARDS:
        board = build().json()
        out[f"{board['uid']}.json"] = json.dumps(board, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate driftmon's Grafana dashboards.")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed JSON differs; write nothing"
    )
    args = parser.parse_args(argv)
    wanted = render()
    stale = sorted(
        name
        for name, text in wanted.items()
        if not (OUT / name).is_file() or (OUT / name).read_text() != text
    )
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in wanted)
    if args.check:
        for name in stale + extra:
            sys.stderr.write(f"grafana/dashboards/{name} is out of date\n")
        return 1 if stale or extra else 0
    OUT.mkdir(exist_ok=True)
    for name in stale:
        (OUT / name).write_text(wanted[name])
    for name in extra:
        (OUT / name).unlink()
    sys.stderr.write(
        f"{len(stale)} written, {len(extra)} removed, {len(wanted) - len(stale)} unchanged\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
