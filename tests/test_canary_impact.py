"""Canary changes in the job: impact grades, dimension changes, reported identity, alerts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.demo_data import canary_set
from monitor.jobs.context import DimensionChanged, JobContext
from monitor.jobs.runner import run_job
from monitor.providers import EmbeddingResult, build_provider
from monitor.status import status_document
from monitor.storage import alerts as alerts_store
from monitor.storage.engine import Database
from monitor.storage.schema import ModelVersion
from monitor.storage.snapshot import load_snapshot


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
[[canary_sets]]
name = "core"
path = "c.jsonl"
qrels = "c.qrels"
""")
    return JobContext(settings=load_settings(tmp_path / "d.toml"), db=db, clock=clock)


class _Wrapped:
    """The hash provider with its vectors rewritten and its identity replaced."""

    def __init__(self, ctx: JobContext, rewrite: Any = None, identity: str = "") -> None:
        self.inner = build_provider(ctx.settings.model("prod"))
        self.rewrite = rewrite
        self.identity = identity
        self.dimension = 128

    def embed(self, texts: list[str], kind: str) -> EmbeddingResult:
        r = self.inner.embed(texts, kind)  # type: ignore[arg-type]
        v = self.rewrite(r.vectors) if self.rewrite else r.vectors
        ident = {"model": self.identity} if self.identity else r.identity
        return dataclasses.replace(r, vectors=v, identity=ident)

    def close(self) -> None:
        self.inner.close()


def _int8(v: np.ndarray) -> np.ndarray:
    scale = np.abs(v).max(axis=1, keepdims=True) / 127.0
    return (np.round(v / scale) * scale).astype(np.float32)


def _firing(db: Database) -> dict[str, str]:
    with db.read() as s:
        return {a.rule: a.severity for a in alerts_store.active_alerts(s) if a.state == "firing"}


def test_int8_output_is_a_benign_change_with_an_info_alert(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    ctx = _ctx(tmp_path, db, clock)
    assert run_job(ctx, "canary").status == "ok"
    ctx.providers["prod"] = _Wrapped(ctx, _int8)
    d = run_job(ctx, "canary").details["prod/core"]
    assert d["verdict"] == "changed" and d["impact"] == "benign", d
    assert _firing(db) == {"EmbeddingBenignModelChange": "info"}
    # a benign change does not suspend drift (the vectors are still comparable)
    drift = run_job(ctx, "drift")
    assert "suspended" not in json.dumps(drift.details)


def test_a_dimension_change_is_a_breaking_verdict_and_stops_drift_storage(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    ctx = _ctx(tmp_path, db, clock)
    run_job(ctx, "canary")
    ctx.providers["prod"] = _Wrapped(ctx, lambda v: v[:, :64] * np.sqrt(2.0))
    out = run_job(ctx, "canary")
    d = out.details["prod/core"]
    assert out.status == "ok" and d["verdict"] == "changed" and d["impact"] == "breaking"
    assert "dimension changed from 128 to 64" in d["reasons"]
    assert _firing(db) == {"EmbeddingSilentModelChange": "critical"}
    with pytest.raises(DimensionChanged, match="dimension 64, configured 128"):
        ctx.embed(ctx.settings.model("prod"), ["a query"], "query")


def test_a_changed_reported_identity_is_an_info_alert_across_restarts(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    ctx = _ctx(tmp_path, db, clock)
    ctx.providers["prod"] = _Wrapped(ctx, identity="model-a")
    run_job(ctx, "canary")
    ctx.close()
    restarted = _ctx(tmp_path, db, clock)  # a new process: nothing in memory
    restarted.providers["prod"] = _Wrapped(restarted, identity="model-b")
    d = run_job(restarted, "canary").details["prod/core"]
    assert d["verdict"] == "unchanged"
    assert d["identity_changed"] == {"model": ["model-a", "model-b"]}
    assert _firing(db) == {"EmbeddingProviderIdentityChanged": "info"}
    with db.read() as s:
        (mv,) = s.scalars(select(ModelVersion)).all()
        assert mv.reported_identity == {"model": "model-b"}
    doc = status_document(load_snapshot(db), clock.now())
    assert doc["model_versions"][0]["reported_identity"] == {"model": "model-b"}
    # the same identity again: the info alert resolves
    run_job(restarted, "canary")
    assert _firing(db) == {}
