"""Canary sets at the edges: ``ks = [1]``, or one document, still store a baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.clock import FixedClock
from monitor.config import load_settings
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.storage import canaries as repo
from monitor.storage.engine import Database


@pytest.mark.parametrize(
    ("documents", "ks"), [pytest.param(3, "[1]", id="ks=1"), pytest.param(1, "[10]", id="one doc")]
)
def test_a_top1_only_canary_run_succeeds(
    tmp_path: Path, db: Database, clock: FixedClock, documents: int, ks: str
) -> None:
    items = [{"id": "q1", "kind": "query", "text": "reset my password"}]
    items += [{"id": f"d{i}", "kind": "document", "text": f"doc {i}"} for i in range(documents)]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (tmp_path / "c.qrels").write_text("q1 0 d0 1\n")
    (tmp_path / "d.toml").write_text(f"""
[database]
url = "{db.url}"
[[models]]
name = "prod"
dimensions = 32
[[canary_sets]]
name = "core"
path = "c.jsonl"
qrels = "c.qrels"
ks = {ks}
""")
    ctx = JobContext(settings=load_settings(tmp_path / "d.toml"), db=db, clock=clock)
    for _ in range(2):
        out = run_job(ctx, "canary", model="prod")
        assert out.status == "ok", out.message
    with db.read() as s:
        (run,) = repo.latest_canary_runs(s)
    assert "top1_median" in run.retrieval
