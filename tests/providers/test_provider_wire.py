"""Each wire format against the fake server over real sockets: requests sent, results read."""

from __future__ import annotations

import numpy as np
import pytest
from provider_support import KEY

HTTP_PROVIDERS = ["openai", "azure", "tei", "ollama", "cohere", "voyage"]
TEXTS = [f"query number {i} about drift" for i in range(10)]


def expected(server, texts, *, normalize=True):
    m = np.stack([server.vector(t) for t in texts]).astype(np.float32)
    if normalize:
        m = m / np.linalg.norm(m, axis=1, keepdims=True)
    return m


@pytest.mark.parametrize("provider", [pytest.param(p, id=p) for p in HTTP_PROVIDERS])
def test_every_format_returns_vectors_in_input_order(server, make_provider, provider):
    p = make_provider(provider)
    result = p.embed(TEXTS, "document")
    assert result.vectors.dtype == np.float32
    assert result.vectors.shape == (10, 8)
    np.testing.assert_allclose(result.vectors, expected(server, TEXTS), rtol=1e-6, atol=1e-6)
    assert result.failed == frozenset()
    assert result.usage.requests == 3  # batch_size 4: 4 + 4 + 2
    assert result.usage.input_tokens == sum(len(t.split()) for t in TEXTS)
    assert result.usage.retries == 0
    assert result.identity  # every format reports something about itself


@pytest.mark.parametrize("provider", [pytest.param(p, id=p) for p in HTTP_PROVIDERS])
def test_unnormalized_vectors_are_returned_raw(server, make_provider, provider):
    p = make_provider(provider, normalize=False)
    result = p.embed(TEXTS[:3], "query")
    np.testing.assert_allclose(
        result.vectors, expected(server, TEXTS[:3], normalize=False), rtol=1e-6
    )


def test_empty_input_sends_nothing(server, make_provider):
    result = make_provider("openai").embed([], "query")
    assert result.vectors.shape == (0, 8)
    assert server.embed_requests() == []


def test_openai_request_shape_and_base64_decoding(server, make_provider):
    p = make_provider("openai", price_per_million_tokens=2.0)
    result = p.embed(["a b", "c d e"], "query")
    (req,) = server.embed_requests()
    assert req.path == "/v1/embeddings"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.body == {
        "model": "fake-embed",
        "input": ["a b", "c d e"],
        "encoding_format": "base64",
        "dimensions": 8,
    }
    assert result.identity == {"model": "fake-embed-v1", "openai-model": "fake-embed-v1"}
    assert result.usage.input_tokens == 5
    assert result.usage.cost == pytest.approx(5 * 2.0 / 1e6)


def test_openai_float_encoding_and_no_dimensions(server, make_provider):
    p = make_provider("openai", encoding_format="float", request_dimensions=False)
    result = p.embed(["alpha"], "query")
    (req,) = server.embed_requests()
    assert req.body["encoding_format"] == "float"
    assert "dimensions" not in req.body
    np.testing.assert_allclose(result.vectors, expected(server, ["alpha"]), rtol=1e-6)


def test_prefixes_follow_the_kind(server, make_provider):
    p = make_provider("openai", query_prefix="query: ", document_prefix="passage: ")
    q = p.embed(["x y"], "query")
    d = p.embed(["x y"], "document")
    first, second = server.embed_requests()
    assert first.body["input"] == ["query: x y"]
    assert second.body["input"] == ["passage: x y"]
    np.testing.assert_allclose(q.vectors, expected(server, ["query: x y"]), rtol=1e-6)
    np.testing.assert_allclose(d.vectors, expected(server, ["passage: x y"]), rtol=1e-6)


def test_unknown_kind_is_rejected(make_provider):
    with pytest.raises(ValueError, match="kind"):
        make_provider("openai").embed(["a"], "passage")


def test_azure_classic_route(server, make_provider):
    p = make_provider("azure", model="my-deploy", api_version="2024-10-21")
    p.embed(["hello"], "query")
    (req,) = server.embed_requests()
    assert req.path == "/openai/deployments/my-deploy/embeddings"
    assert req.query == {"api-version": ["2024-10-21"]}
    assert req.headers["api-key"] == KEY
    assert "authorization" not in req.headers


def test_azure_v1_route(server, make_provider):
    p = make_provider("azure", base_url=server.url + "/openai", model="dep", api_version="v1")
    p.embed(["hello"], "query")
    (req,) = server.embed_requests()
    assert req.path == "/openai/v1/embeddings"
    assert req.body["model"] == "dep"


def test_tei_request_identity_and_server_batch_cap(server, make_provider):
    server.max_client_batch_size = 3
    p = make_provider("tei", batch_size=64)
    result = p.embed(TEXTS[:7], "query")
    posts = server.embed_requests()
    assert sorted(len(r.body["inputs"]) for r in posts) == [1, 3, 3]
    first = next(r for r in posts if r.body["inputs"][0] == TEXTS[0])
    assert first.body == {
        "inputs": TEXTS[:3],
        "normalize": True,
        "truncate": True,
        "truncation_direction": "right",
    }
    assert result.identity == {
        "model_id": "fake/fake-embed-v1",
        "model_sha": server.sha,
        "model_dtype": "float32",
    }
    assert result.usage.input_tokens == sum(len(t.split()) for t in TEXTS[:7])


