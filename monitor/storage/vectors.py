"""Vectors as compact little-endian binary with dtype and dimension."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["decode_vector", "decode_vectors", "encode_vector"]

_DTYPES: dict[str, np.dtype[np.floating[Any]]] = {
    "f4": np.dtype("<f4"),
    "f2": np.dtype("<f2"),
    "f8": np.dtype("<f8"),
}


def encode_vector(vector: np.ndarray, dtype: str = "f4") -> tuple[bytes, str, int]:
    """(bytes, dtype code, dimension) of a 1-D vector."""
    arr = np.asarray(vector)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {arr.shape}")
    return arr.astype(_DTYPES[dtype]).tobytes(), dtype, int(arr.shape[0])


def decode_vector(blob: bytes, dtype: str, dim: int) -> npt.NDArray[np.float32]:
    arr = np.frombuffer(blob, dtype=_DTYPES[dtype])
    if arr.shape[0] != dim:
        raise ValueError(f"stored vector has {arr.shape[0]} values, its row says {dim}")
    return arr.astype(np.float32)


def decode_vectors(rows: Sequence[tuple[bytes, str, int]]) -> npt.NDArray[np.float32]:
    """Stack stored vectors into an (n, d) float32 array; all must share one dimension."""
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    dims = {dim for _, _, dim in rows}
    if len(dims) != 1:
        raise ValueError(f"stored vectors have mixed dimensions {sorted(dims)}")
    return np.vstack([decode_vector(b, t, d) for b, t, d in rows])
