"""Reload without races: a run keeps its settings snapshot; providers close after their runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from monitor.app import Agent
from monitor.config import ModelSettings, load_settings
from monitor.demo_data import canary_set
from monitor.jobs.context import JobContext
from monitor.providers import EmbeddingProvider, EmbeddingResult, Kind, build_provider
from monitor.storage.migrate import upgrade

CONFIG = """
[database]
url = "sqlite:///{db}"
[server]
enabled = false
[[models]]
name = "m"
dimensions = 64
[[canary_sets]]
name = "core"
path = "c.jsonl"
min_cosine = {min_cosine}
"""


class Blocking:
    """A provider whose embed() waits for the test; it records a close under a running embed."""

    def __init__(self, inner: EmbeddingProvider) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.go = threading.Event()
        self.running = 0
        self.closed = False
        self.closed_while_running = False

    def embed(self, texts: list[str], kind: Kind) -> EmbeddingResult:
        self.running += 1
        try:
            self.entered.set()
            assert self.go.wait(60), "the test never released embed()"
            return self.inner.embed(texts, kind)
        finally:
            self.running -= 1

    def close(self) -> None:
        self.closed_while_running |= self.running > 0
        self.closed = True
        self.inner.close()


def _write(tmp_path: Path, min_cosine: float) -> Path:
    cfg = tmp_path / "d.toml"
    cfg.write_text(CONFIG.format(db=tmp_path / "d.db", min_cosine=min_cosine))
    return cfg


def test_reload_during_a_run_swaps_settings_and_closes_providers_only_after_it(
    tmp_path: Path,
) -> None:
    items, _ = canary_set(np.random.default_rng(1), per_topic=2)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    cfg = _write(tmp_path, 0.5)
    agent = Agent(load_settings(cfg), config_path=str(cfg))
    upgrade(agent.db)
    model: ModelSettings = agent.settings.model("m")
    blocking = Blocking(build_provider(model))
    agent.ctx.providers["m"] = blocking  # type: ignore[assignment]
    before: JobContext = agent.ctx
    outcomes = []
    run = threading.Thread(target=lambda: outcomes.append(agent.run_scheduled("canary")))
    run.start()
    try:
        assert blocking.entered.wait(60), "the canary run never reached embed()"
        _write(tmp_path, 0.25)
        assert agent.reload()
        # the new generation is current; the running job still holds the old one, open
        assert agent.ctx is not before
        assert agent.settings.canary_sets[0].min_cosine == 0.25
        assert before.settings.canary_sets[0].min_cosine == 0.5
        assert not blocking.closed
        assert before.resources.users == 1
        assert not before.resources.closed
        assert "m" not in agent.ctx.providers  # built afresh, from the new settings
    finally:
        blocking.go.set()
        run.join(60)
    assert not run.is_alive()
    assert [o.status for o in outcomes] == ["ok"]
    assert blocking.closed and not blocking.closed_while_running
    assert before.resources.closed and before.resources.users == 0
    # the next run uses the new generation and its own provider
    assert agent.run_scheduled("alerts").status == "ok"
    assert not agent.ctx.resources.closed
    agent.stop()
    assert agent.ctx.resources.closed


def test_concurrent_runs_and_reloads_never_close_a_provider_in_use(tmp_path: Path) -> None:
    """Many threads take contexts while another reloads over and over."""
    items, _ = canary_set(np.random.default_rng(2), per_topic=1)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    cfg = _write(tmp_path, 0.5)
    agent = Agent(load_settings(cfg), config_path=str(cfg))
    seen: dict[int, JobContext] = {}
    problems: list[str] = []
    stop = threading.Event()

    def user() -> None:
        while not stop.is_set():
            with agent.live.use() as ctx:
                seen[id(ctx.resources)] = ctx
                if ctx.resources.closed:
                    problems.append("a run got a closed context")
                provider = ctx.provider(ctx.settings.model("m"))
                provider.embed(["a query"], "query")
                if ctx.resources.closed:
                    problems.append("closed under a run")

    threads = [threading.Thread(target=user) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(20):
            _write(tmp_path, 0.5 if i % 2 else 0.4)
            assert agent.reload()
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert problems == []
    generations = seen
    assert len(generations) > 1  # the runs really did straddle reloads
    current = agent.ctx.resources
    assert all(c.resources.closed for c in generations.values() if c.resources is not current)
    agent.stop()
