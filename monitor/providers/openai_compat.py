"""OpenAI-compatible ``/v1/embeddings`` (OpenAI, vLLM, LiteLLM, LocalAI, TEI, Ollama) and Azure."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from monitor.providers._embedder import HTTPEmbedder
from monitor.providers._wire import BadResponse, Parsed
from monitor.providers.base import Kind

__all__ = ["AzureOpenAIEmbedder", "OpenAIEmbedder", "parse_data_list"]


def parse_data_list(payload: Any, n: int) -> list[Any]:
    """``data[].embedding`` re-ordered by ``data[].index`` (array order if no item has one)."""
    data = payload["data"]
    if not isinstance(data, list):
        raise BadResponse("'data' is not a list")
    if len(data) != n:
        raise BadResponse(f"expected {n} embeddings, got {len(data)}")
    if all(isinstance(item, dict) and "index" not in item for item in data):
        return [item["embedding"] for item in data]
    rows: list[Any] = [None] * n
    for item in data:
        index = item["index"]
        if type(index) is not int or not 0 <= index < n or rows[index] is not None:
            raise BadResponse(f"the 'index' values are not a permutation of 0..{n - 1}")
        rows[index] = item["embedding"]
    return rows


def _model_identity(payload: Any) -> dict[str, str]:
    model = payload.get("model")
    return {"model": model} if isinstance(model, str) and model else {}


class OpenAIEmbedder(HTTPEmbedder):
    """``POST {base_url}/embeddings`` with ``Authorization: Bearer``; base64 by default."""

    provider = "openai"
    max_items = 2048
    batch_tokens = 300_000
    identity_headers: ClassVar[tuple[str, ...]] = ("openai-model", "openai-version")

    def url(self) -> str:
        return f"{self.base_url}/embeddings"

    def body(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "input": texts,
            "encoding_format": s.encoding_format,
        }
        if s.request_dimensions:
            body["dimensions"] = s.dimensions
        return body

    def parse(self, response: httpx.Response, payload: Any, n: int) -> Parsed:
        rows = parse_data_list(payload, n)
        usage = payload.get("usage") or {}
        tokens = usage.get("prompt_tokens", usage.get("total_tokens"))
        return Parsed(rows, tokens if isinstance(tokens, int) else None, _model_identity(payload))


class AzureOpenAIEmbedder(OpenAIEmbedder):
    """Azure OpenAI: ``model`` is the deployment name; ``api-key`` header; ``api-version``.

    ``base_url`` is the resource endpoint (``https://NAME.openai.azure.com``);
    ``api_version = "v1"`` selects the v1 route, which takes the deployment as ``model``.
    """

    provider = "azure"
    batch_tokens = 8192  # Azure documents 8192 tokens per call for some versions
    identity_headers = ()

    def url(self) -> str:
        base = self.base_url if self.base_url.endswith("/openai") else self.base_url + "/openai"
        s = self.settings
        if s.api_version == "v1":
            return f"{base}/v1/embeddings"
        return (
            f"{base}/deployments/{quote(s.model, safe='')}/embeddings"
            f"?api-version={quote(s.api_version, safe='')}"
        )

    def headers(self) -> dict[str, str]:
        return {"api-key": self._key}
