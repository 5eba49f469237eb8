"""Retrieval quality on labelled canary queries: exact cosine search and trec_eval's measures.

Definitions, for one query with ranked list ``d_1, d_2, ...`` cut at ``depth`` ``D``,
grades ``rel(d)`` from the qrels, ``R`` = number of its documents with ``rel >= 1``
in the qrels (documents absent from the searched collection included), and
``g_i = max(rel(d_i), 0)`` (0 for an unjudged document):

==============  ============================================================  =================
key             value for one query                                           trec_eval name
==============  ============================================================  =================
precision@k     ``#{i <= k : rel(d_i) >= 1} / k``                             ``P_k``
recall@k        ``#{i <= k : rel(d_i) >= 1} / R``                             ``recall_k``
hit@k           1 if some ``i <= k`` has ``rel(d_i) >= 1``, else 0            ``success_k``
mrr@k           ``1 / i`` for the first relevant ``d_i`` with ``i <= k``      ``recip_rank``
                (0 if none)                                                   on a list cut at k
ndcg@k          ``DCG@k / IDCG@k``, ``DCG@k = sum_{i<=k} g_i / log2(i + 1)``  ``ndcg_cut_k``
                and ``IDCG@k`` the DCG of the query's judged grades sorted
                in descending order (0 when ``IDCG@k`` is 0)
map             ``(1 / R) sum_{i <= D, rel(d_i) >= 1} precision@i``           ``map`` with ``-M D``
judged@k        ``#{i <= k : d_i judged} / k``                                (ir_measures
                                                                              ``Judged@k``)
==============  ============================================================  =================

The nDCG discount ``log2(rank + 1)`` is trec_eval's since 9.0.4 (its 9.0 alphas
left rank 2 undiscounted). Documents with ``rel >= 1`` are relevant (trec_eval's
default relevance level);
``rel == 0`` is judged non-relevant; negative grades count as unjudged, as in
trec_eval. A list shorter than ``k`` (``k`` above the number of documents) is
padded with non-relevant, unjudged documents: precision and judged still divide
by ``k``. Reported values are means over the evaluated queries.

**MAP depth.** ``map`` uses the top ``D`` documents, ``D = max(100, max(ks))`` by
default, capped at the collection size; with ``D`` equal to the collection
size it is trec_eval's ``map`` on a full ranking. ``D`` is stored in the result.

**Ties.** trec_eval orders a query's documents by score descending, then by
document id *descending* in byte order (``strcmp``), ignoring the ranks of the
run file. :func:`search` and :func:`evaluate_run` do the same (Python's string
order equals ``strcmp`` on UTF-8 bytes); a tie is exact equality of the
computed float scores.

**Queries with no relevant document.** trec_eval (since 8.1) ignores queries
that have no qrels at all, but scores 0 on every measure for a query judged
with non-relevant documents only, and counts it in the mean. By default
(``no_relevant="skip"``) every query with ``R = 0`` is left out of the means
and counted in ``n_skipped_no_relevant``: such a query says nothing about
retrieval quality, and zeros would tie the means to how many of them the
canary set holds. ``no_relevant="zero"`` reproduces trec_eval exactly.

References
----------
trec_eval 10.0, measure documentation (``trec_eval -h -m all_trec``), NIST.
K. Järvelin and J. Kekäläinen, "Cumulated gain-based evaluation of IR
techniques", ACM TOIS 20(4), 2002. C. Buckley and E. Voorhees, "Retrieval
system evaluation", in *TREC: Experiment and Evaluation in Information
Retrieval*, MIT Press, 2005. A. Kusupati et al., "Matryoshka representation
learning", NeurIPS 2022.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import InsufficientDataError

__all__ = [
    "DEFAULT_CUTOFFS",
    "DEFAULT_DEPTH",
    "DEFAULT_KS",
    "RankMetrics",
    "RetrievalResult",
    "ScoreStats",
    "ScoreSummary",
    "evaluate",
    "evaluate_run",
    "matryoshka",
    "rank_metrics",
    "score_stats",
    "search",
]

Qrels = Mapping[str, Mapping[str, int]]
NoRelevant = Literal["skip", "zero"]

DEFAULT_KS = (1, 5, 10)
#: absolute cosine cut-offs whose top-1 pass rate is reported
DEFAULT_CUTOFFS = (0.3, 0.5, 0.7)
#: minimum ranked-list depth searched for ``map``
DEFAULT_DEPTH = 100
#: queries and documents per block: a block's scores and their temporaries
#: take about 16 bytes per entry (4 M entries, ~70 MB in float32)
QUERY_CHUNK = 512
DOC_CHUNK = 8192
#: a block where a row has more than this many times k candidates falls back to argpartition
_PRUNE_FACTOR = 4
_CUT_METRICS = ("recall", "precision", "ndcg", "mrr", "hit", "judged")
_QUANTILES = (
    ("min", 0.0),
    ("p05", 0.05),
    ("p25", 0.25),
    ("median", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
    ("max", 1.0),
)


@dataclass(frozen=True)
class ScoreSummary:
    """Distribution of one score over queries: quantiles (linear interpolation) and mean."""

    min: float
    p05: float
    p25: float
    median: float
    p75: float
    p95: float
    max: float
    mean: float


@dataclass(frozen=True)
class ScoreStats:
    """Top-1 and top-k cosine scores of a run: their drift needs no relevance judgements.

    ``pass_rates`` maps each cut-off ``c`` (formatted with ``:g``) to the share of
    queries whose top-1 score is ``>= c``. ``k`` is the rank of the ``topk`` score.
    """

    n_queries: int
    k: int
    top1: ScoreSummary
    topk: ScoreSummary
    pass_rates: dict[str, float]


@dataclass(frozen=True)
class RankMetrics:
    """Per-query measures of ranked lists: row ``i`` of ``values`` is ``query_ids[i]``.

    Only evaluated queries are present (see the module's rule for queries with no
    relevant document). ``names`` orders the columns.
    """

    query_ids: tuple[str, ...]
    names: tuple[str, ...]
    values: NDArray[np.float64]
    ks: tuple[int, ...]
    depth: int
    n_skipped_no_relevant: int
    n_missing_relevant: int

    def means(self) -> dict[str, float]:
        """Mean of each measure over the evaluated queries."""
        if not self.query_ids:
            raise InsufficientDataError("no query has a relevant document in the qrels")
        return {n: float(v) for n, v in zip(self.names, self.values.mean(axis=0), strict=True)}

    def per_query(self) -> dict[str, dict[str, float]]:
        """``{query id: {measure: value}}``."""
        return {
            q: {n: float(v) for n, v in zip(self.names, row, strict=True)}
            for q, row in zip(self.query_ids, self.values, strict=True)
        }


@dataclass(frozen=True)
class RetrievalResult:
    """Retrieval measures of one model version on a labelled canary set.

    ``metrics`` keys are ``"<measure>@<k>"`` for ``measure`` in recall, precision,
    ndcg, mrr, hit, judged and each ``k`` in ``ks``, plus ``"map"`` at ``depth``.
    ``n_queries`` queries are averaged; ``n_skipped_no_relevant`` were left out
    for having no relevant document; ``n_missing_relevant`` relevant judgements
    name documents absent from the collection (they count in ``R``, so cap recall).
    """

    ks: tuple[int, ...]
    depth: int
    metrics: dict[str, float]
    n_queries: int
    n_skipped_no_relevant: int
    n_missing_relevant: int
    no_relevant: str
    scores: ScoreStats | None
    per_query: dict[str, dict[str, float]] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, int | str) or len(ks) == 0:
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks!r}")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"ks must hold positive integers, got {k!r}")
    return tuple(sorted({int(k) for k in ks}))


def _check_choice(no_relevant: str) -> None:
    if no_relevant not in ("skip", "zero"):
        raise ValueError(f"no_relevant must be 'skip' or 'zero', got {no_relevant!r}")


def _vectors(x: ArrayLike, name: str) -> NDArray[np.floating[Any]]:
    arr = np.asarray(x)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d), got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr


def _ids(ids: Sequence[str], n: int, name: str) -> list[str]:
    out = [str(i) for i in ids]
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} ids for {n} rows")
    if len(set(out)) != n:
        raise ValueError(f"{name} holds duplicate ids")
    return out


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


def _judgements(
    query_ids: list[str],
    doc_ids: list[str],
    qrels: Qrels,
) -> tuple[NDArray[np.int64], NDArray[np.int64], list[list[int]], int, NDArray[np.bool_]]:
    """Sorted keys ``query row * n + doc row`` and their grades; positive grades per
    query (descending); relevant judgements of absent documents; whether in the qrels."""
    row = {d: i for i, d in enumerate(doc_ids)}
    by_query = {str(q): judged for q, judged in qrels.items()}
    keys: list[int] = []
    grades: list[int] = []
    positive: list[list[int]] = []
    missing = 0
    in_qrels = np.zeros(len(query_ids), dtype=bool)
    for qi, qid in enumerate(query_ids):
        judged = by_query.get(qid) or {}
        in_qrels[qi] = bool(judged)
        gains: list[int] = []
        for did, grade in judged.items():
            if isinstance(grade, bool) or not isinstance(grade, numbers.Integral):
                raise ValueError(f"qrels[{qid!r}][{did!r}] must be an integer grade, got {grade!r}")
            if grade > 0:
                gains.append(int(grade))
            di = row.get(str(did))
            if di is None:
                missing += int(grade > 0)
            else:
                keys.append(qi * len(doc_ids) + di)
                grades.append(int(grade))
        positive.append(sorted(gains, reverse=True))
    k = np.array(keys, dtype=np.int64)
    order = np.argsort(k)
    return k[order], np.array(grades, dtype=np.int64)[order], positive, missing, in_qrels


def rank_metrics(
    indices: ArrayLike,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    qrels: Qrels,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    no_relevant: NoRelevant = "skip",
) -> RankMetrics:
    """Per-query measures (module table) of given rankings.

    Parameters
    ----------
    indices : array_like of int, shape (nq, D)
        Row ``i`` ranks documents (rows of ``doc_ids``) for ``query_ids[i]``, best
        first; ``-1`` marks an empty slot (a list shorter than ``D``).
    query_ids, doc_ids : sequences of unique ids (compared as strings).
    qrels : mapping ``query id -> {doc id: integer grade}``
    ks : cut-offs.
    no_relevant : ``"skip"`` or ``"zero"``; see the module docstring.
    """
    ks = _check_ks(ks)
    _check_choice(no_relevant)
    idx = np.asarray(indices)
    if idx.ndim != 2 or idx.shape[1] == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be a 2-D integer array (nq, D), got {idx.shape}")
    qids = _ids(query_ids, len(idx), "query_ids")
    dids = [str(d) for d in doc_ids]
    if len(set(dids)) != len(dids):
        raise ValueError("doc_ids holds duplicate ids")
    if idx.size and (idx.min() < -1 or idx.max() >= len(dids)):
        raise ValueError(f"indices must lie in [-1, {len(dids)})")
    keys, grades, positive, missing, in_qrels = _judgements(qids, dids, qrels)
    nq, depth = idx.shape
    rel = np.full((nq, depth), -1, dtype=np.int64)  # below 0: unjudged or empty slot
    if len(keys):
        flat = np.arange(nq, dtype=np.int64)[:, None] * len(dids) + idx
        pos = np.minimum(np.searchsorted(keys, flat), len(keys) - 1)
        found = (keys[pos] == flat) & (idx >= 0)
        rel[found] = grades[pos[found]]
    num_rel = np.array([len(p) for p in positive])
    kmax = ks[-1]
    ideal = np.zeros((nq, kmax))
    for qi, gains in enumerate(positive):
        ideal[qi, : min(len(gains), kmax)] = gains[:kmax]
    relevant = rel >= 1
    disc = 1.0 / np.log2(np.arange(2, max(depth, kmax) + 2))
    hits = np.cumsum(relevant, axis=1)
    judged = np.cumsum(rel >= 0, axis=1)
    dcg = np.cumsum(np.maximum(rel, 0) * disc[:depth], axis=1)
    idcg = np.cumsum(ideal * disc[:kmax], axis=1)
    first = np.where(relevant.any(axis=1), relevant.argmax(axis=1) + 1, 0)
    r_safe = np.maximum(num_rel, 1)
    cols: dict[str, NDArray[np.float64]] = {}
    for k in ks:
        j = min(k, depth) - 1
        cols[f"recall@{k}"] = hits[:, j] / r_safe
        cols[f"precision@{k}"] = hits[:, j] / k
        cols[f"ndcg@{k}"] = np.divide(
            dcg[:, j], idcg[:, k - 1], out=np.zeros(nq), where=idcg[:, k - 1] > 0
        )
        cols[f"mrr@{k}"] = np.where((first > 0) & (first <= k), 1.0 / np.maximum(first, 1), 0.0)
        cols[f"hit@{k}"] = (hits[:, j] > 0).astype(np.float64)
        cols[f"judged@{k}"] = judged[:, j] / k
    precision_at = hits / np.arange(1, depth + 1)
    cols["map"] = np.where(relevant, precision_at, 0.0).sum(axis=1) / r_safe
    names = tuple(f"{m}@{k}" for m in _CUT_METRICS for k in ks) + ("map",)
    keep = num_rel > 0 if no_relevant == "skip" else in_qrels
    return RankMetrics(
        query_ids=tuple(q for q, kept in zip(qids, keep, strict=True) if kept),
        names=names,
        values=np.column_stack([cols[n] for n in names])[keep],
        ks=ks,
        depth=depth,
        n_skipped_no_relevant=int(nq - keep.sum()),
        n_missing_relevant=int(missing),
    )


def _summary(x: NDArray[np.float64]) -> ScoreSummary:
    q = np.quantile(x, [p for _, p in _QUANTILES])
    values = {name: float(v) for (name, _), v in zip(_QUANTILES, q, strict=True)}
    return ScoreSummary(**values, mean=float(x.mean()))


def score_stats(
    scores: ArrayLike, *, k: int | None = None, cutoffs: Sequence[float] = DEFAULT_CUTOFFS
) -> ScoreStats:
    """Distribution of the top-1 and top-``k`` scores of a run, and top-1 cut-off pass rates.

    Parameters
    ----------
    scores : array_like, shape (nq, D)
        Sorted scores per query, best first (as returned by :func:`search`).
    k : int, optional
        Rank of the ``topk`` score, capped at ``D``; default ``D``.
    cutoffs : absolute cosine cut-offs.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape or not np.isfinite(s).all():
        raise ValueError(f"scores must be a finite non-empty (nq, D) array, got {s.shape}")
    kk = s.shape[1] if k is None else min(int(k), s.shape[1])
    if kk < 1:
        raise ValueError(f"k must be positive, got {k!r}")
    top1 = s[:, 0]
    return ScoreStats(
        n_queries=len(s),
        k=kk,
        top1=_summary(top1),
        topk=_summary(s[:, kk - 1]),
        pass_rates={f"{float(c):g}": float(np.mean(top1 >= c)) for c in cutoffs},
    )


