"""Decoding and validating embedding payloads, and safe excerpts of response bodies."""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BadResponse",
    "Parsed",
    "check_finite",
    "decode_base64_f32",
    "error_excerpt",
    "finish",
    "rows_to_matrix",
]

_EXCERPT = 160
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")
_KEYLIKE = re.compile(r"\b(sk|pa|rk|key|token)[-_][A-Za-z0-9_\-]{8,}", re.IGNORECASE)


class BadResponse(ValueError):
    """The payload does not have the promised shape; the message says what is wrong."""


@dataclass
class Parsed:
    """What a wire format got out of one successful response, rows in input order."""

    rows: Any
    tokens: int | None = None
    identity: dict[str, str] = field(default_factory=dict)


def _b64(data: str) -> bytes:
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        raise BadResponse("an embedding is not valid base64") from None


def decode_base64_f32(data: str) -> np.ndarray:
    """Raw little-endian float32 bytes, base64-encoded, as a 1-D float32 array."""
    raw = _b64(data)
    if len(raw) % 4:
        raise BadResponse(f"a base64 embedding has {len(raw)} bytes, not a multiple of 4")
    return np.frombuffer(raw, dtype="<f4")


def rows_to_matrix(rows: Sequence[Any], n: int, dim: int) -> np.ndarray:
    """Lists of numbers or base64 strings -> (n, d) float32, checking count and shape.

    ``dim`` is the configured dimension. Rows that all share another dimension are
    a valid answer with that dimension (the endpoint changed it: a canary verdict,
    not a transport error); rows that disagree with each other are a bad response.
    """
    if not isinstance(rows, list | tuple):
        raise BadResponse(f"embeddings are a {type(rows).__name__}, not a list")
    if len(rows) != n:
        raise BadResponse(f"expected {n} embeddings, got {len(rows)}")
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if isinstance(rows[0], str):
        return _base64_rows(rows, n)
    for i, r in enumerate(rows):
        if not isinstance(r, list):
            raise BadResponse(f"embedding {i} is a {type(r).__name__}, not a list of numbers")
    _same_length([len(r) for r in rows])
    for r in rows:
        for v in r:
            if type(v) is not float and type(v) is not int:
                raise BadResponse("an embedding holds a value that is not a number")
    try:
        return np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise BadResponse("an embedding holds a value that is not a float32 number") from None


def _same_length(sizes: list[int]) -> int:
    """The one dimension every row has, or :class:`BadResponse` naming the first odd row."""
    first = sizes[0]
    if first == 0:
        raise BadResponse("embedding 0 is empty")
    for i, size in enumerate(sizes):
        if size != first:
            raise BadResponse(f"embedding {i} has dimension {size}, but embedding 0 has {first}")
    return first


def _base64_rows(rows: Sequence[Any], n: int) -> np.ndarray:
    parts: list[bytes] = []
    for i, r in enumerate(rows):
        if not isinstance(r, str):
            raise BadResponse(f"embedding {i} is a {type(r).__name__}, not base64 text")
        parts.append(_b64(r))
        if len(parts[-1]) % 4:
            raise BadResponse(f"a base64 embedding has {len(parts[-1])} bytes, not a multiple of 4")
    size = _same_length([len(p) // 4 for p in parts])
    flat = np.frombuffer(b"".join(parts), dtype="<f4")
    return flat.astype(np.float32, copy=False).reshape(n, size)


def check_finite(vectors: np.ndarray) -> None:
    """Reject NaN and infinity (a float64 sum first: one pass, no temporary array)."""
    if np.isfinite(vectors.sum(dtype=np.float64)):
        return
    bad = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
    raise BadResponse(f"embedding {bad} contains NaN or infinity")


def finish(vectors: np.ndarray, failed: Iterable[int], normalize: bool) -> frozenset[int]:
    """L2-normalise rows in place if asked; return the all-zero rows not listed in ``failed``."""
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
    zero = np.flatnonzero(norms == 0)
    if normalize and len(vectors):
        norms[zero] = 1.0
        vectors /= norms[:, None].astype(np.float32)
    return frozenset(int(i) for i in zero).difference(failed)


def _message_of(body: str) -> str:
    """The error message inside a JSON error body, else the body itself."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body
    for path in (("error", "message"), ("error",), ("message",), ("detail",)):
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return body


def error_excerpt(
    body: str, *, secrets: Iterable[str] = (), texts: Iterable[str] = (), limit: int = _EXCERPT
) -> str:
    """A short, one-line excerpt of a response body with secrets and input texts masked."""
    text = _message_of(body[:4096])
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    for item in texts:
        if len(item) >= 4 and item in text:
            text = text.replace(item, "[input]")
    text = _KEYLIKE.sub("[secret]", text)
    text = _UNPRINTABLE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text) if text else "(empty body)"
