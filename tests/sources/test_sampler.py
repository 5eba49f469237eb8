"""The sampler: uniform draws, strata, the bot guard, redaction, store_text = false, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats as sps
from source_helpers import write_settings
from sqlalchemy import func, select

from monitor.clock import FixedClock
from monitor.errors import ConfigError, ProviderError
from monitor.jobs.context import JobContext
from monitor.jobs.runner import run_job
from monitor.providers import build_provider
from monitor.sources import capped_reservoir_slots, redact, reservoir_slots, text_hash
from monitor.storage.engine import Database
from monitor.storage.schema import (
    QueryEmbedding,
    QuerySample,
    SampleWindow,
    SourceCounter,
    SourcePosition,
)

TS = "2026-03-02T11:00:00Z"


def _offer(cap: int, n: int, batches: list[int], seed: int) -> list[int]:
    """Positions (0-based) kept after offering n records in batches of the given sizes."""
    rng = np.random.default_rng(seed)
    held: dict[int, int] = {}
    seen = kept = 0
    pos = 0
    for size in batches:
        size = min(size, n - pos)
        slots = reservoir_slots(seen, kept, cap, size, rng)
        for i, slot in enumerate(slots):
            if slot >= 0:
                held[int(slot)] = pos + i
        fill = max(0, min(cap - kept, size))
        seen, kept, pos = seen + size, kept + fill, pos + size
    assert len(held) == min(cap, n)
    return list(held.values())


def test_batched_draws_keep_every_position_equally_likely() -> None:
    rng = np.random.default_rng(0)
    kept: list[int] = []
    for trial in range(400):
        sizes = list(rng.integers(1, 60, size=40))  # batch boundaries must not matter
        kept += _offer(cap=20, n=200, batches=sizes, seed=trial)
    counts = np.bincount(np.array(kept) // 20, minlength=10)
    assert sps.chisquare(counts).pvalue > 0.001, counts


def test_the_bot_guard_caps_copies_and_keeps_the_rest_uniform() -> None:
    rng = np.random.default_rng(1)
    hashes = ["bot" if i % 2 else f"u{i}" for i in range(4000)]
    held: dict[int, str] = {}
    slots, filled, seen, kept = capped_reservoir_slots(0, 0, 100, hashes, held, 3, rng)
    assert list(held.values()).count("bot") <= 3 and kept == 100
    assert seen == int(np.count_nonzero(slots != -2)) and filled.sum() == 100
    users = [int(h[1:]) for h in held.values() if h != "bot"]
    assert sps.ks_1samp(np.array(users) / 4000, sps.uniform.cdf).pvalue > 0.001


def test_redaction_masks_configured_patterns_first() -> None:
    import re

    extra = (re.compile(r"ORD-\d+"),)
    assert redact("order ORD-12345678 for bob@x.org", extra) == "order <redacted> for <email>"
    assert text_hash("Order  ORD-1") == text_hash("order ord-1")


# --------------------------------------------------------------------------- the job


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("a") as fh:
        for row in rows:
            fh.write(json.dumps({"ts": TS, **row}) + "\n")


def _ctx(
    tmp_path: Path, db: Database, clock: FixedClock, source: str = "", sampling: str = ""
) -> JobContext:
    settings = write_settings(
        tmp_path,
        db.url,
        f"""
        [[models]]
        name = "m"
        dimensions = 16
        [[sources]]
        name = "log"
        path = "{tmp_path / "q.jsonl"}"
        {source}
        [sampling]
        window = "1h"
        max_per_window = 50
        {sampling}
        """,
    )
    return JobContext(settings=settings, db=db, clock=clock)


def test_strata_get_their_own_caps_and_overflow_shares_one(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    rows = (
        [{"query": f"big {i}", "tenant": "big"} for i in range(300)]
        + [{"query": f"small {i}", "tenant": "small"} for i in range(7)]
        + [{"query": f"t{k}", "tenant": f"t{k}"} for k in range(5)]
        + [{"query": "no tenant"}]
    )
    _write(tmp_path / "q.jsonl", rows)
    ctx = _ctx(tmp_path, db, clock, 'stratify_by = "tenant"\nmax_per_stratum = 20\nmax_strata = 4')
    assert run_job(ctx, "sample").status == "ok"
    with db.read() as s:
        got = dict(s.execute(select(SampleWindow.stratum, SampleWindow.kept)).all())
        metas = s.scalars(
            select(QuerySample.meta)
            .join(SampleWindow, SampleWindow.id == QuerySample.window_id)
            .where(SampleWindow.stratum == "small")
        ).all()
    assert got == {"big": 20, "small": 7, "t0": 1, "t1": 1, "~other": 4}
    assert metas == [{"tenant": "small"}] * 7


def test_the_bot_guard_in_the_job_is_off_by_default(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    _write(
        tmp_path / "q.jsonl", [{"query": "BUY NOW"}] * 200 + [{"query": f"q{i}"} for i in range(20)]
    )
    run_job(_ctx(tmp_path, db, clock), "sample")
    with db.read() as s:
        bots = s.scalar(select(func.count()).where(QuerySample.text == "BUY NOW"))
    assert bots > 30  # uniform: the bot's share of traffic


def test_the_bot_guard_caps_identical_texts_per_window(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    _write(
        tmp_path / "q.jsonl",
        [{"query": "buy  NOW"}] * 200 + [{"query": f"q{i}"} for i in range(20)],
    )
    ctx = _ctx(tmp_path, db, clock, "max_identical = 2")
    out = run_job(ctx, "sample")
    with db.read() as s:
        texts = s.scalars(select(QuerySample.text)).all()
    assert len([t for t in texts if t == "buy  NOW"]) == 2 and len(texts) == 22
    assert out.details["log"]["rejected_identical_cap"] == 198


def test_extra_patterns_are_masked_before_storing_and_hashing(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    _write(tmp_path / "q.jsonl", [{"query": "refund ORD-77 to jane@x.org"}])
    ctx = _ctx(tmp_path, db, clock, sampling='redact_patterns = ["ORD-[0-9]+"]')
    run_job(ctx, "sample")
    with db.read() as s:
        text, digest = s.execute(select(QuerySample.text, QuerySample.text_hash)).one()
    assert text == "refund <redacted> to <email>" and digest == text_hash(text)


def test_future_records_are_rejected(tmp_path: Path, db: Database, clock: FixedClock) -> None:
    _write(tmp_path / "q.jsonl", [{"query": "a"}, {"query": "b", "ts": "2026-03-02T12:10:00Z"}])
    out = run_job(_ctx(tmp_path, db, clock), "sample")
    assert out.details["log"] == {"read": 2, "sampled": 1, "rejected_future_time": 1}


class _Flaky:
    def __init__(self, inner: Any) -> None:
        self.inner, self.broken, self.calls = inner, True, 0

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed(self, texts: Any, kind: str) -> Any:
        self.calls += 1
        if self.broken:
            raise ProviderError("endpoint timed out")
        return self.inner.embed(texts, kind)

    def close(self) -> None:
        pass


def test_without_text_the_job_embeds_at_once_and_retries_a_failed_chunk(
    tmp_path: Path, db: Database, clock: FixedClock
) -> None:
    _write(tmp_path / "q.jsonl", [{"query": f"q{i % 7}"} for i in range(30)])
    ctx = _ctx(tmp_path, db, clock, sampling="store_text = false")
    flaky = _Flaky(build_provider(ctx.settings.models[0]))
    ctx.providers["m"] = flaky  # type: ignore[assignment]
    failed = run_job(ctx, "sample")
    assert failed.status == "failed" and "timed out" in failed.message
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SourcePosition)) == 0
        assert s.scalar(select(func.count()).select_from(SourceCounter)) == 0
    flaky.broken = False
    assert run_job(ctx, "sample").status == "ok"
    with db.read() as s:
        assert s.scalars(select(QuerySample.text)).all() == [None] * 30
        assert s.scalar(select(func.count()).select_from(QueryEmbedding)) == 30
    calls = flaky.calls
    assert run_job(ctx, "drift").status == "ok"
    assert flaky.calls == calls  # every sample already has its vector


@pytest.mark.parametrize(
    "source,message",
    [
        pytest.param(
            'kind = "sql"\nurl = "sqlite://"\nquery = "SELECT 1"',
            "sources[0].query: must use the bound parameter :watermark",
            id="no-watermark",
        ),
        pytest.param(
            'kind = "sql"\nquery = "SELECT :watermark, :limit"',
            "sources[0].url: set exactly one of url and url_env",
            id="no-url",
        ),
        pytest.param(
            'kind = "sql"\nurl = "sqlite://"\nquery = "x > :watermark LIMIT :limit"\n'
            'watermark_kind = "timestamp"\nwatermark_start = "yesterday"',
            "sources[0].watermark_start: expected an ISO 8601 time",
            id="bad-start",
        ),
        pytest.param(
            'kind = "http"', "sources[0].token_env: required for kind 'http'", id="http-token"
        ),
        pytest.param(
            'kind = "http"\ntoken_env = "T"\nmax_body_bytes = 2000000',
            "sources[0].max_body_bytes: expected 1 to 1048576",
            id="http-body",
        ),
        pytest.param(
            'path = "q.jsonl"\nquery = "SELECT 1"',
            "sources[0].query: only used by kind 'sql'",
            id="foreign-key",
        ),
        pytest.param(
            'path = "q.jsonl"\nmax_identical = -1', "sources[0].max_identical", id="identical"
        ),
    ],
)
def test_source_settings_are_checked_at_start(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        write_settings(tmp_path, "sqlite://", f'[[sources]]\nname = "s"\n{source}\n')
    assert str(err.value).startswith(message), str(err.value)


def test_sampling_settings_are_checked_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sampling.redact_patterns\[0\]: not a regular"):
        write_settings(tmp_path, "sqlite://", '[sampling]\nredact_patterns = ["("]\n')
    with pytest.raises(ConfigError, match="matches the empty string"):
        write_settings(tmp_path, "sqlite://", '[sampling]\nredact_patterns = ["x*"]\n')
    with pytest.raises(ConfigError, match="sampling.chunk_size"):
        write_settings(tmp_path, "sqlite://", "[sampling]\nchunk_size = 0\n")
    two = (
        '[[sources]]\nname = "a"\nkind = "http"\ntoken_env = "T"\n'
        '[[sources]]\nname = "b"\nkind = "http"\ntoken_env = "T"\n'
    )
    with pytest.raises(ConfigError, match="the token names the source"):
        write_settings(tmp_path, "sqlite://", two)
