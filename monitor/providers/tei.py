"""Hugging Face text-embeddings-inference native ``POST /embed``; identity from ``GET /info``."""

from __future__ import annotations

from typing import Any

import httpx

from monitor.config import ModelSettings
from monitor.providers._embedder import HTTPEmbedder, Runtime
from monitor.providers._wire import BadResponse, Parsed
from monitor.providers.base import Kind

__all__ = ["TEIEmbedder"]

_INFO_KEYS = {"model_id": "model_id", "model_sha": "model_sha", "model_dtype": "model_dtype"}


class TEIEmbedder(HTTPEmbedder):
    """TEI's own route: bare array of vectors, token count in ``x-compute-tokens``.

    Batches are capped by ``max_client_batch_size`` from ``/info`` (32 until known);
    a 413 still splits a batch in two. ``dimensions`` is not sent: use the
    ``openai`` provider on TEI's ``/v1`` route for Matryoshka truncation.
    """

    provider = "tei"
    max_items = 32

    def __init__(self, settings: ModelSettings, runtime: Runtime | None = None) -> None:
        super().__init__(settings, runtime)
        self._server_batch: int | None = None

    def url(self) -> str:
        return f"{self.base_url}/embed"

    def body(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        rule = self.settings.truncate
        body: dict[str, Any] = {
            "inputs": texts,
            "normalize": self.settings.normalize,
            "truncate": rule in ("end", "start"),
        }
        if rule in ("end", "start"):
            body["truncation_direction"] = "right" if rule == "end" else "left"
        return body

    def parse(self, response: httpx.Response, payload: Any, n: int) -> Parsed:
        if not isinstance(payload, list):
            raise BadResponse("expected a JSON array of embeddings")
        raw = response.headers.get("x-compute-tokens", "")
        return Parsed(payload, int(raw) if raw.isdigit() else None)

    def limits(self) -> tuple[int, int]:
        _, tokens = super().limits()
        cap = self._server_batch or self.max_items
        return min(self.settings.batch_size, cap), tokens

    async def probe(self, client: httpx.AsyncClient) -> dict[str, str]:
        response = await client.get(f"{self.base_url}/info", headers=self.headers())
        response.raise_for_status()
        info = response.json()
        size = info.get("max_client_batch_size")
        if type(size) is int and size > 0:
            self._server_batch = size
        return {
            key: str(info[src])
            for key, src in _INFO_KEYS.items()
            if info.get(src) not in (None, "")
        }
