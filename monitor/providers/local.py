"""Optional extra ``local``: a sentence-transformers model from a local folder, never the hub."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitor.config import ModelSettings
from monitor.errors import ConfigError, ProviderError, ProviderResponseError
from monitor.providers._text import prepare_texts
from monitor.providers._wire import BadResponse, check_finite, finish
from monitor.providers.base import EmbeddingResult, Kind, Usage

__all__ = ["LocalEmbedder", "load_sentence_transformer"]

Loader = Callable[[Path], Any]


def load_sentence_transformer(folder: Path) -> Any:
    """Load a sentence-transformers model from ``folder`` with hub access switched off."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError(
            "provider 'local' needs the sentence-transformers package: "
            "pip install '.[local]' from a clone"
        ) from None
    try:
        return SentenceTransformer(str(folder), local_files_only=True)
    except TypeError:  # releases before local_files_only existed
        return SentenceTransformer(str(folder))


class LocalEmbedder:
    """Embeds in-process; ``model`` in the settings is the model folder."""

    def __init__(self, settings: ModelSettings, *, loader: Loader | None = None) -> None:
        self.settings = settings
        folder = Path(settings.model).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                f"models.{settings.name}.model: the local model folder "
                f"{str(folder)!r} does not exist"
            )
        try:
            self._model = (loader or load_sentence_transformer)(folder)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"models.{settings.name}.model: cannot load the model in "
                f"{str(folder)!r} ({type(exc).__name__}: {exc})"
            ) from exc
        reported = _model_dimension(self._model)
        if reported is not None and reported != settings.dimensions:
            raise ConfigError(
                f"models.{settings.name}.dimensions: the model in {str(folder)!r} "
                f"makes {reported}-dimensional vectors, not {settings.dimensions}"
            )
        self._lock = threading.Lock()
        self._identity = {"model": folder.name, "folder_digest": _folder_digest(folder)}

    def __repr__(self) -> str:
        return f"LocalEmbedder(name={self.settings.name!r}, model={self.settings.model!r})"

    @property
    def dimension(self) -> int:
        return self.settings.dimensions

    def embed(self, texts: Sequence[str], kind: Kind = "query") -> EmbeddingResult:
        if kind not in ("query", "document"):
            raise ValueError(f"kind must be 'query' or 'document', not {kind!r}")
        started = time.perf_counter()
        s = self.settings
        prefix = s.query_prefix if kind == "query" else s.document_prefix
        prep = prepare_texts(
            texts,
            prefix,
            max_tokens=s.max_input_tokens,
            rule=s.truncate,
            chars_per_token=s.chars_per_token,
        )
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if prep.texts:
            try:
                with self._lock:
                    out = self._model.encode(
                        prep.texts,
                        batch_size=s.batch_size,
                        convert_to_numpy=True,
                        normalize_embeddings=False,
                        show_progress_bar=False,
                    )
            except Exception as exc:
                raise ProviderError(
                    f"model {s.name!r}: local model failed ({type(exc).__name__})"
                ) from exc
            out = np.asarray(out, dtype=np.float32)
            try:
                if out.shape != (len(prep.texts), self.dimension):
                    raise BadResponse(
                        f"expected shape {(len(prep.texts), self.dimension)}, got {out.shape}"
                    )
                check_finite(out)
            except BadResponse as exc:
                raise ProviderResponseError(
                    f"model {s.name!r}: local model output: {exc}"
                ) from None
            vectors[prep.indices] = out
        failed = frozenset(prep.skipped) | frozenset(prep.empty)
        zero = finish(vectors, failed, s.normalize)
        usage = Usage(
            input_tokens=sum(prep.tokens),
            requests=1 if prep.texts else 0,
            latency_seconds=time.perf_counter() - started,
            truncated=prep.truncated,
        )
        return EmbeddingResult(
            vectors=vectors,
            usage=usage,
            failed=failed,
            identity=dict(self._identity),
            zero_rows=zero,
        )

    def close(self) -> None:
        """Nothing to release: the model is freed with the provider."""


def _folder_digest(folder: Path) -> str:
    """Names and sizes of every file, plus the bytes of small ones: changes when the model does."""
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        if size <= 1 << 20:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _model_dimension(model: Any) -> int | None:
    getter = getattr(model, "get_sentence_embedding_dimension", None)
    value = getter() if callable(getter) else None
    return value if isinstance(value, int) else None
