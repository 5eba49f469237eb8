"""driftmon / Agent health: scrapes, jobs, providers, sources and alert deliveries."""

from __future__ import annotations

from .board import Board
from .kit import HIDE_PROM_COLUMNS, mapping, prom, sql, steps, thresholds_for

HOURLY, FREQUENT = 'job=~"canary|drift"', 'job!~"canary|drift"'


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
        mappings=mapping((0, "DOWN", "red"), (1, "up", "green")),
        thresholds=steps((None, "red"), (1, "green")),
    )
    b.add(
        "table",
        "Version",
        "The driftmon version each scraped agent runs.",
        prom("driftmon_build_info", table=True),
        w=6,
        h=5,
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
        overrides=[
            thresholds_for("A", steps((None, "green"), (7200, "orange"), (10800, "red"))),
            thresholds_for("B", steps((None, "green"), (300, "orange"), (600, "red"))),
        ],
    )
    b.add(
        "stat",
        "Failed in a row",
        "Latest runs of each job that failed in a row; 0 after a success. Three raise "
        "DriftmonJobFailing.",
        prom("driftmon_job_consecutive_failures", "{{job}}"),
        w=12,
        thresholds=steps((None, "green"), (1, "orange"), (3, "red")),
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
        min=0,
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
        min=0,
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
        min=0,
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
        min=0,
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
        min=0,
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
        min=0,
    )
    b.add(
        "timeseries",
        "Deliveries waiting",
        "Deliveries queued or being retried per sink. Normally back at 0 within seconds; "
        "above 0 for 30 minutes raises DriftmonAlertDeliveriesBacklog.",
        prom("driftmon_alert_deliveries_pending", "{{sink}}"),
        w=8,
        min=0,
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
    )
    return b
