"""The built-in offline embedder: signed feature hashing of character and word n-grams.

Deterministic for a seed, numpy only, no network: the embedded default that lets
driftmon (and its demo) run without an API key. The ``variant`` setting makes it
behave like an endpoint whose model silently changed, for demos and tests:

- ``rotated``: the same vectors under a fixed orthogonal rotation (geometry kept);
- ``quantized``: int8 quantisation of each vector, as a cheaper re-deployment;
- ``unnormalized``: normalisation switched off;
- ``noisy``: small run-to-run noise, as non-deterministic GPU inference shows;
- ``other``: a different model of the same dimension (another hash seed).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from monitor.providers.base import EmbeddingResult, Kind, Usage

__all__ = ["HashEmbedder"]

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Hashed n-gram embedder with ``dimension`` buckets."""

    def __init__(
        self,
        dimension: int = 256,
        *,
        seed: int = 0,
        variant: str = "base",
        normalize: bool = True,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self._dimension = dimension
        self._seed = seed + (7919 if variant == "other" else 0)
        self.variant = variant
        self.normalize = normalize and variant != "unnormalized"
        self._prefix = {"query": query_prefix, "document": document_prefix}
        self._buckets: dict[str, tuple[int, float]] = {}
        self._noise = np.random.default_rng()  # "noisy" means not reproducible, on purpose
        self._key = self._seed.to_bytes(8, "little", signed=True)

    @property
    def dimension(self) -> int:
        return self._dimension

    @cached_property
    def _rotation(self) -> np.ndarray:
        rng = np.random.default_rng(self._seed + 104729)
        q, r = np.linalg.qr(rng.standard_normal((self._dimension, self._dimension)))
        return (q * np.sign(np.diag(r))).astype(np.float32)

    def _bucket(self, gram: str) -> tuple[int, float]:
        hit = self._buckets.get(gram)
        if hit is None:
            digest = hashlib.blake2b(gram.encode(), digest_size=8, key=self._key).digest()
            value = int.from_bytes(digest, "little")
            hit = (value % self._dimension, 1.0 if value >> 63 else -1.0)
            if len(self._buckets) < 1_000_000:
                self._buckets[gram] = hit
        return hit

    def _features(self, text: str) -> list[tuple[str, float]]:
        lowered = text.lower()
        words = _WORD.findall(lowered)
        grams: list[tuple[str, float]] = [("w:" + w, 1.0) for w in words]
        grams += [("b:" + a + " " + b, 0.7) for a, b in zip(words, words[1:], strict=False)]
        for w in words:
            padded = f"<{w}>"
            for n in (3, 4):
                grams += [("c:" + padded[i : i + n], 0.5) for i in range(len(padded) - n + 1)]
        return grams

    def embed_one(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dimension, dtype=np.float64)
        for gram, weight in self._features(text):
            index, sign = self._bucket(gram)
            vec[index] += sign * weight
        return vec

    def embed(self, texts: Sequence[str], kind: Kind = "query") -> EmbeddingResult:
        started = time.perf_counter()
        prefix = self._prefix[kind]
        out = np.zeros((len(texts), self._dimension), dtype=np.float64)
        tokens = 0
        for i, text in enumerate(texts):
            out[i] = self.embed_one(prefix + text)
            tokens += len(_WORD.findall(text))
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            np.divide(out, norms, out=out, where=norms > 0)
        vectors = out.astype(np.float32)
        if self.variant == "rotated":
            vectors = vectors @ self._rotation
        elif self.variant == "quantized":
            scale = np.abs(vectors).max(axis=1, keepdims=True) / 127.0
            scale[scale == 0] = 1.0
            vectors = (np.round(vectors / scale) * scale).astype(np.float32)
        elif self.variant == "noisy":
            vectors = vectors + self._noise.normal(0, 2e-3, vectors.shape).astype(np.float32)
        usage = Usage(
            input_tokens=tokens, requests=1, latency_seconds=time.perf_counter() - started
        )
        return EmbeddingResult(
            vectors=vectors, usage=usage, identity={"model": f"hash-ngram-{self._dimension}"}
        )

    def close(self) -> None:
        self._buckets.clear()
