"""The prune job: old rows go with their children, recent and protected rows stay."""

from __future__ import annotations

import json
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support import DRIFTMON

from monitor.clock import FixedClock
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.jobs.context import JobContext
from monitor.jobs.prune import prune_plan
from monitor.jobs.runner import run_job
from monitor.storage.engine import Database, Session
from monitor.storage.migrate import upgrade
from monitor.storage.retention import prune
from monitor.storage.schema import (
    Alert,
    AlertDelivery,
    Base,
    CanaryBaseline,
    CanaryRun,
    CanarySet,
    DriftMetric,
    DriftRun,
    JobRun,
    ModelVersion,
    QueryEmbedding,
    QuerySample,
    RetrievalMetric,
    SampleWindow,
)

DAY = timedelta(days=1)


def _version(s: Session, now: datetime) -> ModelVersion:
    mv = ModelVersion(
        model_name="m", version="v1", provider="hash", model_id="h", dimensions=4,
        config_hash="c", config={}, created_at=now, last_seen_at=now,
    )  # fmt: skip
    s.add(mv)
    s.flush()
    return mv


def _drift_run(s: Session, mv: ModelVersion, at: datetime) -> DriftRun:
    run = DriftRun(
        model_version_id=mv.id, created_at=at, window_start=at, window_end=at,
        reference_start=at, reference_end=at, n_ref=1, n_cur=1, verdict="no_drift",
        alpha=0.01, seed=0,
    )  # fmt: skip
    s.add(run)
    s.flush()
    s.add(DriftMetric(run_id=run.id, test="mmd", drift=False))
    return run


def _canary_run(
    s: Session, mv: ModelVersion, cs: CanarySet, b: CanaryBaseline, at: datetime
) -> int:
    run = CanaryRun(
        set_id=cs.id, model_version_id=mv.id, baseline_id=b.id, created_at=at, verdict="unchanged",
        n_items=1, min_cosine=1, p01_cosine=1, mean_cosine=1, share_below=0, norm_ratio=1,
        dim_baseline=4, dim_current=4, tolerance=0.01,
    )  # fmt: skip
    s.add(run)
    s.flush()
    s.add(RetrievalMetric(canary_run_id=run.id, metric="map", dims=4, value=1.0))
    return run.id


def _window(s: Session, mv: ModelVersion, start: datetime, n: int) -> None:
    w = SampleWindow(source="log", window_start=start, seen=n, kept=n)
    s.add(w)
    s.flush()
    for slot in range(n):
        q = QuerySample(
            window_id=w.id, source="log", window_start=start, slot=slot, event_time=start,
            text_hash=f"{start:%j}-{slot}", text="q",
        )  # fmt: skip
        s.add(q)
        s.flush()
        s.add(
            QueryEmbedding(
                sample_id=q.id, model_version_id=mv.id, dtype="f4", dim=1, vector=b"\0" * 4
            )
        )


def _alert(s: Session, state: str, at: datetime, result_id: int | None = None) -> Alert:
    a = Alert(
        rule="r", fingerprint=f"{state}{at:%j}", labels={}, severity="warning", state=state,
        started_at=at, resolved_at=at if state == "resolved" else None, last_evaluated_at=at,
        last_result_id=result_id,
    )  # fmt: skip
    s.add(a)
    s.flush()
    return a


def _delivery(
    s: Session, alert: Alert, at: datetime, key: str, *, delivered: bool, dead: bool
) -> None:
    s.add(
        AlertDelivery(
            alert_id=alert.id, sink="hook", event="firing", idempotency_key=key, payload={},
            created_at=at, next_attempt_at=at, delivered_at=at if delivered else None, dead=dead,
        )
    )  # fmt: skip


def _job_run(s: Session, job: str, at: datetime, status: str = "ok") -> int:
    run = JobRun(job=job, replica="r", started_at=at, finished_at=at, status=status)
    s.add(run)
    s.flush()
    return run.id


