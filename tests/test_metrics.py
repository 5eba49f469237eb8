"""The Prometheus collector: catalogue names, values from a snapshot, bounded labels."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from monitor.domain import (
    AlertRecord,
    CanaryRunRecord,
    DriftRunRecord,
    JobRecord,
    ModelVersionInfo,
    Snapshot,
)
from monitor.metrics import CATALOGUE, build_registry, render

T = datetime(2026, 3, 2, tzinfo=UTC)
SNAP = Snapshot(
    model_versions=(ModelVersionInfo("prod", "v1", "hash", "h", 256, "abcd"),),
    drift_runs=(
        DriftRunRecord(
            1,
            "prod",
            "v1",
            T,
            T,
            "drift",
            900,
            150,
            {
                "mmd": {"statistic": 0.02, "p_value": 0.001, "threshold": None, "effect": 0.5},
                "novelty": {"statistic": 0.12, "p_value": 1e-9, "threshold": 0.01, "effect": None},
            },
        ),
    ),
    canary_runs=(
        CanaryRunRecord(2, "prod", "v1", "core", T, "changed", -0.2, 0.1, -0.1, 1.0, 1.0, 0.999),
    ),
    jobs=(JobRecord("drift", "ok", T, T, 1.5, 2),),
    alerts=(AlertRecord(1, "Drift", "f", {}, "warning", "firing", 2, 1.0, "s", T, T, None, T, 1),),
    deliveries=(("hook", "delivered", 3), ("hook", "pending", 1)),
    source_counters=(("log", "read", 10), ("log", "rejected_malformed_json", 2)),
)


def _samples(snapshot: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(build_registry(lambda: snapshot)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_values_come_from_the_snapshot() -> None:
    got = _samples(SNAP)
    mv = (("model", "prod"), ("model_version", "v1"))
    assert got[("driftmon_drift_detected", mv)] == 1.0
    assert got[("driftmon_drift_p_value", (*mv, ("test", "mmd")))] == 0.001
    assert got[("driftmon_drift_novelty_ratio", mv)] == 0.12
    assert got[("driftmon_canary_min_cosine", (("canary_set", "core"), *mv))] == -0.2
    assert got[("driftmon_canary_changed", (("canary_set", "core"), *mv))] == 1.0
    assert got[("driftmon_job_failures_total", (("job", "drift"),))] == 2
    job = (("job", "drift"),)
    assert got[("driftmon_job_last_success_timestamp_seconds", job)] == T.timestamp()
    delivered = (("outcome", "delivered"), ("sink", "hook"))
    assert got[("driftmon_alert_deliveries_total", delivered)] == 3
    assert got[("driftmon_alert_deliveries_pending", (("sink", "hook"),))] == 1
    assert (
        got[
            (
                "driftmon_source_records_total",
                (("outcome", "rejected_malformed_json"), ("source", "log")),
            )
        ]
        == 2
    )
    assert (
        got[
            (
                "driftmon_alerts_active",
                (("alertname", "Drift"), ("severity", "warning"), ("state", "firing")),
            )
        ]
        == 1
    )


def test_every_emitted_name_is_in_the_catalogue_with_bounded_labels() -> None:
    allowed = {
        "model",
        "model_version",
        "canary_set",
        "test",
        "job",
        "source",
        "sink",
        "alertname",
        "severity",
        "state",
        "outcome",
        "side",
        "version",
        "provider",
        "model_id",
        "dimensions",
        "fingerprint",
    }
    text = render(build_registry(lambda: SNAP)).decode()
    for fam in text_string_to_metric_families(text):
        name = fam.name + ("_total" if fam.type == "counter" else "")
        assert name in CATALOGUE, name
        for s in fam.samples:
            assert set(s.labels) <= allowed, s


def test_insufficient_data_hides_the_verdict_and_a_dead_database_still_scrapes() -> None:
    snap = Snapshot(drift_runs=(DriftRunRecord(1, "m", "v", T, T, "insufficient_data", 3, 4),))
    got = _samples(snap)
    assert ("driftmon_drift_detected", (("model", "m"), ("model_version", "v"))) not in got
    assert got[("driftmon_drift_insufficient_data", (("model", "m"), ("model_version", "v")))] == 1

    def broken() -> Snapshot:
        raise RuntimeError("database is down")

    text = render(build_registry(broken)).decode()
    assert 'driftmon_build_info{version="' in text


def test_provider_meter_counts_embedding_calls(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import CollectorRegistry

    from monitor.config import ModelSettings, Settings
    from monitor.jobs.context import JobContext
    from monitor.metrics import ProviderMeter
    from monitor.storage.engine import Database

    registry = CollectorRegistry()
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    ctx = JobContext(
        settings=Settings(models=[ModelSettings(name="m")]),
        db=db,
        clock=clock,
        meter=ProviderMeter(registry),
    )
    try:
        ctx.embed(ctx.settings.models[0], ["one query", "another query"], "query")
        ctx.embed(ctx.settings.models[0], ["third"], "document")
    finally:
        ctx.close()
        db.dispose()
    get = registry.get_sample_value
    assert get("driftmon_provider_calls_total", {"model": "m", "outcome": "ok"}) == 2
    assert get("driftmon_provider_requests_total", {"model": "m"}) == 2
    assert get("driftmon_provider_input_tokens_total", {"model": "m"}) == 5
    assert get("driftmon_provider_call_duration_seconds_count", {"model": "m"}) == 2
