"""Input validation shared by every statistic: shapes, finiteness, parameters."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "InsufficientDataError",
    "as_matrix",
    "as_pair",
    "check_alpha",
    "check_int",
    "check_seed",
    "require_samples",
]


class InsufficientDataError(ValueError):
    """Too few samples for the requested statistic.

    Raised only for sample-size problems (a caller asked for one test and gave
    it fewer points than it needs). Malformed input raises a plain
    ``ValueError`` naming the argument instead.
    """


def as_matrix(x: ArrayLike, name: str) -> NDArray[np.floating[Any]]:
    """Validate one sample and return it as a C-contiguous float matrix.

    float32 input stays float32 and float64 stays float64 (no copy when already
    C-contiguous); any other numeric dtype becomes float64. The result may be
    the caller's own array: it is never written to.

    Parameters
    ----------
    x : array_like, shape (n, d)
        Sample of ``n`` vectors of dimension ``d``.
    name : str
        Argument name used in error messages.

    Raises
    ------
    ValueError
        If ``x`` is not numeric, not 2-D, empty, contains NaN or inf, or all
        rows are identical (a constant array).
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular numeric array: {exc}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n, d), got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); need at least one row and column")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(out).all():
        bad = "NaN" if np.isnan(out).any() else "inf"
        raise ValueError(f"{name} contains {bad} values; every entry must be finite")
    if out.shape[0] > 1 and not (out != out[0]).any():
        raise ValueError(f"{name} is constant: all {out.shape[0]} rows are identical")
    return out


def as_pair(
    ref: ArrayLike, cur: ArrayLike
) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]:
    """Validate a reference/current pair of samples with a common dimension.

    Parameters
    ----------
    ref : array_like, shape (n, d)
    cur : array_like, shape (m, d)

    Returns
    -------
    ref, cur : ndarray of float32 or float64
    """
    r = as_matrix(ref, "ref")
    c = as_matrix(cur, "cur")
    if r.shape[1] != c.shape[1]:
        raise ValueError(
            f"ref and cur have different dimensions: ref has d={r.shape[1]}, cur has d={c.shape[1]}"
        )
    return r, c


def require_samples(n_ref: int, n_cur: int, minimum: int, test: str) -> None:
    """Raise :class:`InsufficientDataError` if either side has fewer than ``minimum``."""
    if n_ref < minimum or n_cur < minimum:
        raise InsufficientDataError(
            f"{test} needs at least {minimum} samples per side, got n_ref={n_ref}, n_cur={n_cur}"
        )


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as float if it lies strictly between 0 and 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}")
    value = float(alpha)
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be in (0, 1), got {alpha!r}")
    return value


def check_int(value: int, name: str, minimum: int) -> int:
    """Return ``value`` if it is an integer not below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_seed(seed: int) -> int:
    """Return ``seed`` if it is a non-negative integer."""
    return check_int(seed, "seed", 0)
