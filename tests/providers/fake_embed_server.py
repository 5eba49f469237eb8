"""An in-process embedding server on 127.0.0.1 for every wire format, with injectable faults."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

__all__ = ["Fault", "FakeEmbeddingServer", "Recorded"]


@dataclass
class Fault:
    """One injected misbehaviour; applies to ``times`` matching requests (-1: forever).

    kinds: status, slow, truncate, count, dim, nan, zero, shuffle, bad_index, drop, and
    switch (a silent model change to the model named in ``body`` from this request on).
    """

    kind: str
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay: float = 0.0
    match: str | None = None
    route: str | None = None
    hits: int = 0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


_GET = ("tei-info", "ollama-tags")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    fake: FakeEmbeddingServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else header and body writes meet delayed ACKs (40 ms)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake.handle(self, "POST")


class FakeEmbeddingServer:
    """Serves OpenAI, Azure, TEI, Ollama, Cohere and Voyage routes from one port."""

    def __init__(
        self,
        dim: int = 8,
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        model: str = "fake-embed-v1",
        record: bool = True,
        cache_responses: bool = False,
    ) -> None:
        self.dim = dim
        self.api_key = api_key
        self.latency = latency
        self.model = model
        self.tag = "fake-embed"  # the name clients ask for; ``model`` is what it resolves to
        self.record = record
        self.cache_responses = cache_responses  # benchmarks: replay answers to repeated bodies
        self._responses: dict[tuple[str, bytes], tuple[str, dict[str, str]]] = {}
        self.max_client_batch_size = 32
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cache: dict[tuple[str, str, int], np.ndarray] = {}
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def add_fault(self, kind: str, **kw: Any) -> Fault:
        fault = Fault(kind, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def switch_model(self, model: str) -> None:
        """A silent model change: same name in the config, new vectors and identity."""
        self.model = model

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.model.encode()).hexdigest()

    def embed_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def vector(self, text: str, dim: int | None = None) -> np.ndarray:
        """The raw (unnormalised) vector this server returns for ``text``."""
        key = (self.model, text, dim or self.dim)
        hit = self._cache.get(key)
        if hit is None:
            seed = int.from_bytes(
                hashlib.blake2b(f"{self.model}\0{text}".encode(), digest_size=8).digest(), "little"
            )
            hit = np.random.default_rng(seed).standard_normal(key[2]).astype("<f4")
            self._cache[key] = hit
        return hit

    # ------------------------------------------------------------------ request handling

    def _fault_for(self, route: str, texts: list[str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times == 0 or (fault.route or route in _GET) and fault.route != route:
                    continue  # GET routes only see faults aimed at them
                if fault.match is not None and fault.match not in texts:
                    continue
                if fault.times > 0:
                    fault.times -= 1
                fault.hits += 1
                return fault
        return None

    def handle(self, h: _Handler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        answer = self.respond(method, h.path, headers, raw)
        if answer is None:  # a dropped connection
            h.close_connection = True
            return
        self._send(h, *answer)

    def respond(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[Any, ...] | None:
        """(status, payload[, headers]) for one request; None drops the connection."""
        parts = urlsplit(target)
        hit = self._responses.get((parts.path, raw)) if self.cache_responses else None
        if hit is not None:
            if self.latency:
                self._stop.wait(self.latency)
            return (200, *hit)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {"error": "bad json"}, {}
        if self.record:
            with self._lock:
                self.requests.append(
                    Recorded(method, parts.path, parse_qs(parts.query), headers, body)
                )
        route = self._route(method, parts.path)
        if route is None:
            return (404, {"error": f"no route {method} {parts.path}"})
        denied = self._auth(route, headers)
        if denied is not None:
            return (
                401,
                {"error": {"message": f"Incorrect API key provided: {denied}", "type": "auth"}},
            )
        if route in ("tei-info", "ollama-tags"):
            fault = self._fault_for(route, [])
            if fault and fault.kind == "status":
                return (fault.status, {"error": "injected"})
        if route == "tei-info":
            return (
                200,
                {
                    "model_id": "fake/" + self.model,
                    "model_sha": self.sha,
                    "model_dtype": "float32",
                    "max_client_batch_size": self.max_client_batch_size,
                },
            )
        if route == "ollama-tags":
            return (
                200,
                {
                    "models": [
                        {"name": "other:latest", "digest": "sha256:0"},
                        {"name": self.tag + ":latest", "digest": "sha256:" + self.sha},
                    ]
                },
            )
        if route == "azure" and not parse_qs(parts.query).get("api-version"):
            return (400, {"error": {"message": "api-version is required"}})
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            return self._embed(route, body or {}, (parts.path, raw))
        finally:
            with self._lock:
                self.active -= 1

    @staticmethod
    def _route(method: str, path: str) -> str | None:
        if method == "GET":
            return {"/info": "tei-info", "/api/tags": "ollama-tags"}.get(path)
        if path.startswith("/openai/deployments/") and path.endswith("/embeddings"):
            return "azure"
        return {
            "/v1/embeddings": "openai",
            "/openai/v1/embeddings": "azure-v1",
            "/embed": "tei",
            "/api/embed": "ollama",
            "/v2/embed": "cohere",
            "/voyage/v1/embeddings": "voyage",
        }.get(path)

    def _auth(self, route: str, headers: dict[str, str]) -> str | None:
        """None if allowed, else the credential presented (echoed, as some APIs do)."""
        if self.api_key is None:
            return None
        if route.startswith("azure"):
            given = headers.get("api-key", "")
        else:
            given = headers.get("authorization", "").removeprefix("Bearer ")
        return None if given == self.api_key else given

    def _embed(
        self, route: str, body: dict[str, Any], key: tuple[str, bytes]
    ) -> tuple[Any, ...] | None:
        texts = body.get("input") or body.get("inputs") or body.get("texts") or []
        if isinstance(texts, str):
            texts = [texts]
        fault = self._fault_for(route, texts)
        delay = self.latency + (fault.delay if fault and fault.kind == "slow" else 0.0)
        if delay:
            self._stop.wait(delay)
        if fault and fault.kind == "switch" and fault.body:
            self.switch_model(fault.body)
        if fault and fault.kind == "drop":
            return None
        if fault and fault.kind == "status":
            payload = (
                fault.body
                if fault.body is not None
                else json.dumps(
                    {"error": {"message": f"injected {fault.status}", "type": "server_error"}}
                )
            )
            return (fault.status, payload, fault.headers)
        if not texts:
            return (400, {"error": "empty batch"})
        dim = body.get("dimensions") or body.get("output_dimension") or self.dim
        if fault and fault.kind == "dim":
            dim += 1
        vectors = [self.vector(t, dim) for t in texts]
        if fault and fault.kind == "count":
            vectors = vectors[:-1]
        if fault and fault.kind == "zero":
            vectors[0] = np.zeros_like(vectors[0])
        if fault and fault.kind == "nan":
            vectors[0] = vectors[0].copy()
            vectors[0][0] = np.nan
        tokens = sum(len(t.split()) for t in texts)
        payload, extra = self._payload(route, body, vectors, tokens, fault)
        text = json.dumps(payload)
        if fault and fault.kind == "truncate":
            text = text[: len(text) // 2]
        if self.cache_responses and fault is None:
            self._responses[key] = (text, extra)
        return (200, text, extra)

    def _payload(
        self,
        route: str,
        body: dict[str, Any],
        vectors: list[np.ndarray],
        tokens: int,
        fault: Fault | None,
    ) -> tuple[Any, dict[str, str]]:
        b64 = body.get("encoding_format") == "base64"

        def enc(v: np.ndarray, as_b64: bool) -> Any:
            return base64.b64encode(v.astype("<f4").tobytes()).decode() if as_b64 else v.tolist()

        if route in ("openai", "azure", "azure-v1", "voyage"):
            data = [
                {"object": "embedding", "index": i, "embedding": enc(v, b64)}
                for i, v in enumerate(vectors)
            ]
            if fault and fault.kind == "shuffle":
                random.Random(len(data)).shuffle(data)
                if len(data) > 1 and data[0]["index"] == 0:
                    data.reverse()
            if fault and fault.kind == "bad_index" and len(data) > 1:
                data[1]["index"] = data[0]["index"]
            usage = (
                {"total_tokens": tokens}
                if route == "voyage"
                else {"prompt_tokens": tokens, "total_tokens": tokens}
            )
            return (
                {"object": "list", "model": self.model, "data": data, "usage": usage},
                {"openai-model": self.model} if route == "openai" else {},
            )
        if route == "tei":
            return [v.tolist() for v in vectors], {"x-compute-tokens": str(tokens)}
        if route == "ollama":
            return (
                {
                    "model": self.model,
                    "embeddings": [v.tolist() for v in vectors],
                    "prompt_eval_count": tokens,
                    "total_duration": 1000,
                },
                {},
            )
        types = body.get("embedding_types") or ["float"]
        embeddings = {t: [enc(v, t == "base64") for v in vectors] for t in types}
        return (
            {
                "id": "x",
                "response_type": "embeddings_by_type",
                "embeddings": embeddings,
                "texts": body.get("texts"),
                "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            },
            {},
        )

    def _send(
        self, h: _Handler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