def evaluate(
    query_vecs: ArrayLike,
    doc_vecs: ArrayLike,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    qrels: Qrels,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
    depth: int | None = None,
    no_relevant: NoRelevant = "skip",
    per_query: bool = False,
    query_chunk: int = QUERY_CHUNK,
    doc_chunk: int = DOC_CHUNK,
) -> RetrievalResult:
    """Search the canary documents with the canary queries and score the rankings.

    Parameters
    ----------
    query_vecs : array_like, shape (nq, d)
    doc_vecs : array_like, shape (n, d)
    query_ids, doc_ids : sequences of unique ids, one per row (compared as strings).
    qrels : mapping ``query id -> {doc id: integer grade}``
        Queries of the qrels that are not in ``query_ids`` are ignored.
    ks : cut-offs of the @k measures.
    cutoffs : absolute cosine cut-offs for the top-1 pass rates.
    depth : int, optional
        Ranked-list depth for ``map`` (default ``max(100, max(ks))``), capped at ``n``.
    no_relevant : ``"skip"`` (default) or ``"zero"`` (trec_eval); see the module docstring.
    per_query : bool
        Also return every evaluated query's measures.
    query_chunk, doc_chunk : block shape of :func:`search`.

    Returns
    -------
    RetrievalResult
        ``scores`` covers every query, including those left out of the means.

    Raises
    ------
    InsufficientDataError
        No query is evaluated (none has a relevant document in the qrels).
    """
    ks = _check_ks(ks)
    q = _vectors(query_vecs, "query_vecs")
    d = _vectors(doc_vecs, "doc_vecs")
    qids = _ids(query_ids, len(q), "query_ids")
    dids = _ids(doc_ids, len(d), "doc_ids")
    if depth is None:
        depth = max(DEFAULT_DEPTH, ks[-1])
    elif isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    idx, scores = search(
        q, d, max(int(depth), ks[-1]), doc_ids=dids, query_chunk=query_chunk, doc_chunk=doc_chunk
    )
    ranked = rank_metrics(idx, qids, dids, qrels, ks=ks, no_relevant=no_relevant)
    return RetrievalResult(
        ks=ks,
        depth=ranked.depth,
        metrics=ranked.means(),
        n_queries=len(ranked.query_ids),
        n_skipped_no_relevant=ranked.n_skipped_no_relevant,
        n_missing_relevant=ranked.n_missing_relevant,
        no_relevant=no_relevant,
        scores=score_stats(scores, k=ks[-1], cutoffs=cutoffs),
        per_query=ranked.per_query() if per_query else None,
    )