def test_tei_truncation_flags_follow_the_rule(server, make_provider):
    make_provider("tei", truncate="start").embed(["a"], "query")
    make_provider("tei", truncate="none").embed(["a"], "query")
    first, second = server.embed_requests()
    assert first.body["truncation_direction"] == "left"
    assert second.body["truncate"] is False and "truncation_direction" not in second.body


def test_tei_without_info_still_embeds(server, make_provider):
    server.add_fault("status", route="tei-info", times=-1)  # /info is not an embed route
    p = make_provider("tei", base_url=server.url)
    assert p.embed(["a"], "query").failed == frozenset()


def test_ollama_request_and_digest(server, make_provider):
    p = make_provider("ollama")
    result = p.embed(["one", "two"], "query")
    (req,) = server.embed_requests()
    assert req.path == "/api/embed"
    assert req.body == {
        "model": "fake-embed",
        "input": ["one", "two"],
        "truncate": True,
        "dimensions": 8,
    }
    assert result.identity["digest"] == "sha256:" + server.sha
    assert result.identity["model"] == "fake-embed-v1"


@pytest.mark.parametrize(
    ("kind", "input_type"),
    [
        pytest.param("query", "search_query", id="q"),
        pytest.param("document", "search_document", id="d"),
    ],
)
def test_cohere_input_type_and_embedding_types(server, make_provider, kind, input_type):
    p = make_provider("cohere")
    result = p.embed(["some text here"], kind)
    (req,) = server.embed_requests()
    assert req.path == "/v2/embed"
    assert req.body["input_type"] == input_type
    assert req.body["embedding_types"] == ["base64"]
    assert req.body["truncate"] == "END"
    assert req.body["output_dimension"] == 8
    assert result.usage.input_tokens == 3
    assert result.identity == {"api_version": "2"}


def test_cohere_float_type(server, make_provider):
    p = make_provider("cohere", encoding_format="float", truncate="skip")
    result = p.embed(["x"], "query")
    (req,) = server.embed_requests()
    assert req.body["embedding_types"] == ["float"]
    assert req.body["truncate"] == "NONE"
    np.testing.assert_allclose(result.vectors, expected(server, ["x"]), rtol=1e-6)


def test_cohere_batches_at_most_96(server, make_provider):
    p = make_provider("cohere", batch_size=500, max_concurrency=4)
    p.embed([f"t{i}" for i in range(200)], "query")
    assert sorted(len(r.body["texts"]) for r in server.embed_requests()) == [8, 96, 96]


def test_voyage_request_and_total_tokens(server, make_provider):
    p = make_provider("voyage")
    result = p.embed(["a b c"], "query")
    (req,) = server.embed_requests()
    assert req.path == "/voyage/v1/embeddings"
    assert req.body == {
        "model": "fake-embed",
        "input": ["a b c"],
        "input_type": "query",
        "truncation": True,
        "output_dimension": 8,
        "encoding_format": "base64",
    }
    assert result.usage.input_tokens == 3


def test_shuffled_index_is_reordered(server, make_provider):
    server.add_fault("shuffle", times=-1)
    p = make_provider("openai", batch_size=10)
    result = p.embed(TEXTS, "query")
    np.testing.assert_allclose(result.vectors, expected(server, TEXTS), rtol=1e-6)


def test_sync_embed_from_many_threads(server, make_provider):
    from concurrent.futures import ThreadPoolExecutor

    p = make_provider("openai", batch_size=2, max_concurrency=3)
    batches = [[f"thread {i} text {j}" for j in range(5)] for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda b: p.embed(b, "query"), batches))
    for batch, result in zip(batches, results, strict=True):
        np.testing.assert_allclose(result.vectors, expected(server, batch), rtol=1e-6)
    assert server.max_active <= 3


def test_concurrency_is_bounded_and_used(server, make_provider):
    server.latency = 0.05
    p = make_provider("openai", batch_size=1, max_concurrency=3)
    p.embed([f"t{i}" for i in range(9)], "query")
    assert server.max_active == 3


def test_async_interface_on_callers_loop(server, make_provider):
    import asyncio

    p = make_provider("openai")

    async def main():
        try:
            return await p.aembed(["a", "b"], "query")
        finally:
            await p.aclose()

    assert asyncio.run(main()).vectors.shape == (2, 8)


def test_one_provider_serves_one_event_loop(server, make_provider):
    import asyncio

    p = make_provider("openai")
    p.embed(["a"], "query")  # the client now lives on the provider's own loop

    async def elsewhere():
        return await p.aembed(["b"], "query")

    with pytest.raises(RuntimeError, match="one event loop"):
        asyncio.run(elsewhere())
