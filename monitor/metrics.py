"""Prometheus metrics, read from stored results at scrape time.

A custom collector turns a :class:`~monitor.domain.Snapshot` (loaded from the
database by a callable the app supplies) into metric families, so a restarted or
second replica reports the same values. Labels are bounded: model,
model_version, canary_set, test, job, source, sink, alertname, severity.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.domain import Snapshot

__all__ = [
    "CATALOGUE",
    "CONTENT_TYPE",
    "METER_CATALOGUE",
    "DriftCollector",
    "ProviderMeter",
    "build_registry",
    "render",
]

log = logging.getLogger("driftmon.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MV = ["model", "model_version"]
_CANARY_STATES = ("unchanged", "noise", "changed")
_DELIVERY_OUTCOMES = ("delivered", "dead")

#: name -> (type, labels, help); the README's metric table is generated from this
CATALOGUE: dict[str, tuple[str, list[str], str]] = {
    "driftmon_build_info": ("gauge", ["version"], "Always 1; the agent's version"),
    "driftmon_model_version_info": (
        "gauge",
        [*_MV, "provider", "model_id", "dimensions", "fingerprint"],
        "Always 1; attributes of each active model version",
    ),
    "driftmon_drift_detected": (
        "gauge",
        _MV,
        "1 if the latest drift run's combined verdict is "
        "drift, 0 if not; absent while data is insufficient",
    ),
    "driftmon_drift_insufficient_data": (
        "gauge",
        _MV,
        "1 if the latest drift run had too few samples for a verdict",
    ),
    "driftmon_drift_statistic": ("gauge", [*_MV, "test"], "Latest statistic of each drift test"),
    "driftmon_drift_p_value": ("gauge", [*_MV, "test"], "Latest p-value of each drift test"),
    "driftmon_drift_effect": ("gauge", [*_MV, "test"], "Latest effect size of each drift test"),
    "driftmon_drift_novelty_ratio": (
        "gauge",
        _MV,
        "Share of current queries far from every reference query (0-1)",
    ),
    "driftmon_drift_samples": (
        "gauge",
        [*_MV, "side"],
        "Samples in the latest drift run, side=reference|current",
    ),
    "driftmon_drift_last_run_timestamp_seconds": ("gauge", _MV, "When the latest drift run ran"),
    "driftmon_canary_changed": (
        "gauge",
        [*_MV, "canary_set"],
        "1 if the latest canary run found the model changed",
    ),
    "driftmon_canary_min_cosine": (
        "gauge",
        [*_MV, "canary_set"],
        "Lowest per-item cosine to the baseline",
    ),
    "driftmon_canary_mean_cosine": (
        "gauge",
        [*_MV, "canary_set"],
        "Mean per-item cosine to the baseline",
    ),
    "driftmon_canary_norm_ratio": (
        "gauge",
        [*_MV, "canary_set"],
        "Mean vector norm relative to the baseline",
    ),
    "driftmon_canary_verdict": (
        "gauge",
        [*_MV, "canary_set", "state"],
        "1 for the latest canary run's verdict, 0 for the others "
        "(state: unchanged, noise, changed)",
    ),
    "driftmon_canary_items_below_tolerance_ratio": (
        "gauge",
        [*_MV, "canary_set"],
        "Share of canary items whose cosine to the baseline is below the tolerance (0-1)",
    ),
    "driftmon_canary_tolerance_cosine": (
        "gauge",
        [*_MV, "canary_set"],
        "Per-item cosine below which an item counts as changed",
    ),
    "driftmon_canary_last_run_timestamp_seconds": (
        "gauge",
        [*_MV, "canary_set"],
        "When the latest canary run ran",
    ),
    "driftmon_retrieval_metric": (
        "gauge",
        [*_MV, "canary_set", "metric"],
        "Latest retrieval quality on the canary judgements "
        "(recall@k, ndcg@k, mrr@k, map, top-1 score quantiles and "
        "cut-off pass rates, top-10 overlap on a stale index)",
    ),
    "driftmon_job_last_success_timestamp_seconds": (
        "gauge",
        ["job"],
        "When each job last succeeded",
    ),
    "driftmon_job_last_duration_seconds": (
        "gauge",
        ["job"],
        "Duration of each job's last successful run",
    ),
    "driftmon_job_failures_total": ("counter", ["job"], "Failed runs of each job"),
    "driftmon_job_consecutive_failures": (
        "gauge",
        ["job"],
        "Latest runs of each job that failed in a row (0 after a success)",
    ),
    "driftmon_alerts_active": (
        "gauge",
        ["alertname", "severity", "state"],
        "Pending and firing alerts",
    ),
    "driftmon_alert_deliveries_total": (
        "counter",
        ["sink", "outcome"],
        "Alert deliveries, outcome=delivered|dead",
    ),
    "driftmon_alert_deliveries_pending": ("gauge", ["sink"], "Deliveries waiting to be sent"),
    "driftmon_source_records_total": (
        "counter",
        ["source", "outcome"],
        "Records read from each query source, by outcome",
    ),
}


def _family(name: str) -> Metric:
    kind, labels, help_text = CATALOGUE[name]
    if kind == "counter":
        return CounterMetricFamily(name.removesuffix("_total"), help_text, labels=labels)
    return GaugeMetricFamily(name, help_text, labels=labels)


def _ts(value: object) -> float:
    return value.timestamp()  # type: ignore[attr-defined, no-any-return]


class DriftCollector(Collector):
    """Yields every catalogue metric from one snapshot per scrape."""

    def __init__(self, load: Callable[[], Snapshot]) -> None:
        self._load = load

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no database hit at registration

    def collect(self) -> Iterator[Metric]:
        try:
            snap = self._load()
        except Exception as exc:  # a scrape must still answer while the database is down
            log.warning("metrics: could not read the database (%s)", type(exc).__name__)
            snap = Snapshot()
        f = {name: _family(name) for name in CATALOGUE}

        def add(name: str, labels: list[str], value: float | None) -> None:
            if value is not None and math.isfinite(value):
                f[name].add_metric(labels, value)  # type: ignore[attr-defined]

        add("driftmon_build_info", [__version__], 1)
        for part in (_versions, _drift, _canaries, _jobs_and_alerts, _deliveries_and_sources):
            part(snap, add)
        yield from f.values()


_Add = Callable[[str, list[str], float | None], None]


def _versions(snap: Snapshot, add: _Add) -> None:
    for mv in snap.model_versions:
        add(
            "driftmon_model_version_info",
            [
                mv.model,
                mv.version,
                mv.provider,
                mv.model_id,
                str(mv.dimensions),
                mv.fingerprint,
            ],
            1,
        )


def _drift(snap: Snapshot, add: _Add) -> None:
    for run in snap.drift_runs:
        run_labels = [run.model, run.version]
        insufficient = run.verdict == "insufficient_data"
        add("driftmon_drift_insufficient_data", run_labels, float(insufficient))
        if not insufficient:
            add("driftmon_drift_detected", run_labels, float(run.verdict == "drift"))
        add("driftmon_drift_samples", [*run_labels, "reference"], run.n_ref)
        add("driftmon_drift_samples", [*run_labels, "current"], run.n_cur)
        add("driftmon_drift_last_run_timestamp_seconds", run_labels, _ts(run.created_at))
        for test, v in sorted(run.tests.items()):
            add("driftmon_drift_statistic", [*run_labels, test], v.get("statistic"))
            add("driftmon_drift_p_value", [*run_labels, test], v.get("p_value"))
            add("driftmon_drift_effect", [*run_labels, test], v.get("effect"))
        add(
            "driftmon_drift_novelty_ratio",
            run_labels,
            run.tests.get("novelty", {}).get("statistic"),
        )


def _canaries(snap: Snapshot, add: _Add) -> None:
    for c in snap.canary_runs:
        labels = [c.model, c.version, c.canary_set]
        add("driftmon_canary_changed", labels, float(c.verdict == "changed"))
        add("driftmon_canary_min_cosine", labels, c.min_cosine)
        add("driftmon_canary_mean_cosine", labels, c.mean_cosine)
        add("driftmon_canary_norm_ratio", labels, c.norm_ratio)
        add("driftmon_canary_items_below_tolerance_ratio", labels, c.share_below)
        add("driftmon_canary_tolerance_cosine", labels, c.tolerance)
        states = _CANARY_STATES + ((c.verdict,) if c.verdict not in _CANARY_STATES else ())
        for state in states:
            add("driftmon_canary_verdict", [*labels, state], float(c.verdict == state))
        add("driftmon_canary_last_run_timestamp_seconds", labels, _ts(c.created_at))
        for metric, value in sorted(c.retrieval.items()):
            add("driftmon_retrieval_metric", [*labels, metric], value)


def _jobs_and_alerts(snap: Snapshot, add: _Add) -> None:
    for j in snap.jobs:
        if j.last_success_at is not None:
            add("driftmon_job_last_success_timestamp_seconds", [j.job], _ts(j.last_success_at))
        add("driftmon_job_last_duration_seconds", [j.job], j.last_duration_seconds)
        add("driftmon_job_failures_total", [j.job], j.failures)
        add("driftmon_job_consecutive_failures", [j.job], j.consecutive_failures)
    counts: dict[tuple[str, str, str], int] = {}
    for a in snap.alerts:
        key = (a.rule, a.severity, a.state)
        counts[key] = counts.get(key, 0) + 1
    for key, n in sorted(counts.items()):
        add("driftmon_alerts_active", list(key), n)


def _deliveries_and_sources(snap: Snapshot, add: _Add) -> None:
    # every outcome of every known sink, zeros included, so increase() sees the first one
    deliveries = {
        (sink, state): 0
        for sink in {d[0] for d in snap.deliveries}
        for state in ("pending", *_DELIVERY_OUTCOMES)
    }
    for sink, state, n in snap.deliveries:
        deliveries[(sink, state)] = deliveries.get((sink, state), 0) + n
    for (sink, state), n in sorted(deliveries.items()):
        if state == "pending":
            add("driftmon_alert_deliveries_pending", [sink], n)
        else:
            add("driftmon_alert_deliveries_total", [sink, state], n)
    for source, counter, value in snap.source_counters:
        add("driftmon_source_records_total", [source, counter], value)


#: in-process metrics of embedding calls (counters add up across replicas)
METER_CATALOGUE: dict[str, tuple[str, list[str], str]] = {
    "driftmon_provider_requests_total": (
        "counter",
        ["model"],
        "HTTP requests sent to the embedding endpoint",
    ),
    "driftmon_provider_calls_total": (
        "counter",
        ["model", "outcome"],
        "embed() calls, outcome=ok|partial|error",
    ),
    "driftmon_provider_retries_total": (
        "counter",
        ["model"],
        "Requests retried after 429, 5xx or a timeout",
    ),
    "driftmon_provider_errors_total": (
        "counter",
        ["model"],
        "Requests that failed after their retries",
    ),
    "driftmon_provider_input_tokens_total": ("counter", ["model"], "Input tokens sent"),
    "driftmon_provider_estimated_cost_total": (
        "counter",
        ["model"],
        "Estimated cost at the configured price per million tokens",
    ),
    "driftmon_provider_call_duration_seconds": (
        "histogram",
        ["model"],
        "Wall time of one embed() call, all its batches included",
    ),
}


class ProviderMeter:
    """Counts every embedding call the jobs make, per model."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def make(name: str) -> Any:
            kind, labels, help_text = METER_CATALOGUE[name]
            if kind == "histogram":
                return Histogram(
                    name,
                    help_text,
                    labels,
                    registry=registry,
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                )
            return Counter(name.removesuffix("_total"), help_text, labels, registry=registry)

        self._m = {name: make(name) for name in METER_CATALOGUE}

    def observe(
        self,
        model: str,
        *,
        requests: int,
        retries: int,
        errors: int,
        tokens: int,
        cost: float,
        seconds: float,
        outcome: str,
    ) -> None:
        m = self._m
        m["driftmon_provider_requests_total"].labels(model).inc(requests)
        m["driftmon_provider_retries_total"].labels(model).inc(retries)
        m["driftmon_provider_errors_total"].labels(model).inc(errors)
        m["driftmon_provider_input_tokens_total"].labels(model).inc(tokens)
        m["driftmon_provider_estimated_cost_total"].labels(model).inc(cost)
        m["driftmon_provider_call_duration_seconds"].labels(model).observe(seconds)
        m["driftmon_provider_calls_total"].labels(model, outcome).inc()


def build_registry(load: Callable[[], Snapshot]) -> CollectorRegistry:
    """A private registry holding driftmon's stored-results collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DriftCollector(load))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
