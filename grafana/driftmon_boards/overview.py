"""driftmon / Overview: every model version at a glance."""

from __future__ import annotations

from .board import Board
from .kit import HIDE_PROM_COLUMNS, MODEL_VARS, MV, mapping, organize, prom, sql, steps
from .queries import CANARY_MAPPING, DRIFT_MAPPING, DRIFT_VERDICT, canary_verdict


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
        mappings=DRIFT_MAPPING,
        color_by_thresholds=True,
        thresholds=steps((None, "green"), (1, "red"), (2, "blue")),
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
        mappings=CANARY_MAPPING,
        color_by_thresholds=True,
        thresholds=steps((None, "green"), (1, "yellow"), (2, "red")),
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
        decimals=1,
        thresholds=steps((None, "green"), (0.05, "orange")),
    )
    b.row("Alerts")
    b.add(
        "table",
        "Alerts in Prometheus",
        "Pending and firing alerts from the rules in alerts/driftmon.rules.yml, one row per "
        "alert. Empty means all clear. Each alert's runbook_url explains what to do.",
        prom('ALERTS{alertname=~"Embedding.+|Driftmon.+"}', table=True),
        w=12,
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
        transformations=[organize(["Time", "__name__"], {"Value": "alerts"})],
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
        thresholds=steps((None, "green"), (7200, "orange"), (10800, "red")),
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
        thresholds=steps((None, "green"), (7200, "orange"), (10800, "red")),
    )
    b.add(
        "stat",
        "Agent up",
        "Whether Prometheus can scrape the agent's /metrics (scrape job 'driftmon'). "
        "DOWN for 5 minutes raises DriftmonAgentDown; every other number here then stops.",
        prom('up{job="driftmon"}', "{{instance}}"),
        w=8,
        h=5,
        mappings=mapping((0, "DOWN", "red"), (1, "up", "green")),
        thresholds=steps((None, "red"), (1, "green")),
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
    )
    return b
