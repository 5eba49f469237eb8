"""Embedding providers, chosen by the ``provider`` name in a model's settings."""

from __future__ import annotations

from collections.abc import Callable

from monitor.config import ModelSettings
from monitor.errors import ConfigError
from monitor.providers._embedder import HTTPEmbedder, Runtime
from monitor.providers.base import EmbeddingProvider, EmbeddingResult, Kind, Usage
from monitor.providers.cohere import CohereEmbedder
from monitor.providers.hashing import HashEmbedder
from monitor.providers.local import LocalEmbedder
from monitor.providers.ollama import OllamaEmbedder
from monitor.providers.openai_compat import AzureOpenAIEmbedder, OpenAIEmbedder
from monitor.providers.tei import TEIEmbedder
from monitor.providers.voyage import VoyageEmbedder

__all__ = [
    "PROVIDERS",
    "AzureOpenAIEmbedder",
    "CohereEmbedder",
    "EmbeddingProvider",
    "EmbeddingResult",
    "HTTPEmbedder",
    "HashEmbedder",
    "Kind",
    "LocalEmbedder",
    "OllamaEmbedder",
    "OpenAIEmbedder",
    "Runtime",
    "TEIEmbedder",
    "Usage",
    "VoyageEmbedder",
    "build_provider",
]

#: provider name in the config -> HTTP wire format
PROVIDERS: dict[str, type[HTTPEmbedder]] = {
    "openai": OpenAIEmbedder,
    "azure": AzureOpenAIEmbedder,
    "tei": TEIEmbedder,
    "ollama": OllamaEmbedder,
    "cohere": CohereEmbedder,
    "voyage": VoyageEmbedder,
}


def build_provider(
    settings: ModelSettings,
    runtime: Runtime | None = None,
    *,
    local_loader: Callable[..., object] | None = None,
) -> EmbeddingProvider:
    """The provider for one ``[[models]]`` entry.

    ``runtime`` replaces the side effects of HTTP providers (transport, sleep, clock,
    environment) in tests; ``local_loader`` replaces sentence-transformers loading.
    """
    if settings.provider == "hash":
        return HashEmbedder(
            settings.dimensions,
            seed=settings.seed,
            variant=settings.variant,
            normalize=settings.normalize,
            query_prefix=settings.query_prefix,
            document_prefix=settings.document_prefix,
        )
    if settings.provider == "local":
        return LocalEmbedder(settings, loader=local_loader)
    cls = PROVIDERS.get(settings.provider)
    if cls is None:
        raise ConfigError(
            f"models.{settings.name}.provider: unknown provider "
            f"{settings.provider!r} (known: hash, local, {', '.join(PROVIDERS)})"
        )
    return cls(settings, runtime)
