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

from monitor.stats.retrieval.judgements import DEFAULT_KS, NoRelevant, Qrels
from monitor.stats.retrieval.measures import (
    DEFAULT_DEPTH,
    RankMetrics,
    RetrievalResult,
    evaluate,
    evaluate_run,
    matryoshka,
    rank_metrics,
)
from monitor.stats.retrieval.scores import DEFAULT_CUTOFFS, ScoreStats, ScoreSummary, score_stats
from monitor.stats.retrieval.search import DOC_CHUNK, QUERY_CHUNK, search

__all__ = [
    "DEFAULT_CUTOFFS",
    "DEFAULT_DEPTH",
    "DEFAULT_KS",
    "DOC_CHUNK",
    "NoRelevant",
    "QUERY_CHUNK",
    "Qrels",
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
