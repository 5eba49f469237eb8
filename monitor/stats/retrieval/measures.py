"""trec_eval's measures of ranked lists, and whole evaluations (search + measures + scores)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from monitor.stats._checks import InsufficientDataError
from monitor.stats.retrieval.judgements import (
    DEFAULT_KS,
    NoRelevant,
    Qrels,
    _check_choice,
    _check_ks,
    _ids,
    _judgements,
)
from monitor.stats.retrieval.scores import DEFAULT_CUTOFFS, ScoreStats, score_stats
from monitor.stats.retrieval.search import DOC_CHUNK, QUERY_CHUNK, _vectors, search

__all__ = [
    "DEFAULT_DEPTH",
    "RankMetrics",
    "RetrievalResult",
    "evaluate",
    "evaluate_run",
    "matryoshka",
    "rank_metrics",
]

#: minimum ranked-list depth searched for ``map``
DEFAULT_DEPTH = 100
_CUT_METRICS = ("recall", "precision", "ndcg", "mrr", "hit", "judged")


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