def seed(db: Database, now: datetime) -> dict[str, int]:
    """Old rows (past every default retention) and recent ones; returns protected ids."""
    old = now - 200 * DAY
    with db.transaction() as s:
        mv = _version(s, now)
        cs = CanarySet(name="core", content_hash="h", source_path="p", n_items=1, imported_at=old)
        s.add(cs)
        s.flush()
        base = CanaryBaseline(
            set_id=cs.id, model_version_id=mv.id, created_at=old, noise_floor=1, fingerprint="f"
        )
        s.add(base)
        s.flush()
        for i in range(5):
            _drift_run(s, mv, old + i * DAY)
            _canary_run(s, mv, cs, base, old + i * DAY)
            _job_run(s, "sample", old + i * DAY)
        named_drift = _drift_run(s, mv, old - DAY).id
        _alert(s, "firing", old, named_drift)
        _alert(s, "pending", old)
        _drift_run(s, mv, now - DAY)
        _canary_run(s, mv, cs, base, now - DAY)
        _job_run(s, "sample", now - DAY)
        _job_run(s, "sample", now - 2 * DAY, status="running")
        stale_ok = _job_run(s, "drift", old)  # the last success of a failing job stays
        _job_run(s, "drift", old + DAY, status="failed")
        _job_run(s, "drift", now - DAY, status="failed")
        _window(s, mv, old, 3)
        _window(s, mv, now - 20 * DAY, 3)
        _window(s, mv, now - DAY, 3)
        gone = _alert(s, "resolved", old)
        _delivery(s, gone, old, "a", delivered=True, dead=False)
        kept = _alert(s, "resolved", now - DAY)
        _delivery(s, kept, old, "b", delivered=True, dead=False)
        _delivery(s, kept, old, "c", delivered=False, dead=True)
        _delivery(s, kept, now - DAY, "d", delivered=True, dead=False)
        _delivery(s, kept, old, "e", delivered=False, dead=False)  # still pending: stays
    return {"named_drift": named_drift, "stale_ok": stale_ok}


def counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def _settings(tmp_path: Path, url: str, extra: str = "") -> Settings:
    (tmp_path / "d.toml").write_text(
        f'[database]\nurl = "{url}"\n[retention]\nbatch_size = 2\n{extra}'
    )
    return load_settings(tmp_path / "d.toml")


def test_prune_deletes_old_rows_keeps_recent_and_protected(
    tmp_path: Path, db: Database, db_url: str, clock: FixedClock
) -> None:
    ids = seed(db, clock.now())
    before = counts(db)
    ctx = JobContext(settings=_settings(tmp_path, db_url), db=db, clock=clock)
    outcome = run_job(ctx, "prune")
    assert outcome.status == "ok", outcome.message
    after = counts(db)
    deleted = outcome.details["deleted"]
    for table, n in deleted.items():
        added = 1 if table == "job_runs" else 0  # the prune run's own record
        assert before[table] + added - after[table] == n, table
    assert deleted["drift_runs"] == 5 and deleted["drift_metrics"] == 5
    assert deleted["canary_runs"] == 5 and deleted["retrieval_metrics"] == 5
    # windows 200 and 20 days old; the reference (7 days before the newest window) stays
    assert deleted["query_samples"] == 6 and deleted["query_embeddings"] == 6
    assert deleted["sample_windows"] == 2
    assert deleted["job_runs"] == 6  # 'sample': 5 old; 'drift': the old failure, not its last ok
    assert deleted["alerts"] == 1
    assert deleted["alert_deliveries"] == 3  # the gone alert's, plus delivered and dead
    with db.read() as s:
        assert s.get(DriftRun, ids["named_drift"]) is not None
        assert s.get(JobRun, ids["stale_ok"]) is not None
        assert s.scalar(select(func.count()).select_from(CanaryBaseline)) == 1
        assert set(s.scalars(select(Alert.state))) == {"firing", "pending", "resolved"}
        assert set(s.scalars(select(AlertDelivery.idempotency_key))) == {"d", "e"}
        assert s.scalar(select(func.count()).where(JobRun.status == "running")) == 1
    again = run_job(ctx, "prune")
    assert again.status == "ok" and again.items == 0
    assert counts(db) == {**after, "job_runs": after["job_runs"] + 1}


