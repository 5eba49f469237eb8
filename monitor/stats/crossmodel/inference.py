"""Paired inference on per-query differences: bootstrap interval and sign-flip permutation test."""

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["paired_bootstrap", "sign_flip_test"]

TEST = "paired sign-flip permutation test of the mean difference (two-sided)"
_BLOCK = 1 << 22  # entries per bootstrap / permutation block


def _positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _level(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return float(value)


def paired_bootstrap(
    diffs: ArrayLike,
    n_boot: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Bootstrap distribution of the mean of paired differences, per column.

    ``diffs`` (n, m): row ``i`` holds query ``i``'s differences ``B - A`` for ``m``
    measures. Each replicate resamples the ``n`` rows with replacement (whole
    rows, so the measures stay paired). Returns an (n_boot, m) array of means.
    """
    x = np.asarray(diffs, dtype=np.float64)
    n_boot = _positive_int(n_boot, "n_boot")
    n = len(x)
    out = np.empty((n_boot, x.shape[1]))
    step = max(1, _BLOCK // n)
    for a in range(0, n_boot, step):
        b = min(n_boot, a + step)
        draws = rng.integers(0, n, size=(b - a, n))
        counts = np.bincount(
            (draws + n * np.arange(b - a)[:, None]).ravel(), minlength=(b - a) * n
        ).reshape(b - a, n)
        out[a:b] = counts @ x / n
    return out


def sign_flip_test(
    diffs: ArrayLike,
    n_perm: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Two-sided paired sign-flip test of "mean difference = 0", per column.

    Under the null each query's difference is symmetric about 0, so its sign is
    exchangeable. p = (1 + #{|mean*| >= |mean|}) / (1 + n_perm) over ``n_perm``
    random sign vectors, or the exact share over all ``2**n`` vectors when
    ``2**n <= n_perm``. All-zero differences give p = 1.
    """
    x = np.asarray(diffs, dtype=np.float64)
    n_perm = _positive_int(n_perm, "n_perm")
    n = len(x)
    observed = np.abs(x.mean(axis=0))
    tol = 1e-12 * np.maximum(1.0, observed)
    if n < 63 and 2**n <= n_perm:
        signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2.0 - 1.0
        exact: NDArray[np.float64] = np.mean(np.abs(signs @ x / n) >= observed - tol, axis=0)
        return exact
    hits = np.zeros(x.shape[1])
    step = max(1, _BLOCK // n)
    for a in range(0, n_perm, step):
        signs = rng.integers(0, 2, size=(min(step, n_perm - a), n)) * 2.0 - 1.0
        hits += np.sum(np.abs(signs @ x / n) >= observed - tol, axis=0)
    return (1 + hits) / (1 + n_perm)