def evaluate_run(
    run: Mapping[str, Mapping[str, float]],
    qrels: Qrels,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    depth: int | None = None,
    no_relevant: NoRelevant = "skip",
    per_query: bool = False,
) -> RetrievalResult:
    """Score a run given as ``{query id: {doc id: score}}``, exactly as trec_eval would.

    Each query's documents are ordered by score descending, then doc id
    descending, and cut at ``depth`` (default: keep all, like trec_eval's ``-M``).
    Queries of the run are evaluated; qrels queries absent from the run are
    ignored (trec_eval without ``-c``). ``scores`` of the result is ``None`` and
    ``n_missing_relevant`` 0 (a run names no collection to be absent from).
    """
    ks = _check_ks(ks)
    if not run:
        raise InsufficientDataError("the run holds no query")
    qids = [str(q) for q in run]
    ranked = [
        [
            str(d)
            for d, _ in sorted(
                ((str(d), float(s)) for d, s in run[q].items()),
                key=lambda t: (t[1], t[0]),
                reverse=True,
            )
        ]
        for q in run
    ]
    width = max([len(r) for r in ranked] + [1])
    if depth is not None:
        width = max(1, min(width, int(depth)))
    dids = sorted({d for r in ranked for d in r})
    row = {d: i for i, d in enumerate(dids)}
    idx = np.full((len(qids), width), -1, dtype=np.int64)
    for i, r in enumerate(ranked):
        idx[i, : min(len(r), width)] = [row[d] for d in r[:width]]
    out = rank_metrics(idx, qids, dids, qrels, ks=ks, no_relevant=no_relevant)
    return RetrievalResult(
        ks=ks,
        depth=out.depth,
        metrics=out.means(),
        n_queries=len(out.query_ids),
        n_skipped_no_relevant=out.n_skipped_no_relevant,
        n_missing_relevant=0,
        no_relevant=no_relevant,
        scores=None,
        per_query=out.per_query() if per_query else None,
    )