def test_reference_window_and_zero_keep_forever(
    tmp_path: Path, db: Database, db_url: str, clock: FixedClock
) -> None:
    seed(db, clock.now())
    before = counts(db)
    old = clock.now() - 200 * DAY
    pinned = f"{old.isoformat()}/{(old + DAY).isoformat()}"
    extra = (
        'drift_runs = "0s"\ncanary_runs = "0s"\njob_runs = "0s"\n'
        f'[drift]\nreference = "pinned:{pinned}"\n'
    )
    ctx = JobContext(settings=_settings(tmp_path, db_url, extra), db=db, clock=clock)
    outcome = run_job(ctx, "prune")
    assert outcome.status == "ok", outcome.message
    after = counts(db)
    for table in ("drift_runs", "canary_runs", "drift_metrics"):
        assert after[table] == before[table], table
    assert after["job_runs"] == before["job_runs"] + 1
    assert before["query_samples"] - after["query_samples"] == 3  # only the 20-day-old window
    with db.read() as s:
        assert s.scalar(select(func.count()).where(QuerySample.window_start == old)) == 3


def test_a_backfill_stored_after_the_plan_is_its_newest_window_and_stays(
    tmp_path: Path, db: Database, db_url: str, clock: FixedClock
) -> None:
    """The rolling reference is measured in the batch's transaction, not when planning.

    A plan made on an empty database, then records 200 days old arriving before
    its batches run (a backfill ingested while the daemon starts): they are the
    newest window, so they stay. Planning from a "no samples yet" read deleted them.
    """
    plan = prune_plan(_settings(tmp_path, db_url), clock.now())
    with db.transaction() as s:
        mv = _version(s, clock.now())
        _window(s, mv, clock.now() - 200 * DAY, 3)
        _window(s, mv, clock.now() - 300 * DAY, 2)  # past the reference: goes
    deleted = prune(db, plan)
    assert deleted["query_samples"] == 2 and deleted["sample_windows"] == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(QuerySample)) == 3


def test_max_rows_per_run_bounds_one_run(
    tmp_path: Path, db: Database, db_url: str, clock: FixedClock
) -> None:
    seed(db, clock.now())
    ctx = JobContext(
        settings=_settings(tmp_path, db_url, "max_rows_per_run = 4\n"), db=db, clock=clock
    )
    first = run_job(ctx, "prune")
    assert first.status == "ok" and 1 <= first.items <= 4 + 2  # a batch's children may pass it
    assert run_job(ctx, "prune").items > 0


def test_run_once_prune_through_the_console_script(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'driftmon.db'}"
    db = Database(url)
    upgrade(db)
    seed(db, datetime.now(UTC))
    before = counts(db)
    db.dispose()
    (tmp_path / "d.toml").write_text(f'[database]\nurl = "{url}"\n')
    done = subprocess.run(
        [DRIFTMON, "run-once", "prune", "-c", str(tmp_path / "d.toml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("prune: ok (")
    db = Database(url)
    after = counts(db)
    db.dispose()
    assert after["drift_runs"] == before["drift_runs"] - 5
    assert after["query_samples"] == before["query_samples"] - 6


@pytest.mark.parametrize("bad", ['samples = "soon"', "batch_size = 0", 'job_runs = "99999d"'])
def test_bad_retention_settings_are_one_line(tmp_path: Path, bad: str) -> None:
    (tmp_path / "d.toml").write_text(f"[retention]\n{bad}\n")
    done = subprocess.run(
        [DRIFTMON, "config", "check", str(tmp_path / "d.toml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "retention." in done.stderr and "Traceback" not in done.stderr


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(["drift_runs", "samples", "batch_size", "max_rows_per_run"]),
    value=st.one_of(
        st.text(max_size=12),
        st.from_regex(r"\A[0-9]{1,25}(\.[0-9]{1,3})?(ms|s|m|h|d|w)\Z"),
        st.integers(min_value=-(10**30), max_value=10**30),
    ),
)
def test_any_retention_value_loads_or_is_one_config_error(key: str, value: object) -> None:
    # TOML, unlike JSON, wants DEL escaped in a string
    literal = json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    text = f"[retention]\n{key} = {literal}\n"
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "d.toml"
            path.write_text(text)
            cfg = load_settings(path, environ={})
    except ConfigError as exc:
        assert str(exc).startswith("retention.") and "\n" not in str(exc)
        return
    plan = prune_plan(cfg, datetime(2026, 1, 1, tzinfo=UTC))
    assert plan.batch >= 1 and plan.max_rows >= 1
