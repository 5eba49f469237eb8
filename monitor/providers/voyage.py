"""Voyage AI ``POST /v1/embeddings`` with ``input_type`` and ``output_dimension``."""

from __future__ import annotations

from typing import Any

import httpx

from monitor.providers._embedder import HTTPEmbedder
from monitor.providers._wire import Parsed
from monitor.providers.base import Kind
from monitor.providers.openai_compat import parse_data_list

__all__ = ["VoyageEmbedder"]


class VoyageEmbedder(HTTPEmbedder):
    """At most 1000 texts per request; ``usage`` carries only ``total_tokens``."""

    provider = "voyage"
    max_items = 1000
    batch_tokens = 120_000  # the lowest per-request token cap Voyage documents

    def url(self) -> str:
        return f"{self.base_url}/embeddings"

    def body(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "input": texts,
            "input_type": kind,
            "truncation": s.truncate == "end",
        }
        if s.request_dimensions:
            body["output_dimension"] = s.dimensions
        if s.encoding_format == "base64":
            body["encoding_format"] = "base64"
        return body

    def parse(self, response: httpx.Response, payload: Any, n: int) -> Parsed:
        rows = parse_data_list(payload, n)
        tokens = (payload.get("usage") or {}).get("total_tokens")
        model = payload.get("model")
        return Parsed(
            rows,
            tokens if type(tokens) is int else None,
            {"model": model} if isinstance(model, str) and model else {},
        )
