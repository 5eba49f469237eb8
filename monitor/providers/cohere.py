"""Cohere v2 ``POST /v2/embed`` with ``input_type`` search_query / search_document."""

from __future__ import annotations

from typing import Any

import httpx

from monitor.providers._embedder import HTTPEmbedder
from monitor.providers._wire import BadResponse, Parsed
from monitor.providers.base import Kind

__all__ = ["CohereEmbedder"]

_INPUT_TYPE = {"query": "search_query", "document": "search_document"}
_TRUNCATE = {"end": "END", "start": "START", "skip": "NONE", "none": "NONE"}


class CohereEmbedder(HTTPEmbedder):
    """At most 96 texts per request; ``output_dimension`` only on embed-v4 and later."""

    provider = "cohere"
    max_items = 96

    def url(self) -> str:
        base = self.base_url
        return f"{base}/embed" if base.endswith("/v2") else f"{base}/v2/embed"

    @property
    def _type(self) -> str:
        return "base64" if self.settings.encoding_format == "base64" else "float"

    def body(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "texts": texts,
            "input_type": _INPUT_TYPE[kind],
            "embedding_types": [self._type],
            "truncate": _TRUNCATE[s.truncate],
        }
        if s.request_dimensions:
            body["output_dimension"] = s.dimensions
        return body

    def parse(self, response: httpx.Response, payload: Any, n: int) -> Parsed:
        embeddings = payload["embeddings"]
        if not isinstance(embeddings, dict) or self._type not in embeddings:
            raise BadResponse(f"no {self._type!r} embeddings in the response")
        meta = payload.get("meta") or {}
        tokens = (meta.get("billed_units") or {}).get("input_tokens")
        version = (meta.get("api_version") or {}).get("version")
        identity = {"api_version": str(version)} if version else {}
        return Parsed(
            embeddings[self._type],
            int(tokens) if isinstance(tokens, int | float) else None,
            identity,
        )
