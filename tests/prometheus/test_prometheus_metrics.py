"""The metrics added for dashboards and rules: canary verdict state set, canary tolerance,
consecutive job failures, and zero-filled delivery outcomes."""

from __future__ import annotations

import subprocess
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
Labels = tuple[tuple[str, str], ...]


def _canary(verdict: str, canary_set: str = "core") -> CanaryRunRecord:
    return CanaryRunRecord(
        1,
        "prod",
        "v1",
        canary_set,
        T,
        verdict,
        0.2,
        0.6,
        0.3,
        0.4,
        1.0,
        0.998,
        retrieval={"ndcg@10": 0.8, "recall@10": 0.9},
    )


FULL = Snapshot(
    model_versions=(
        ModelVersionInfo("prod", "v1", "hash", "h", 256, "abcd", {"model": "hash-ngram-256"}),
    ),
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
                "mmd": {"statistic": 0.02, "p_value": 0.001, "effect": 0.5},
                "novelty": {"statistic": 0.12, "p_value": 1e-9, "effect": 0.1},
            },
        ),
    ),
    canary_runs=(_canary("changed"), _canary("noise", "faq")),
    jobs=(
        JobRecord("drift", "failed", T, T, 1.5, 4, consecutive_failures=3),
        JobRecord("sample", "ok", T, T, 0.1, 1),
    ),
    alerts=(
        AlertRecord(
            1, "EmbeddingQueryDrift", "f", {}, "warning", "firing", 2, 1.0, "s", T, T, None, T, 1
        ),
    ),
    deliveries=(
        ("hook", "delivered", 3),
        ("hook", "dead", 1),
        ("hook", "pending", 2),
        ("chat", "delivered", 5),
    ),
    source_counters=(("log", "read", 10),),
)


def _samples(snapshot: Snapshot) -> dict[tuple[str, Labels], float]:
    text = render(build_registry(lambda: snapshot)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_canary_verdict_is_a_state_set_with_one_state_at_1() -> None:
    got = _samples(FULL)
    for canary_set, verdict in (("core", "changed"), ("faq", "noise")):
        states = {
            state: got[
                (
                    "driftmon_canary_verdict",
                    (
                        ("canary_set", canary_set),
                        ("model", "prod"),
                        ("model_version", "v1"),
                        ("state", state),
                    ),
                )
            ]
            for state in ("unchanged", "noise", "changed")
        }
        assert states == {s: float(s == verdict) for s in states}
    core = (("canary_set", "core"), ("model", "prod"), ("model_version", "v1"))
    assert got[("driftmon_canary_items_below_tolerance_ratio", core)] == 0.4
    assert got[("driftmon_canary_tolerance_cosine", core)] == 0.998


def test_an_unknown_canary_verdict_is_still_shown() -> None:
    got = _samples(Snapshot(canary_runs=(_canary("error"),)))
    states = {
        dict(labels)["state"]: v
        for (name, labels), v in got.items()
        if name == "driftmon_canary_verdict"
    }
    assert states == {"unchanged": 0, "noise": 0, "changed": 0, "error": 1}


def test_consecutive_failures_per_job() -> None:
    got = _samples(FULL)
    assert got[("driftmon_job_consecutive_failures", (("job", "drift"),))] == 3
    assert got[("driftmon_job_consecutive_failures", (("job", "sample"),))] == 0


def test_every_outcome_of_a_known_sink_is_exported_zeros_included() -> None:
    got = _samples(FULL)

    def total(sink: str, outcome: str) -> float:
        return got[("driftmon_alert_deliveries_total", (("outcome", outcome), ("sink", sink)))]

    assert (total("hook", "delivered"), total("hook", "dead")) == (3, 1)
    assert (total("chat", "delivered"), total("chat", "dead")) == (5, 0)
    assert got[("driftmon_alert_deliveries_pending", (("sink", "hook"),))] == 2
    assert got[("driftmon_alert_deliveries_pending", (("sink", "chat"),))] == 0
    assert not any(name.startswith("driftmon_alert_deliveries") for name, _ in _samples(Snapshot()))


def test_every_catalogue_metric_has_a_sample_and_promtool_accepts_them(promtool: str) -> None:
    text = render(build_registry(lambda: FULL)).decode()
    names = {
        fam.name + ("_total" if fam.type == "counter" else "")
        for fam in text_string_to_metric_families(text)
        if fam.samples
    }
    assert names == set(CATALOGUE)
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
