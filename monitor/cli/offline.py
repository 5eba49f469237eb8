"""``driftmon canary diff`` and ``driftmon retrieval eval``: offline checks on files of vectors.

Exit status of ``canary diff``: 0 when the current vectors are unchanged or
differ only within the tolerance (verdict ``noise``), 1 when they changed
(verdict ``changed``: dimension, mean norm, or too many items below the
tolerance), 2 on error. ``retrieval eval``: 0, or 2 on error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from monitor.cli.common import UsageError
from monitor.inputs import load_matrix, qrels_by_query, read_ids, read_qrels

if TYPE_CHECKING:
    from monitor.stats.canary import CanaryComparison
    from monitor.stats.retrieval import RetrievalResult, ScoreSummary

__all__ = ["cmd_canary_diff", "cmd_retrieval_eval"]

CANARY_PROG = "driftmon canary diff"
RETRIEVAL_PROG = "driftmon retrieval eval"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _canary_text(c: CanaryComparison, baseline: str, current: str) -> str:
    lines = [
        f"{CANARY_PROG}: {baseline} vs {current}: {c.n_items} items, "
        f"d={c.dim_baseline}" + (f" -> {c.dim_current}" if c.dim_current != c.dim_baseline else ""),
        f"verdict: {c.verdict.upper()}",
        f"cosine: min {c.min_cosine:.6f}  p01 {c.p01_cosine:.6f}  mean {c.mean_cosine:.6f}",
        f"tolerance {c.tolerance:.6f}: {c.share_below:.1%} of items below",
        f"mean norm ratio (current / baseline): {c.norm_ratio:.4f}",
    ]
    lines += [f"reason: {r}" for r in c.reasons]
    return "\n".join(lines)


def cmd_canary_diff(args: argparse.Namespace) -> int:
    """``driftmon canary diff BASELINE CURRENT [--json] [--floor F] [--min-cosine C]``."""
    from monitor.stats.canary import compare_to_baseline

    if not 0.0 <= args.floor <= 1.0:
        raise UsageError(f"--floor must be in [0, 1], got {args.floor:g}")
    if not -1.0 <= args.min_cosine <= 1.0:
        raise UsageError(f"--min-cosine must be in [-1, 1], got {args.min_cosine:g}")
    baseline = load_matrix(args.baseline, "baseline")
    current = load_matrix(args.current, "current")
    if len(baseline) != len(current):
        raise UsageError(
            f"baseline has {len(baseline)} rows but current has "
            f"{len(current)}; rows must be the same items"
        )
    try:
        result = compare_to_baseline(
            baseline, current, floor=args.floor, min_cosine=args.min_cosine
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    code = 1 if result.verdict == "changed" else 0
    if args.json:
        doc = {"baseline": args.baseline, "current": args.current, **result.to_dict()}
        _out(json.dumps({**doc, "exit_code": code}))
    else:
        _out(_canary_text(result, args.baseline, args.current))
    return code


def _numbers(text: str, cast: Callable[[str], Any], flag: str) -> list[Any]:
    try:
        values = [cast(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise UsageError(f"{flag} names no value")
    return values


def _summary_line(label: str, s: ScoreSummary) -> str:
    return (
        f"{label:<14} min {s.min:.4f}  p05 {s.p05:.4f}  p25 {s.p25:.4f}  median "
        f"{s.median:.4f}  p75 {s.p75:.4f}  p95 {s.p95:.4f}  max {s.max:.4f}  mean {s.mean:.4f}"
    )


def _retrieval_text(r: RetrievalResult, nq: int, n_docs: int, dim: int, unknown: int) -> str:
    lines = [
        f"{RETRIEVAL_PROG}: {nq} queries x {n_docs} documents, d={dim}, depth {r.depth}",
        f"evaluated {r.n_queries} queries; {r.n_skipped_no_relevant} left out "
        f"(no relevant document, rule '{r.no_relevant}')",
    ]
    if r.n_missing_relevant:
        lines.append(
            f"note: {r.n_missing_relevant} relevant judgement(s) name documents "
            "absent from --docs (they count as relevant, not retrieved)"
        )
    if unknown:
        lines.append(
            f"note: {unknown} query id(s) of the qrels are not among the query ids (ignored)"
        )
    lines.append("")
    lines.append(f"{'':<10}" + "".join(f"{'@' + str(k):>9}" for k in r.ks))
    for name in ("recall", "precision", "ndcg", "mrr", "hit", "judged"):
        lines.append(f"{name:<10}" + "".join(f"{r.metrics[f'{name}@{k}']:>9.4f}" for k in r.ks))
    lines.append(f"map (depth {r.depth}): {r.metrics['map']:.4f}")
    s = r.scores
    assert s is not None  # evaluate() always measures the scores
    lines += [
        "",
        _summary_line("top-1 score", s.top1),
        _summary_line(f"top-{s.k} score", s.topk),
        "top-1 score >= " + "   >= ".join(f"{c}: {v:.1%}" for c, v in s.pass_rates.items()),
    ]
    return "\n".join(lines)


def _ids(path: str | None, n: int, what: str) -> list[str]:
    return read_ids(path, n, what) if path else [str(i) for i in range(n)]


def cmd_retrieval_eval(args: argparse.Namespace) -> int:
    """``driftmon retrieval eval --queries Q --docs D --qrels FILE [options]``."""
    from monitor.stats import InsufficientDataError
    from monitor.stats.retrieval import evaluate

    ks = _numbers(args.k, int, "--k")
    cutoffs = _numbers(args.cutoffs, float, "--cutoffs")
    queries = load_matrix(args.queries, "queries")
    docs = load_matrix(args.docs, "docs")
    if queries.shape[1] != docs.shape[1]:
        raise UsageError(f"queries have d={queries.shape[1]} but docs have d={docs.shape[1]}")
    qids = _ids(args.query_ids, len(queries), "query ids")
    dids = _ids(args.doc_ids, len(docs), "doc ids")
    qrels = qrels_by_query(read_qrels(args.qrels))
    known = set(dids)
    if not any(d in known for judged in qrels.values() for d in judged):
        raise UsageError(
            f"none of the document ids in {args.qrels} is among the document ids (see --doc-ids)"
        )
    try:
        result = evaluate(
            queries,
            docs,
            qids,
            dids,
            qrels,
            ks=ks,
            cutoffs=cutoffs,
            depth=args.depth,
            no_relevant=args.no_relevant,
        )
    except InsufficientDataError as exc:
        raise UsageError(f"{exc} (do the query ids match the qrels? see --query-ids)") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    unknown = len(set(qrels) - set(qids))
    if args.json:
        files = {"queries": args.queries, "docs": args.docs, "qrels": args.qrels}
        shape = {"n_query_rows": len(queries), "n_docs": len(docs), "dim": int(queries.shape[1])}
        _out(json.dumps({**files, **shape, "n_qrels_queries_unknown": unknown, **result.to_dict()}))
    else:
        _out(_retrieval_text(result, len(queries), len(docs), queries.shape[1], unknown))
    return 0
