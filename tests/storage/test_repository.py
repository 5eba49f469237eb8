"""Repository functions against real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.storage import alerts as alerts_store
from monitor.storage import canaries as canaries_store
from monitor.storage import drift as drift_store
from monitor.storage import job_runs as job_runs_store
from monitor.storage import versions as versions_store
from monitor.storage.engine import Database
from monitor.storage.vectors import decode_vector, decode_vectors, encode_vector

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MODEL = {
    "provider": "hash",
    "model": "m",
    "base_url": "",
    "dimensions": 8,
    "query_prefix": "",
    "document_prefix": "",
    "normalize": True,
    "seed": 0,
    "variant": "base",
}


def test_vectors_round_trip_little_endian() -> None:
    v = np.array([1.5, -2.25, 3.0], dtype=np.float32)
    blob, dtype, dim = encode_vector(v)
    assert blob == np.array(v, dtype="<f4").tobytes() and (dtype, dim) == ("f4", 3)
    np.testing.assert_array_equal(decode_vector(blob, dtype, dim), v)
    with pytest.raises(ValueError, match="its row says 4"):
        decode_vector(blob, dtype, 4)
    with pytest.raises(ValueError, match="mixed dimensions"):
        decode_vectors([(blob, "f4", 3), (encode_vector(np.ones(2))[0], "f4", 2)])


def test_model_versions_follow_the_configuration_not_the_variant(db: Database) -> None:
    with db.transaction() as s:
        a = versions_store.ensure_model_version(s, "prod", MODEL, T0)
        b = versions_store.ensure_model_version(s, "prod", {**MODEL, "variant": "rotated"}, T0)
        c = versions_store.ensure_model_version(s, "prod", {**MODEL, "dimensions": 16}, T0)
    assert a.id == b.id, "a silent change on the provider's side is not a new version"
    assert c.id != a.id and c.version != a.version and c.dimensions == 16
    with db.transaction() as s:
        versions_store.ensure_model_version(s, "cand", {**MODEL, "active": False}, T0)
        assert {m.model for m in versions_store.active_model_versions(s)} == {"prod"}


def test_canary_sets_are_versioned_by_content(db: Database) -> None:
    items = [("q1", "query", "a"), ("d1", "document", "b")]
    with db.transaction() as s:
        first, created = canaries_store.import_canary_set(
            s, "core", "x.jsonl", items, [("q1", "d1", 1)], T0
        )
        again, created_again = canaries_store.import_canary_set(
            s, "core", "x.jsonl", items, [("q1", "d1", 1)], T0
        )
        changed, _ = canaries_store.import_canary_set(
            s, "core", "x.jsonl", [*items, ("q2", "query", "c")], [], T0 + timedelta(1)
        )
        assert created and not created_again and first == again and changed != first
        assert canaries_store.latest_canary_set(s, "core") == changed
        assert [i.key for i in canaries_store.canary_items(s, first)] == ["q1", "d1"]


def test_baseline_and_canary_runs_round_trip(db: Database) -> None:
    vecs = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    with db.transaction() as s:
        set_id, _ = canaries_store.import_canary_set(
            s,
            "core",
            "x",
            [("a", "query", "a"), ("b", "query", "b"), ("c", "document", "c")],
            [],
            T0,
        )
        mv = versions_store.ensure_model_version(s, "prod", MODEL, T0)
        ids = [i.id for i in canaries_store.canary_items(s, set_id)]
        bl = canaries_store.save_baseline(s, set_id, mv.id, ids, vecs, 0.9999, T0)
        for k in range(3):
            canaries_store.save_canary_run(
                s,
                set_id=set_id,
                model_version_id=mv.id,
                baseline_id=bl,
                created_at=T0 + timedelta(hours=k),
                verdict="noise",
                n_items=3,
                min_cosine=0.99 - k / 100,
                p01_cosine=0.99,
                mean_cosine=0.995,
                share_below=0.0,
                norm_ratio=1.0,
                dim_baseline=8,
                dim_current=8,
                tolerance=0.999,
                details={},
            )
    with db.read() as s:
        got = canaries_store.current_baseline(s, set_id, mv.id)
        assert got is not None and got[0] == bl and got[1] == pytest.approx(0.9999)
        np.testing.assert_array_equal(got[2], vecs)
        runs = canaries_store.latest_canary_runs(s, limit_per_key=2)
    assert [r.min_cosine for r in runs] == pytest.approx([0.97, 0.98])


def test_drift_runs_latest_per_version_with_tests(db: Database) -> None:
    with db.transaction() as s:
        mv = versions_store.ensure_model_version(s, "prod", MODEL, T0)
        for k, verdict in enumerate(["no_drift", "drift"]):
            drift_store.save_drift_run(
                s,
                model_version_id=mv.id,
                created_at=T0 + timedelta(hours=k),
                window_start=T0 + timedelta(hours=k),
                window_end=T0 + timedelta(hours=k + 1),
                reference_start=T0 - timedelta(days=1),
                reference_end=T0,
                n_ref=100,
                n_cur=50,
                verdict=verdict,
                alpha=0.01,
                seed=k,
                explanation={"k": k},
                metrics=[
                    {
                        "test": "mmd",
                        "statistic": 0.1 * k,
                        "p_value": 0.5 / (k + 1),
                        "threshold": None,
                        "effect": None,
                        "drift": bool(k),
                    }
                ],
            )
    with db.read() as s:
        (latest,) = drift_store.latest_drift_runs(s)
        assert latest.verdict == "drift" and latest.tests["mmd"]["p_value"] == 0.25
        assert [r.verdict for r in drift_store.latest_drift_runs(s, 5)] == ["drift", "no_drift"]
        assert drift_store.drift_run_exists(s, mv.id, T0 + timedelta(hours=1), 50)
        assert not drift_store.drift_run_exists(s, mv.id, T0 + timedelta(hours=1), 51)


def test_job_summaries_and_outbox(db: Database) -> None:
    with db.transaction() as s:
        r1 = job_runs_store.start_job_run(s, "drift", "r1", T0)
        job_runs_store.finish_job_run(s, r1, "ok", T0 + timedelta(seconds=3), items=2)
        r2 = job_runs_store.start_job_run(s, "drift", "r1", T0 + timedelta(hours=1))
        job_runs_store.finish_job_run(s, r2, "failed", T0 + timedelta(hours=1), error="boom")
        alert_id = alerts_store.save_alert(
            s,
            None,
            T0,
            rule="R",
            fingerprint="f",
            labels={"a": "b"},
            severity="warning",
            state="firing",
            streak=1,
            value=1.0,
            summary="s",
            started_at=T0,
        )
        alerts_store.add_delivery(
            s,
            alert_id=alert_id,
            sink="hook",
            event="firing",
            idempotency_key="msg_1",
            payload={"x": 1},
            now=T0,
        )
    with db.transaction() as s:
        (job,) = job_runs_store.job_summaries(s)
        assert (job.last_status, job.failures, job.last_duration_seconds) == ("failed", 1, 3.0)
        (due,) = alerts_store.due_deliveries(s, T0)
        alerts_store.mark_delivery(
            s, due.id, T0, ok=False, status=500, error="HTTP 500", retry_in=timedelta(minutes=1)
        )
    with db.transaction() as s:
        assert alerts_store.due_deliveries(s, T0 + timedelta(seconds=59)) == []
        (again,) = alerts_store.due_deliveries(s, T0 + timedelta(minutes=1))
        assert again.attempts == 1
        alerts_store.mark_delivery(s, again.id, T0, ok=True, status=204, error=None, retry_in=None)
    with db.read() as s:
        assert alerts_store.delivery_counts(s) == [("hook", "delivered", 1)]
