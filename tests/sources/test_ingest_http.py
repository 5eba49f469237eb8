"""POST /v1/queries over real loopback HTTP: auth, formats, limits, vectors, one transaction."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from source_helpers import write_settings
from sqlalchemy import func, select

from monitor.clock import FixedClock
from monitor.errors import ProviderError
from monitor.jobs.context import ContextSwitch, JobContext
from monitor.jobs.drift import embed_missing
from monitor.jobs.ingest import ingest_route
from monitor.providers import build_provider
from monitor.providers.base import EmbeddingResult
from monitor.server import HttpServer
from monitor.storage import versions as versions_store
from monitor.storage.engine import Database
from monitor.storage.schema import QueryEmbedding, QuerySample, SampleWindow, SourceCounter

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TS = "2026-03-02T11:30:00Z"


class Counting:
    """A real provider that counts the texts it is asked to embed (or fails on demand)."""

    def __init__(self, inner: Any, fail: bool = False) -> None:
        self.inner, self.fail, self.texts = inner, fail, []  # type: ignore[var-annotated]

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed(self, texts: Sequence[str], kind: str) -> EmbeddingResult:
        if self.fail:
            raise ProviderError("endpoint returned HTTP 503")
        self.texts.extend(texts)
        return self.inner.embed(texts, kind)  # type: ignore[no-any-return]

    def close(self) -> None:
        pass


@dataclass
class Ingest:
    ctx: JobContext
    client: httpx.Client
    db: Database

    def post(
        self,
        body: object = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        data = raw if raw is not None else json.dumps(body).encode()
        return self.client.post(
            "/v1/queries",
            content=data,
            headers={"Content-Type": content_type, **(AUTH if headers is None else headers)},
        )

    def count(self, table: type) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

    def counters(self) -> dict[str, int]:
        with self.db.read() as s:
            return dict(s.execute(select(SourceCounter.counter, SourceCounter.value)).all())


@pytest.fixture
def make_ingest(tmp_path: Path, db: Database, clock: FixedClock) -> Iterator[Callable[..., Ingest]]:
    started: list[tuple[HttpServer, httpx.Client, JobContext]] = []

    def make(sampling: str = "", cap: int = 1000) -> Ingest:
        settings = write_settings(
            tmp_path,
            db.url,
            f"""
            [[models]]
            name = "m"
            dimensions = 16
            [[models]]
            name = "other"
            dimensions = 8
            seed = 3
            [[sources]]
            name = "app"
            kind = "http"
            token_env = "INGEST_TOKEN"
            max_body_bytes = 65536
            max_records_per_request = 50
            metadata_fields = ["tenant"]
            [sampling]
            window = "1h"
            max_per_window = {cap}
            {sampling}
            """,
        )
        ctx = JobContext(settings=settings, db=db, clock=clock, environ={"INGEST_TOKEN": TOKEN})
        for m in settings.models:
            ctx.providers[m.name] = Counting(build_provider(m))  # type: ignore[assignment]
        server = HttpServer("127.0.0.1:0", {"/v1/queries": ingest_route(ContextSwitch(ctx))})
        server.start()
        client = httpx.Client(base_url=server.url, timeout=10)
        started.append((server, client, ctx))
        return Ingest(ctx, client, db)

    yield make
    for server, client, ctx in started:
        client.close()
        server.stop()
        ctx.close()


def test_a_json_array_is_accepted_redacted_and_counted(make_ingest: Callable[..., Ingest]) -> None:
    ing = make_ingest()
    resp = ing.post(
        [
            {"query": "where is my order", "ts": TS, "tenant": "acme"},
            {"query": "mail jane@corp.example", "ts": TS},
            {"query": "where is my order", "ts": TS},
        ]
    )
    assert resp.status_code == 202, resp.text
    assert resp.json() == {
        "source": "app",
        "accepted": 3,
        "rejected": 0,
        "rejected_by_reason": {},
        "sampled": 3,
        "errors": [],
    }
    with ing.db.read() as s:
        rows = s.execute(
            select(QuerySample.text, QuerySample.meta).order_by(QuerySample.slot)
        ).all()
    assert [r[0] for r in rows] == ["where is my order", "mail <email>", "where is my order"]
    assert rows[0][1] == {"tenant": "acme"}
    assert ing.counters() == {"read": 3, "sampled": 3}


def test_ndjson_rejects_bad_records_by_reason_and_index(make_ingest: Callable[..., Ingest]) -> None:
    ing = make_ingest()
    lines = [
        json.dumps({"query": "fine", "ts": TS}).encode(),
        b"not json",
        b"[1, 2]",
        json.dumps({"query": "", "ts": TS}).encode(),
        b'{"query": "\xff"}',
        json.dumps({"query": "from the future", "ts": "2099-01-01T00:00:00Z"}).encode(),
        json.dumps({"query": "no time"}).encode(),
        b"",
    ]
    resp = ing.post(raw=b"\n".join(lines), content_type="application/x-ndjson")
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert (doc["accepted"], doc["rejected"]) == (1, 6)
    assert doc["rejected_by_reason"] == {
        "bad_time": 1,
        "future_time": 1,
        "malformed_json": 1,
        "missing_text": 1,
        "not_an_object": 1,
        "not_utf8": 1,
    }
    assert [e["index"] for e in doc["errors"]] == [1, 2, 3, 4, 5, 6]
    counters = ing.counters()
    assert counters["read"] == 7 and counters["rejected_malformed_json"] == 1
    assert ing.count(QuerySample) == 1


def test_refused_requests_store_nothing(make_ingest: Callable[..., Ingest]) -> None:
    ing = make_ingest()
    ok = [{"query": "q", "ts": TS}]
    cases: list[tuple[str, int, Callable[[], httpx.Response]]] = [
        ("no token", 401, lambda: ing.post(ok, headers={})),
        ("wrong token", 401, lambda: ing.post(ok, headers={"Authorization": "Bearer nope"})),
        ("basic auth", 401, lambda: ing.post(ok, headers={"Authorization": f"Basic {TOKEN}"})),
        ("text/plain", 415, lambda: ing.post(ok, content_type="text/plain")),
        ("latin-1", 415, lambda: ing.post(ok, content_type="application/json; charset=latin-1")),
        ("malformed", 400, lambda: ing.post(raw=b'[{"query": "q"')),
        ("an object", 400, lambda: ing.post({"query": "q", "ts": TS})),
        ("empty", 400, lambda: ing.post(raw=b"")),
        ("not utf-8", 400, lambda: ing.post(raw=b'["\xff"]')),
        ("51 records", 413, lambda: ing.post(ok * 51)),
        (
            "51 ndjson lines",
            413,
            lambda: ing.post(
                raw=b"\n".join([json.dumps(ok[0]).encode()] * 51),
                content_type="application/x-ndjson",
            ),
        ),
        ("over the source's 64 KiB", 413, lambda: ing.post([{"query": "x" * 70_000}])),
        ("over the server's 1 MiB", 413, lambda: ing.post([{"query": "x" * 1_100_000}])),
        ("GET", 405, lambda: ing.client.get("/v1/queries", headers=AUTH)),
    ]
    for name, status, send in cases:
        resp = send()
        assert resp.status_code == status, (name, resp.text)
        if status == 401:
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        if status != 413 or "server" not in name:
            assert "error" in resp.json(), name
    assert ing.count(QuerySample) == 0 and ing.counters() == {}


def test_sent_vectors_are_stored_for_their_model_and_not_embedded_again(
    make_ingest: Callable[..., Ingest],
) -> None:
    ing = make_ingest()
    vec = np.arange(1, 17, dtype=np.float32)
    b64 = base64.b64encode(vec.astype("<f4").tobytes()).decode()
    resp = ing.post(
        [
            {"query": "alpha", "ts": TS, "model": "m", "embedding": vec.tolist()},
            {"query": "beta", "ts": TS, "model": "m", "embedding": b64},
            {"query": "gamma", "ts": TS},
            {"query": "delta", "ts": TS, "model": "nope", "embedding": vec.tolist()},
            {"query": "eps", "ts": TS, "model": "m", "embedding": [1.0, 2.0]},
            {"query": "zeta", "ts": TS, "model": "m", "embedding": "not base64!"},
        ]
    )
    doc = resp.json()
    assert doc["rejected_by_reason"] == {
        "bad_embedding": 1,
        "embedding_dimension": 1,
        "unknown_model": 1,
    }
    assert [e["index"] for e in doc["errors"]] == [3, 4, 5]
    settings = ing.ctx.settings
    with ing.db.transaction() as s:
        versions = {
            m.name: versions_store.ensure_model_version(s, m.name, asdict(m), ing.ctx.clock.now())
            for m in settings.models
        }
    with ing.db.read() as s:
        stored = s.execute(
            select(QuerySample.text, QueryEmbedding.vector)
            .join(QueryEmbedding, QueryEmbedding.sample_id == QuerySample.id)
            .where(QueryEmbedding.model_version_id == versions["m"].id)
        ).all()
    assert sorted(t for t, _ in stored) == ["alpha", "beta"]
    unit = vec / np.linalg.norm(vec)  # normalised like the model's own vectors
    for _, blob in stored:
        np.testing.assert_allclose(np.frombuffer(blob, "<f4"), unit, rtol=1e-6)
    window = [(ing.ctx.clock.now().replace(hour=11), ing.ctx.clock.now())]
    for m in settings.models:
        embed_missing(ing.ctx, m, versions[m.name].id, window)
    assert ing.ctx.providers["m"].texts == ["gamma"]  # type: ignore[attr-defined]
    assert sorted(ing.ctx.providers["other"].texts) == ["alpha", "beta", "gamma"]  # type: ignore[attr-defined]


def test_without_stored_text_each_distinct_text_is_embedded_once_at_ingest(
    make_ingest: Callable[..., Ingest],
) -> None:
    ing = make_ingest("store_text = false")
    body = [{"query": t, "ts": TS} for t in ("a b", "A  B", "c", "a b")]
    assert ing.post(body).status_code == 202
    assert ing.post(body[:1]).status_code == 202  # a later request reuses stored vectors
    with ing.db.read() as s:
        assert s.scalars(select(QuerySample.text)).all() == [None] * 5
    assert ing.count(QueryEmbedding) == 10  # every sample, both models
    for name in ("m", "other"):
        assert sorted(ing.ctx.providers[name].texts) == ["a b", "c"]  # type: ignore[attr-defined]


def test_a_failing_endpoint_answers_503_and_stores_nothing(
    make_ingest: Callable[..., Ingest],
) -> None:
    ing = make_ingest("store_text = false")
    ing.ctx.providers["other"].fail = True  # type: ignore[attr-defined]
    resp = ing.post([{"query": "q", "ts": TS}])
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert "HTTP 503" in resp.json()["error"]
    assert ing.count(QuerySample) == 0 and ing.counters() == {}


def test_concurrent_requests_share_one_reservoir_without_losing_counts(
    make_ingest: Callable[..., Ingest],
) -> None:
    ing = make_ingest(cap=60)
    statuses: list[int] = []

    def client(k: int) -> None:
        with httpx.Client(base_url=str(ing.client.base_url), timeout=30) as c:
            for r in range(5):
                body = [{"query": f"c{k} r{r} q{i}", "ts": TS} for i in range(40)]
                statuses.append(c.post("/v1/queries", json=body, headers=AUTH).status_code)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * 20
    with ing.db.read() as s:
        (window,) = s.scalars(select(SampleWindow)).all()
        assert (window.seen, window.kept) == (800, 60)
    counters = ing.counters()
    assert counters["read"] == 800 == sum(counters[k] for k in ("sampled", "replaced", "dropped"))
    assert counters["sampled"] == 60 and ing.count(QuerySample) == 60


def test_the_agent_mounts_the_handler(tmp_path: Path, db: Database) -> None:
    from monitor.app import Agent

    settings = write_settings(tmp_path, db.url, "")
    agent = Agent(settings)
    try:
        assert "/v1/queries" in agent.routes()
    finally:
        agent.db.dispose()
