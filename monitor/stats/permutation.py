"""Label permutations and sequential Monte-Carlo permutation p-values.

A :class:`Permuter` hands out batches of random relabellings of the pooled
sample ``Z = [ref; cur]`` (``N = n_ref + n_cur`` rows) as boolean indicator
matrices ``A`` of shape ``(N, b)`` whose column ``j`` marks the rows playing
"ref" in permutation ``j``. Statistics that are quadratic or linear in the
labels evaluate a whole batch with one matrix product.

Permutation ``k`` depends only on ``(seed, k)``: every test that uses the same
seed sees the same relabellings, whichever order they are requested in.

Optionally the pooled rows are split into *strata* (disjoint index sets with a
fixed number of ref rows each) and labels are permuted within strata only;
this subgroup of permutations leaves the null distribution invariant, so the
test stays exact, and lets block-diagonal statistics keep memory bounded.

References
----------
Besag, J. and Clifford, P. (1991). Sequential Monte Carlo p-values.
Biometrika 78(2), 301-304.
Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be
zero. Stat. Appl. Genet. Mol. Biol. 9(1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PermutationOutcome",
    "Permuter",
    "besag_clifford_h",
    "outcome_from_null",
    "permutation_test",
]

_STREAM = 0x5EED_0001
_FIRST_BATCH = 32
_MAX_BATCH = 256
_CACHE_F32_ROWS = 16_384


@dataclass(frozen=True)
class PermutationOutcome:
    """Result of a (possibly early-stopped) permutation test.

    Attributes
    ----------
    p_value : float
        ``h / L`` if stopped after ``h`` exceedances at ``L`` permutations
        (Besag & Clifford), else ``(1 + c) / (1 + B)``.
    n_used : int
        Number of permutations evaluated (``L``).
    exceedances : int
        Permutation statistics ``>=`` the observed one among the first ``L``.
    null : ndarray, shape (n_used,)
        The permutation statistics.
    """

    p_value: float
    n_used: int
    exceedances: int
    null: NDArray[np.float64]

    def quantile(self, alpha: float) -> float:
        """The ``1 - alpha`` quantile of the permutation statistics."""
        return float(np.quantile(self.null, 1.0 - alpha)) if self.null.size else math.nan


class Permuter:
    """Seeded batches of label permutations of the pooled sample.

    Parameters
    ----------
    n_ref, n_cur : int
        Sizes of the two samples; pooled rows ``0..n_ref-1`` are ``ref``.
    seed : int
        Seed; permutation ``k`` is a function of ``(seed, k)`` only.
    strata : sequence of ndarray of int, optional
        Disjoint pooled-row index sets covering ``0..N-1``. Labels are permuted
        within each stratum, keeping its number of ref rows.
    """

    def __init__(
        self,
        n_ref: int,
        n_cur: int,
        seed: int,
        strata: Sequence[NDArray[np.intp]] | None = None,
    ) -> None:
        self.n_ref = n_ref
        self.n_cur = n_cur
        self.n = n_ref + n_cur
        self.seed = seed
        if strata is None:
            strata = [np.arange(self.n, dtype=np.intp)]
        self.strata = [np.asarray(s, dtype=np.intp) for s in strata]
        self._n_ref_in = [int(np.count_nonzero(s < n_ref)) for s in self.strata]
        self._cache: dict[int, NDArray[np.bool_]] = {}
        self._cache_f32: dict[int, NDArray[np.float32]] = {}

    @staticmethod
    def schedule(total: int) -> list[tuple[int, int]]:
        """Batches ``(index, size)`` covering ``total`` permutations.

        Sizes double from 32 up to 256; only the last one is truncated, so the
        first ``k`` permutations never depend on ``total``.
        """
        out: list[tuple[int, int]] = []
        done, size, j = 0, _FIRST_BATCH, 0
        while done < total:
            b = min(size, total - done)
            out.append((j, b))
            done += b
            j += 1
            size = min(2 * size, _MAX_BATCH)
        return out

    def observed(self) -> NDArray[np.bool_]:
        """Indicator of the true labelling, shape ``(N, 1)``."""
        a = np.zeros((self.n, 1), dtype=bool)
        a[: self.n_ref, 0] = True
        return a

    def batch(self, j: int, size: int) -> NDArray[np.bool_]:
        """Indicator matrix of batch ``j``, shape ``(N, size)``; column = ref rows."""
        cached = self._cache.get(j)
        if cached is None:
            # always draw the full scheduled batch so that column k of batch j
            # does not depend on how many columns a caller asked for
            full = min(_FIRST_BATCH << min(j, 16), _MAX_BATCH)
            cached = self._draw(j, max(size, full))
            self._cache[j] = cached
        return cached[:, :size]

    def batch_f32(self, j: int, size: int) -> NDArray[np.float32]:
        """:meth:`batch` as float32 0/1 for matrix products (cached for small N)."""
        cached = self._cache_f32.get(j)
        if cached is not None:
            return cached[:, :size]
        self.batch(j, size)
        full = self._cache[j].astype(np.float32)
        if self.n <= _CACHE_F32_ROWS:
            self._cache_f32[j] = full
        return full[:, :size]

    def _draw(self, j: int, size: int) -> NDArray[np.bool_]:
        rng = np.random.default_rng([self.seed, _STREAM, j])
        a = np.zeros((self.n, size), dtype=bool)
        for stratum, k in zip(self.strata, self._n_ref_in, strict=True):
            keys = rng.random((size, stratum.size))
            if k == 0:
                continue
            # the k smallest of i.i.d. uniform keys are a uniformly random k-subset;
            # a partition finds each row's k-th key, a comparison marks the subset
            kth = np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
            chosen = keys <= kth
            if not (chosen.sum(axis=1) == k).all():  # a tied key (probability ~ 1e-12)
                idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
                chosen = np.zeros_like(chosen)
                np.put_along_axis(chosen, idx, True, axis=1)
            a[stratum] = chosen.T
        return a


def besag_clifford_h(alpha: float, n_permutations: int, minimum: int = 20) -> int:
    """Exceedance count at which a sequential test can stop without changing its verdict.

    With ``h >= alpha (B + 1)`` the early-stopped decision equals the full
    ``B``-permutation decision at level ``alpha``.
    """
    return max(minimum, math.ceil(alpha * (n_permutations + 1)))


def permutation_test(
    observed: float,
    evaluate: Callable[[NDArray[np.bool_]], NDArray[np.float64]],
    permuter: Permuter,
    n_permutations: int,
    *,
    stop_after: int | None,
    rel_tol: float = 1e-9,
) -> PermutationOutcome:
    """Permutation p-value of ``observed``, larger statistic = more evidence.

    Parameters
    ----------
    observed : float
        Statistic of the true labelling (best computed by ``evaluate`` on
        :meth:`Permuter.observed`, so that rounding is identical).
    evaluate : callable
        Maps an indicator batch ``(N, b)`` to ``b`` permutation statistics.
    permuter : Permuter
    n_permutations : int
        Maximum number of permutations ``B``.
    stop_after : int or None
        Besag-Clifford ``h``: stop as soon as ``h`` permutation statistics
        reach ``observed``. None evaluates all ``B``.
    rel_tol : float
        Statistics within ``rel_tol * |observed|`` below ``observed`` count as
        ties (exceedances), which keeps the test conservative under
        floating-point noise.
    """
    batches = (
        np.asarray(evaluate(permuter.batch(j, size)), dtype=np.float64)
        for j, size in Permuter.schedule(n_permutations)
    )
    return _accumulate(observed, batches, stop_after=stop_after, rel_tol=rel_tol)


def outcome_from_null(
    observed: float,
    null: NDArray[np.float64],
    *,
    stop_after: int | None,
    rel_tol: float = 1e-9,
) -> PermutationOutcome:
    """The outcome :func:`permutation_test` would give for precomputed statistics.

    ``null`` holds the statistics of permutations ``0..B-1`` in order; applying
    the same stopping rule after the fact gives the same p-value as a
    sequential run.
    """
    return _accumulate(
        observed, iter([np.asarray(null, dtype=np.float64)]), stop_after=stop_after, rel_tol=rel_tol
    )


def _accumulate(
    observed: float,
    batches: Iterator[NDArray[np.float64]],
    *,
    stop_after: int | None,
    rel_tol: float,
) -> PermutationOutcome:
    tol = rel_tol * abs(observed)
    nulls: list[NDArray[np.float64]] = []
    count = 0
    used = 0
    for stats in batches:
        hits = stats >= observed - tol
        if stop_after is not None and count + int(hits.sum()) >= stop_after:
            # the h-th exceedance happens inside this batch: stop exactly there
            pos = int(np.flatnonzero(np.cumsum(hits) + count >= stop_after)[0])
            nulls.append(stats[: pos + 1])
            used += pos + 1
            return PermutationOutcome(
                p_value=stop_after / used,
                n_used=used,
                exceedances=stop_after,
                null=np.concatenate(nulls),
            )
        count += int(hits.sum())
        used += stats.size
        nulls.append(stats)
    return PermutationOutcome(
        p_value=(1.0 + count) / (1.0 + used),
        n_used=used,
        exceedances=count,
        null=np.concatenate(nulls) if nulls else np.empty(0),
    )
