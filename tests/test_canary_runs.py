"""Canary runs with retrieval quality, rank overlap, re-baselining and migrate-check."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.demo_data import canary_set
from monitor.jobs.canary import rebaseline
from monitor.jobs.context import JobContext
from monitor.jobs.migration import migrate_check
from monitor.jobs.runner import run_job
from monitor.providers import build_provider
from monitor.storage import canaries as canaries_store
from monitor.storage.engine import Database
from monitor.storage.schema import CanaryBaseline, MigrateCheck, RetrievalMetric


def _ctx(tmp_path: Path, db: Database, clock: FixedClock) -> JobContext:
    items, qrels = canary_set(np.random.default_rng(5), per_topic=4)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (tmp_path / "c.qrels").write_text("\n".join(qrels) + "\n")
    (tmp_path / "d.toml").write_text(f"""
[database]
url = "{db.url}"
[[models]]
name = "prod"
dimensions = 128
[[models]]
name = "candidate"
dimensions = 128
seed = 99
[[canary_sets]]
name = "core"
path = "c.jsonl"
qrels = "c.qrels"
matryoshka_dims = [32, 64]
[migration]
corpus_documents = 1000000
corpus_mean_tokens = 250
""")
    return JobContext(settings=load_settings(tmp_path / "d.toml"), db=db, clock=clock)


def test_canary_run_stores_retrieval_quality_per_prefix(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    ctx = _ctx(tmp_path, db, clock)
    out = run_job(ctx, "canary", model="prod")
    assert out.status == "ok", out.message
    d = out.details["prod/core"]
    assert d["verdict"] == "unchanged" and d["topk_overlap"] == 1.0
    assert 0.5 < d["retrieval"]["ndcg@10"] <= 1.0, d["retrieval"]
    assert d["identity"] == {"model": "hash-ngram-128"}
    with db.read() as s:
        rows = s.execute(select(RetrievalMetric.metric, RetrievalMetric.dims)).all()
        (run,) = canaries_store.latest_canary_runs(s)
    assert {dims for _, dims in rows} == {32, 64, 128}
    assert run.retrieval["ndcg@10"] == d["retrieval"]["ndcg@10"]
    assert run.retrieval["top10_overlap_stale_index"] == 1.0
    assert "top1_pass@0.5" in run.retrieval


@pytest.mark.parametrize("variant", ["rotated", "other"])
def test_a_changed_model_breaks_a_stale_index(
    tmp_path: Path, db: Database, clock: FixedClock, variant: str
) -> None:
    ctx = _ctx(tmp_path, db, clock)
    run_job(ctx, "canary", model="prod")
    model = ctx.settings.model("prod")
    ctx.providers["prod"] = build_provider(dataclasses.replace(model, variant=variant))
    d = run_job(ctx, "canary", model="prod").details["prod/core"]
    assert d["verdict"] == "changed" and d["topk_overlap"] < 0.5
    # a rotation keeps the model's own retrieval quality: only the stale index suffers
    if variant == "rotated":
        first = run_job(ctx, "canary", model="prod").details["prod/core"]["retrieval"]
        assert first["ndcg@10"] == pytest.approx(d["retrieval"]["ndcg@10"])


def test_rebaseline_records_who_and_why(tmp_path: Path, db: Database, clock: FixedClock) -> None:
    ctx = _ctx(tmp_path, db, clock)
    run_job(ctx, "canary", model="prod")
    model = ctx.settings.model("prod")
    ctx.providers["prod"] = build_provider(dataclasses.replace(model, variant="rotated"))
    assert run_job(ctx, "canary", model="prod").details["prod/core"]["verdict"] == "changed"
    out = rebaseline(ctx, "prod", "core", reason="provider upgraded, index rebuilt", by="jane")
    assert out["noise_floor"] > 0.9999
    assert run_job(ctx, "canary", model="prod").details["prod/core"]["verdict"] == "unchanged"
    with db.read() as s:
        rows = s.scalars(select(CanaryBaseline).order_by(CanaryBaseline.id)).all()
        assert [(b.current, b.created_by) for b in rows] == [(False, "agent"), (True, "jane")]
        assert rows[-1].reason == "provider upgraded, index rebuilt"


def test_migrate_check_between_two_models(tmp_path: Path, db: Database, clock: FixedClock) -> None:
    ctx = _ctx(tmp_path, db, clock)
    same = migrate_check(ctx, "prod", "prod", "core")
    assert same["verdict"] == "ready" and abs(same["cka"] - 1.0) < 1e-9
    other = migrate_check(ctx, "prod", "candidate", "core")
    assert other["cka"] < 0.99 and other["from"]["model"] == "prod"
    assert other["reembed"]["n_documents"] == 1_000_000 and other["reembed"]["hours"] > 0
    with db.read() as s:
        verdicts = s.scalars(select(MigrateCheck.verdict).order_by(MigrateCheck.id)).all()
    assert verdicts == [same["verdict"], other["verdict"]]
