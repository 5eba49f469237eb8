"""Shared per-comparison state: the pooled sample, its strata and cached intermediates.

One :class:`Workspace` is built per ``(ref, cur, seed)`` comparison so that the
expensive pieces (the pooled Gram matrix and the kernels derived from it, the
nearest-neighbour similarities, a PCA basis) are computed once and shared by
every test of a suite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import as_pair
from monitor.stats.permutation import Permuter

__all__ = ["DEFAULT_MAX_BLOCK", "Workspace"]

T = TypeVar("T")

#: Largest pooled stratum whose (N, N) matrices are held in memory at once.
DEFAULT_MAX_BLOCK = 12_000
#: Below this many pooled rows everything is computed in float64.
_FLOAT64_BELOW = 2_048
_ROWS = 2_048

# Independent random streams, one per use, keyed with the user's seed.
STREAM_STRATA = 11
STREAM_BANDWIDTH = 12
STREAM_PCA = 13
STREAM_FOLDS = 14
STREAM_KMEANS = 15
STREAM_NEIGHBOURS = 16
STREAM_SPLIT = 17
STREAM_KNN = 18


class Workspace:
    """Validated ``ref`` (n, d) and ``cur`` (m, d) with lazily cached intermediates.

    Parameters
    ----------
    ref, cur : array_like, shapes (n, d) and (m, d)
    seed : int
        Seed of every random choice made for this comparison.
    max_block : int
        Pooled sizes above this are split into strata of about half this many
        rows (balanced between ref and cur); kernel statistics then average the
        per-stratum statistics and permute labels within strata.
    """

    def __init__(
        self, ref: ArrayLike, cur: ArrayLike, *, seed: int, max_block: int = DEFAULT_MAX_BLOCK
    ) -> None:
        self.ref, self.cur = as_pair(ref, cur)
        self.n_ref, self.dim = self.ref.shape
        self.n_cur = self.cur.shape[0]
        self.n = self.n_ref + self.n_cur
        self.seed = seed
        self.max_block = max_block
        self.dtype: type[np.floating[Any]] = np.float64 if self.n < _FLOAT64_BELOW else np.float32
        self.strata = self._make_strata()
        self.permuter = Permuter(self.n_ref, self.n_cur, seed, self.strata)
        #: p-values the verdict adjusts each test's over (Holm); every early
        #: rejection look spends alpha / (2 verdict_family), see permutation
        self.verdict_family = 1
        self._cache: dict[Hashable, Any] = {}

    # -- generic memo -------------------------------------------------------
    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        """Return ``make()`` once per key."""
        if key not in self._cache:
            self._cache[key] = make()
        value: T = self._cache[key]
        return value

    def get(self, key: Hashable) -> Any:
        """The cached value of ``key`` or None."""
        return self._cache.get(key)

    def has(self, key: Hashable) -> bool:
        return key in self._cache

    def put(self, key: Hashable, value: Any) -> None:
        self._cache[key] = value

    def drop(self, key: Hashable) -> None:
        self._cache.pop(key, None)

    def rng(self, stream: int, *extra: int) -> np.random.Generator:
        """A generator for one named use of randomness."""
        return np.random.default_rng([self.seed, stream, *extra])

    # -- data views -----------------------------------------------------------
    @property
    def pooled(self) -> NDArray[np.floating[Any]]:
        """``[ref; cur]`` in the working dtype, shape (N, d)."""
        return self.cached(
            "pooled", lambda: np.concatenate([self.ref, self.cur]).astype(self.dtype, copy=False)
        )

    @property
    def mean(self) -> NDArray[np.float64]:
        """Mean of the pooled rows (label-free), shape (d,)."""
        return self.cached("mean", lambda: self.pooled.mean(axis=0, dtype=np.float64))

    def centred_rows(self, rows: NDArray[np.intp]) -> NDArray[np.floating[Any]]:
        """Pooled ``rows`` minus the pooled mean, working dtype, shape (len(rows), d).

        Distances are computed from the Gram matrix of centred rows: centring
        leaves distances unchanged and shrinks the norms, which keeps
        ``|x|² + |y|² - 2 x'y`` accurate (embeddings share a large mean direction).
        """
        z = self.pooled[rows]
        z -= self.mean.astype(self.dtype)  # z is a fresh copy (fancy index or copy below)
        return z

    @property
    def centred_sq_norms(self) -> NDArray[np.float64]:
        """Squared norms of the centred pooled rows, in float64, shape (N,)."""

        def make() -> NDArray[np.float64]:
            out = np.empty(self.n)
            for lo in range(0, self.n, _ROWS):
                c = self.pooled[lo : lo + _ROWS].astype(np.float64) - self.mean
                out[lo : lo + _ROWS] = np.einsum("ij,ij->i", c, c)
            return out

        return self.cached("centred_sq_norms", make)

    @property
    def sq_norms(self) -> NDArray[np.float64]:
        """Squared Euclidean norms of the pooled rows, shape (N,)."""

        def make() -> NDArray[np.float64]:
            out = np.empty(self.n)
            for lo in range(0, self.n, _ROWS):  # chunks: no full float64 copy
                block = self._rows(lo, lo + _ROWS).astype(np.float64)
                out[lo : lo + block.shape[0]] = np.einsum("ij,ij->i", block, block)
            return out

        return self.cached("sq_norms", make)

    def _rows(self, lo: int, hi: int) -> NDArray[np.floating[Any]]:
        """Pooled rows ``lo:hi`` from the validated inputs (full precision), no full copy."""
        hi = min(hi, self.n)
        if hi <= self.n_ref:
            return self.ref[lo:hi]
        if lo >= self.n_ref:
            return self.cur[lo - self.n_ref : hi - self.n_ref]
        return np.concatenate([self.ref[lo:], self.cur[: hi - self.n_ref]])

    @property
    def norms(self) -> NDArray[np.float64]:
        """Euclidean norms of the pooled rows, shape (N,)."""
        return self.cached("norms", lambda: np.sqrt(self.sq_norms))

    @property
    def inv_norms(self) -> NDArray[np.float64]:
        """``1 / norm`` per pooled row; 0 for rows shorter than 1e-12 of the longest (shape (N,)).

        Such rows are zero vectors up to round-off; their cosine to anything is 0.
        """

        def make() -> NDArray[np.float64]:
            norms = self.norms
            ok = norms > 1e-12 * norms.max()
            return np.divide(1.0, norms, out=np.zeros(self.n), where=ok)

        return self.cached("inv_norms", make)

    @property
    def unit(self) -> NDArray[np.floating[Any]]:
        """Pooled rows scaled to unit norm (zero rows stay zero), shape (N, d)."""

        def make() -> NDArray[np.floating[Any]]:
            return self.pooled * self.inv_norms.astype(self.dtype)[:, None]

        return self.cached("unit", make)

    @property
    def distinct(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Distinct pooled rows: ``(first, inverse)`` with ``pooled == pooled[first][inverse]``.

        Row-wise results computed by BLAS (projections, scores) can differ in the
        last bit between identical rows, depending on where a row falls in a
        kernel's blocking; computing them once per distinct row and broadcasting
        keeps exact duplicates (repeated queries) exactly tied.
        """

        def make() -> tuple[NDArray[np.intp], NDArray[np.intp]]:
            z = np.ascontiguousarray(self.pooled)
            words = z.view(np.uint32 if z.dtype == np.float32 else np.uint64)
            mult = self.rng(STREAM_SPLIT, 1).integers(
                1, 2**63, size=words.shape[1], dtype=np.uint64
            )
            keys = np.zeros(self.n, dtype=np.uint64)
            for lo in range(0, self.n, _ROWS):  # exact wrap-around integer hash of the bits
                keys[lo : lo + _ROWS] = (words[lo : lo + _ROWS] * (mult | np.uint64(1))).sum(
                    axis=1, dtype=np.uint64
                )
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
            same = all(
                (z[lo : lo + _ROWS] == z[first[inverse[lo : lo + _ROWS]]]).all()
                for lo in range(0, self.n, _ROWS)
            )
            if not same:  # a hash collision: compare bytes instead
                rows = z.view(np.dtype((np.void, z.dtype.itemsize * z.shape[1]))).ravel()
                _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
            return first.astype(np.intp), inverse.astype(np.intp).ravel()

        return self.cached("distinct", make)

    def rowwise(self, func: Callable[[NDArray[Any]], NDArray[Any]]) -> NDArray[Any]:
        """``func(pooled)`` evaluated on distinct rows only (in chunks) and broadcast back."""
        first, inverse = self.distinct
        parts = [func(self.pooled[first[lo : lo + _ROWS]]) for lo in range(0, first.size, _ROWS)]
        return np.concatenate(parts)[inverse]

    @property
    def ref_split(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """A seeded random halving of ref: ``(index_half, held_out)`` row indices, sorted.

        Scores defined *relative to ref* (cosine to its centroid, to its nearest
        row) are exchangeable between a held-out ref row and a cur row only if
        neither helped define them; the index half defines, the held-out half is
        compared.
        """

        def make() -> tuple[NDArray[np.intp], NDArray[np.intp]]:
            order = self.rng(STREAM_SPLIT).permutation(self.n_ref)
            half = (self.n_ref + 1) // 2
            return np.sort(order[:half]), np.sort(order[half:])

        return self.cached("ref_split", make)

    @property
    def is_ref(self) -> NDArray[np.bool_]:
        """Boolean mask of the true labelling, shape (N,)."""
        mask = np.zeros(self.n, dtype=bool)
        mask[: self.n_ref] = True
        return mask

    # -- strata ---------------------------------------------------------------
    def _make_strata(self) -> list[NDArray[np.intp]]:
        if self.n <= self.max_block:
            return [np.arange(self.n, dtype=np.intp)]
        # strata of about half the block size: the (N_g, N_g) matrices of a stratum
        # then take a quarter of the memory, and the work N * N_g * (d + B) halves
        g = math.ceil(self.n / max(self.max_block // 2, 2))
        g = max(1, min(g, self.n_ref // 2, self.n_cur // 2))
        rng = self.rng(STREAM_STRATA)
        refs = np.array_split(rng.permutation(self.n_ref), g)
        curs = np.array_split(self.n_ref + rng.permutation(self.n_cur), g)
        return [
            np.sort(np.concatenate([r, c])).astype(np.intp) for r, c in zip(refs, curs, strict=True)
        ]

    @property
    def single_stratum(self) -> bool:
        return len(self.strata) == 1
