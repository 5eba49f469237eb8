"""Ollama native ``POST /api/embed``; the model digest from ``GET /api/tags``."""

from __future__ import annotations

from typing import Any

import httpx

from monitor.providers._embedder import HTTPEmbedder
from monitor.providers._wire import Parsed
from monitor.providers.base import Kind

__all__ = ["OllamaEmbedder"]


class OllamaEmbedder(HTTPEmbedder):
    """Ollama cuts over-long inputs silently by default; here only when ``truncate="end"``."""

    provider = "ollama"
    max_items = 2048

    def url(self) -> str:
        return f"{self.base_url}/api/embed"

    def body(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {"model": s.model, "input": texts, "truncate": s.truncate == "end"}
        if s.request_dimensions:
            body["dimensions"] = s.dimensions
        return body

    def parse(self, response: httpx.Response, payload: Any, n: int) -> Parsed:
        tokens = payload.get("prompt_eval_count")
        model = payload.get("model")
        return Parsed(
            payload["embeddings"],
            tokens if type(tokens) is int else None,
            {"model": model} if isinstance(model, str) and model else {},
        )

    async def probe(self, client: httpx.AsyncClient) -> dict[str, str]:
        response = await client.get(f"{self.base_url}/api/tags", headers=self.headers())
        response.raise_for_status()
        wanted = self.settings.model
        names = {wanted, wanted + ":latest"} if ":" not in wanted else {wanted}
        for entry in response.json().get("models") or []:
            if entry.get("name") in names or entry.get("model") in names:
                digest = entry.get("digest")
                return {"digest": str(digest)} if digest else {}
        return {}
