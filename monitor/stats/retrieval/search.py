"""Exact cosine top-k search in blocks (trec_eval's tie order)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats.retrieval.judgements import _ids

__all__ = ["DOC_CHUNK", "QUERY_CHUNK", "search"]

#: queries and documents per block: a block's scores and their temporaries
#: take about 16 bytes per entry (4 M entries, ~70 MB in float32)
QUERY_CHUNK = 512
DOC_CHUNK = 8192
#: a block where a row has more than this many times k candidates falls back to argpartition
_PRUNE_FACTOR = 4


def _vectors(x: ArrayLike, name: str) -> NDArray[np.floating[Any]]:
    arr = np.asarray(x)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d), got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr


def _inverse_norms(x: NDArray[np.floating[Any]], name: str, chunk: int) -> NDArray[np.float64]:
    """1 / ||row|| (0 for a zero row), checking finiteness one block at a time."""
    out = np.zeros(len(x))
    for a in range(0, len(x), chunk):
        blk = x[a : a + chunk]
        if not np.isfinite(blk).all():
            raise ValueError(f"{name} contains NaN or inf values")
        norm = np.sqrt(np.einsum("ij,ij->i", blk, blk, dtype=np.float64))
        np.divide(1.0, norm, out=out[a : a + chunk], where=norm > 0)
    return out


def _sorted_topk(
    idx: NDArray[np.intp], s: NDArray[np.floating[Any]], key: NDArray[np.int64], k: int
) -> tuple[NDArray[np.intp], NDArray[np.floating[Any]]]:
    """First ``k`` of each row by (score desc, ``key[idx]`` desc).

    Each row must hold every entry that can belong to its top ``k``. A stable sort
    by score suffices unless scores tie inside the kept prefix or across its end
    (rare with real data); those rows are re-sorted with the key.
    """
    order = np.argsort(-s, axis=1, kind="stable")
    s = np.take_along_axis(s, order, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    kk = min(k, s.shape[1])
    upto = min(kk + 1, s.shape[1])
    for r in np.flatnonzero((s[:, 1:upto] == s[:, : upto - 1]).any(axis=1)):
        o = np.lexsort((-key[idx[r]], -s[r]))
        idx[r], s[r] = idx[r, o], s[r, o]
    return idx[:, :kk], s[:, :kk]


def _block_topk(
    s: NDArray[np.floating[Any]],
    key: NDArray[np.int64],
    k: int,
) -> tuple[NDArray[np.intp], NDArray[np.floating[Any]]]:
    """Top ``k`` columns of each row of ``s`` by (score desc, key desc), in that order."""
    n_rows, n_cols = s.shape
    if k >= n_cols:
        return _sorted_topk(np.broadcast_to(np.arange(n_cols), s.shape), s, key, k)
    part = np.argpartition(s, n_cols - k, axis=1)[:, n_cols - k :]
    kth = np.take_along_axis(s, part, axis=1).min(axis=1)
    # argpartition picks arbitrary members of a tie straddling the cut: redo those rows
    for r in np.flatnonzero((s >= kth[:, None]).sum(axis=1) > k):
        above = np.flatnonzero(s[r] > kth[r])
        tied = np.flatnonzero(s[r] == kth[r])
        tied = tied[np.argsort(-key[tied], kind="stable")[: k - len(above)]]
        part[r] = np.concatenate([above, tied])
    return _sorted_topk(part, np.take_along_axis(s, part, axis=1), key, k)


def _merge(
    best_i: NDArray[np.intp],
    best_s: NDArray[np.floating[Any]],
    rows: NDArray[np.intp],
    cand_i: NDArray[np.intp],
    cand_s: NDArray[np.floating[Any]],
    key: NDArray[np.int64],
    k: int,
) -> tuple[NDArray[np.intp], NDArray[np.floating[Any]]]:
    """Merge sorted lists with candidates ``(rows, cand_i, cand_s)``, ``rows`` ascending."""
    m = len(best_i)
    counts = np.bincount(rows, minlength=m)
    width = int(counts.max()) if len(rows) else 0
    pad_i = np.full((m, width), -1, dtype=np.intp)  # -inf scores never enter a full list
    pad_s = np.full((m, width), -np.inf, dtype=best_s.dtype)
    pos = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    pad_i[rows, pos] = cand_i
    pad_s[rows, pos] = cand_s
    return _sorted_topk(
        np.concatenate([best_i, pad_i], axis=1), np.concatenate([best_s, pad_s], axis=1), key, k
    )


def search(
    query_vecs: ArrayLike,
    doc_vecs: ArrayLike,
    k: int,
    *,
    doc_ids: Sequence[str] | None = None,
    query_chunk: int = QUERY_CHUNK,
    doc_chunk: int = DOC_CHUNK,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Exact cosine top-``k`` search of every query over every document.

    Scores are computed one (``query_chunk`` x ``doc_chunk``) block at a time and
    only a running top-``k`` per query is kept, so memory beyond the inputs is
    bounded by the block size (about 16 bytes per block entry), not by the
    collection. Arithmetic is float32 when both inputs are float32 (or float16),
    float64 otherwise. Zero vectors score 0 against everything.

    Parameters
    ----------
    query_vecs : array_like, shape (nq, d)
    doc_vecs : array_like, shape (n, d)
    k : int
        Results per query; ``min(k, n)`` are returned.
    doc_ids : sequence of str, optional
        Unique document ids. Ties are broken by id descending in string order
        (trec_eval's rule); by row index descending when not given.
    query_chunk, doc_chunk : int
        Block shape.

    Returns
    -------
    indices : ndarray of intp, shape (nq, min(k, n))
        Document rows, best first.
    scores : ndarray of float64, shape (nq, min(k, n))
        Their cosine similarities.
    """
    q = _vectors(query_vecs, "query_vecs")
    d = _vectors(doc_vecs, "doc_vecs")
    if q.shape[1] != d.shape[1]:
        raise ValueError(f"query_vecs have d={q.shape[1]} but doc_vecs have d={d.shape[1]}")
    for value, name in ((k, "k"), (query_chunk, "query_chunk"), (doc_chunk, "doc_chunk")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    n = len(d)
    if doc_ids is None:
        key = np.arange(n, dtype=np.int64)
    else:
        ids = _ids(doc_ids, n, "doc_ids")
        key = np.empty(n, dtype=np.int64)
        key[sorted(range(n), key=ids.__getitem__)] = np.arange(n)
    small = (np.float16, np.float32)
    work: type[np.floating[Any]] = (
        np.float32 if q.dtype in small and d.dtype in small else np.float64
    )
    inv_q = _inverse_norms(q, "query_vecs", doc_chunk).astype(work)
    inv_d = _inverse_norms(d, "doc_vecs", doc_chunk).astype(work)
    k = min(int(k), n)
    out_i = np.empty((len(q), k), dtype=np.intp)
    out_s = np.empty((len(q), k), dtype=np.float64)
    for a in range(0, len(q), query_chunk):
        qn: NDArray[np.floating[Any]] = np.asarray(q[a : a + query_chunk], dtype=work)
        qn = qn * inv_q[a : a + query_chunk, None]
        m = len(qn)
        best_i = np.empty((m, 0), dtype=np.intp)
        best_s: NDArray[np.floating[Any]] = np.empty((m, 0), dtype=work)
        for c in range(0, n, doc_chunk):
            block: NDArray[np.floating[Any]] = np.asarray(d[c : c + doc_chunk], dtype=work)
            s = qn @ block.T
            s *= inv_d[None, c : c + doc_chunk]
            if best_i.shape[1] == k:
                # only scores reaching a row's current k-th best can enter its list
                reach = s >= best_s[:, -1:]
                if reach.sum(axis=1).max() <= _PRUNE_FACTOR * k:
                    rows, cols = np.divmod(np.flatnonzero(reach), s.shape[1])
                    best_i, best_s = _merge(best_i, best_s, rows, cols + c, s[rows, cols], key, k)
                    continue
            idx, top = _block_topk(s, key[c : c + doc_chunk], k)
            best_i, best_s = _merge(
                best_i,
                best_s,
                np.repeat(np.arange(m), idx.shape[1]),
                idx.ravel() + c,
                top.ravel(),
                key,
                k,
            )
        out_i[a : a + query_chunk] = best_i
        out_s[a : a + query_chunk] = best_s
    return out_i, out_s
