"""Top-1 cosine similarity of every pooled row to the reference sample.

Reference rows get their leave-one-out nearest reference neighbour (``n - 1``
candidates). So that a current row's score has exactly the same distribution
under "no drift", each current row also sees ``n - 1`` candidates: one
uniformly random reference row is left out (its second-best neighbour is used
when the left-out row was its best). The pooled scores are then identically
distributed under the null, which the novelty test relies on.

Identically distributed is not exchangeable: mutual nearest neighbours in
``ref`` share one score, so a permutation test over the whole score
distribution would be anti-conservative. For that use a split is provided
too: ``ref`` is halved at random into an index half ``A`` and a held-out half
``B``; rows of ``B`` and of ``cur`` are scored against ``A`` only, which makes
their scores i.i.d. under the null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.stats._workspace import STREAM_NEIGHBOURS, Workspace

__all__ = ["Neighbours", "gram_for_neighbours", "neighbours"]

_ROWS = 1024


@dataclass(frozen=True)
class Neighbours:
    """Nearest-reference-neighbour cosine similarities.

    Attributes
    ----------
    ref_score : ndarray, shape (n,)
        Leave-one-out top-1 cosine of each ref row to the other ref rows.
    cur_score : ndarray, shape (m,)
        Top-1 cosine of each cur row to ref with one random ref row left out.
    cur_top1 : ndarray, shape (m,)
        Plain top-1 cosine of each cur row to ref.
    cur_nearest : ndarray of int, shape (m,)
        Index into ref of each cur row's nearest ref row.
    held_out : ndarray of int, shape (n // 2,)
        Indices into ref of the held-out half ``B``.
    held_out_score : ndarray, shape (n // 2,)
        Top-1 cosine of each ``B`` row to the index half ``A``.
    cur_split_score : ndarray, shape (m,)
        Top-1 cosine of each cur row to ``A``.
    """

    ref_score: NDArray[np.float64]
    cur_score: NDArray[np.float64]
    cur_top1: NDArray[np.float64]
    cur_nearest: NDArray[np.intp]
    held_out: NDArray[np.intp]
    held_out_score: NDArray[np.float64]
    cur_split_score: NDArray[np.float64]


def _scan(
    rows: range, sims: Any, n_ref: int, n_index: int, position: NDArray[np.intp]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp], NDArray[np.float64]]:
    """Top-1, top-2, argmax and top-1 over the index half for a block of pooled rows.

    ``sims(rows)`` has the ref columns reordered with the index half first;
    ``position[i]`` is the column of ref row ``i``. Returned argmax is a column.
    """
    s = sims(rows)
    split = s[:, :n_index].max(axis=1).astype(np.float64)
    local = np.arange(s.shape[0])
    self_rows = np.arange(rows.start, min(rows.stop, n_ref))
    if self_rows.size:  # leave-one-out for ref rows
        s[self_rows - rows.start, position[self_rows]] = -np.inf
    arg = np.argmax(s, axis=1)
    top1 = s[local, arg].astype(np.float64)
    if s.shape[1] > 1:
        s[local, arg] = -np.inf
        top2 = s.max(axis=1).astype(np.float64)
    else:
        top2 = np.full(s.shape[0], -1.0)
    return top1, top2, arg, split


def neighbours(ws: Workspace) -> Neighbours:
    """Nearest-reference-neighbour similarities of ``ws`` (cached).

    Uses the pooled Gram matrix if the workspace holds one (a single stratum),
    else blocks of ``unit @ unit_ref.T``. Cost ``O(N n d)``, memory
    ``O(1024 n)`` beyond the Gram matrix.
    """
    return ws.cached("neighbours", lambda: _compute(ws))


def _compute(ws: Workspace) -> Neighbours:
    n = ws.n_ref
    inv = ws.inv_norms.astype(ws.dtype)
    index_half, held_out = ws.ref_split
    cols = np.concatenate([index_half, held_out])  # index half first: a contiguous slice
    position = np.empty(n, dtype=np.intp)
    position[cols] = np.arange(n)
    gram = ws.get("gram")
    if gram is not None:
        # the Gram matrix is of the centred rows y = z - mu:
        # z_i'z_j = y_i'y_j + h_i + h_j with h_i = y_i'mu + mu'mu / 2 = z_i'mu - mu'mu / 2
        mu = ws.mean
        half = (ws.pooled @ mu.astype(ws.dtype) - 0.5 * float(mu @ mu)).astype(ws.dtype)

        half_cols, inv_cols = half[cols], inv[cols]

        def sims(rows: range) -> Any:
            lo, hi = rows.start, rows.stop
            s = np.take(gram[lo:hi], cols, axis=1)  # C order, unlike gram[lo:hi][:, cols]
            s += half[lo:hi, None]
            s += half_cols[None, :]
            s *= inv[lo:hi, None]
            s *= inv_cols[None, :]
            return s

    else:
        unit = ws.unit
        unit_ref_t = unit[cols].T  # BLAS reads the transpose in place

        def sims(rows: range) -> Any:
            return unit[rows.start : rows.stop] @ unit_ref_t

    top1 = np.empty(ws.n)
    top2 = np.empty(ws.n)
    split = np.empty(ws.n)
    arg = np.empty(ws.n, dtype=np.intp)
    for lo in range(0, ws.n, _ROWS):
        rows = range(lo, min(lo + _ROWS, ws.n))
        hi = rows.stop
        top1[lo:hi], top2[lo:hi], arg[lo:hi], split[lo:hi] = _scan(
            rows, sims, n, index_half.size, position
        )
    arg = cols[arg]  # columns back to ref row indices
    for a in (top1, top2, split):
        np.clip(a, -1.0, 1.0, out=a)
    left_out = ws.rng(STREAM_NEIGHBOURS).integers(0, n, size=ws.n_cur)
    cur_arg = arg[n:]
    cur_score = np.where(left_out == cur_arg, top2[n:], top1[n:])
    if n == 1:
        cur_score = np.full(ws.n_cur, -1.0)
    return Neighbours(
        ref_score=top1[:n],
        cur_score=cur_score,
        cur_top1=top1[n:],
        cur_nearest=cur_arg,
        held_out=held_out,
        held_out_score=split[held_out],
        cur_split_score=split[n:],
    )


def gram_for_neighbours(ws: Workspace) -> None:
    """Compute and keep the centred pooled Gram matrix so neighbours and kernels share it."""
    if ws.single_stratum and not ws.has("gram"):
        z = ws.centred_rows(np.arange(ws.n))
        ws.put("gram", z @ z.T)