def matryoshka(
    query_vecs: ArrayLike,
    doc_vecs: ArrayLike,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    qrels: Qrels,
    *,
    dims: Sequence[int] = (64, 128, 256),
    ks: Sequence[int] = DEFAULT_KS,
    cutoffs: Sequence[float] = DEFAULT_CUTOFFS,
    depth: int | None = None,
    no_relevant: NoRelevant = "skip",
    query_chunk: int = QUERY_CHUNK,
    doc_chunk: int = DOC_CHUNK,
) -> dict[int, RetrievalResult]:
    """:func:`evaluate` on the first ``m`` dimensions of every vector, for each ``m``.

    Truncated vectors are renormalised (cosine on the prefix), which is how a
    Matryoshka-trained model is meant to be served at a smaller size. The full
    dimension ``d`` is always evaluated too. Keys are the dimensions, ascending;
    a requested ``m > d`` raises ``ValueError``.
    """
    q = _vectors(query_vecs, "query_vecs")
    d = _vectors(doc_vecs, "doc_vecs")
    full = q.shape[1]
    wanted = set()
    for m in dims:
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or not 1 <= m <= full:
            raise ValueError(f"dims must be integers in [1, {full}], got {m!r}")
        wanted.add(int(m))
    wanted.add(full)
    return {
        m: evaluate(
            q[:, :m],
            d[:, :m],
            query_ids,
            doc_ids,
            qrels,
            ks=ks,
            cutoffs=cutoffs,
            depth=depth,
            no_relevant=no_relevant,
            query_chunk=query_chunk,
            doc_chunk=doc_chunk,
        )
        for m in sorted(wanted)
    }
