"""``driftmon canary diff`` and ``driftmon retrieval eval``: offline checks on files of vectors.

Exit status of ``canary diff``: 0 when the current vectors are unchanged, differ
only within the tolerance (verdict ``noise``), or changed with a ``benign``
impact (retrieval on the set unaffected); 1 for a ``breaking`` change; 2 on error.
``retrieval eval``: 0, or 2 on error. Errors: one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from monitor.stats._checks import InsufficientDataError
from monitor.stats.canary import GradedComparison, compare_and_grade
from monitor.stats.retrieval import DEFAULT_CUTOFFS, RetrievalResult, ScoreSummary, evaluate

__all__ = [
    "UsageError",
    "canary_diff_main",
    "load_matrix",
    "read_ids",
    "read_qrels",
    "retrieval_eval_main",
]

CANARY_PROG = "driftmon canary diff"
RETRIEVAL_PROG = "driftmon retrieval eval"
_QRELS_HEADER = ["query_id", "doc_id", "relevance"]


class UsageError(Exception):
    """A user error: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _run(
    prog: str,
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    body: Callable[[argparse.Namespace], int],
) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        return _fail(prog, str(exc))
    try:
        return body(args)
    except InsufficientDataError as exc:
        return _fail(prog, f"{exc} (do the query ids match the qrels?)")
    except (UsageError, ValueError) as exc:
        return _fail(prog, str(exc))


def _fail(prog: str, message: str) -> int:
    sys.stderr.write(f"{prog}: error: {' '.join(message.split())}\n")
    return 2


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{what} file {path} is a directory") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror}") from None


def load_matrix(path: str, what: str) -> NDArray[Any]:
    """A finite, non-empty (n, d) numeric array from a ``.npy`` file, or :class:`UsageError`."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{what} file {path} is a directory") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UsageError(f"{what} file {path} is not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise UsageError(f"{what} file {path} is an .npz archive; expected one .npy array")
    if arr.ndim != 2 or 0 in arr.shape:
        raise UsageError(
            f"{what} file {path} must hold a non-empty 2-D array (n, d), got shape {arr.shape}"
        )
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise UsageError(f"{what} file {path} must hold real numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise UsageError(f"{what} file {path} contains NaN or inf values")
    return arr


def read_ids(path: str, n_rows: int, what: str) -> list[str]:
    """One id per line, as many as ``n_rows``, unique and non-empty."""
    lines = _read_text(path, what).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    ids = [line.strip() for line in lines]
    for lineno, key in enumerate(ids, 1):
        if not key:
            raise UsageError(f"{path}:{lineno}: empty id")
    if len(ids) != n_rows:
        raise UsageError(f"{what} file {path} has {len(ids)} ids for {n_rows} rows")
    seen: set[str] = set()
    for lineno, key in enumerate(ids, 1):
        if key in seen:
            raise UsageError(f"{path}:{lineno}: duplicate id {key!r}")
        seen.add(key)
    return ids


def read_qrels(path: str) -> dict[str, dict[str, int]]:
    """Judgements from TREC qrels (``qid iter docid rel``) or a TSV with header
    ``query_id doc_id relevance``; a (query, doc) pair may appear once."""
    lines = [
        (n, line)
        for n, line in enumerate(_read_text(path, "qrels").splitlines(), 1)
        if line.strip()
    ]
    if not lines:
        raise UsageError(f"qrels file {path} holds no judgement")
    tsv = lines[0][1].split() == _QRELS_HEADER
    out: dict[str, dict[str, int]] = {}
    for lineno, line in lines[1:] if tsv else lines:
        parts = line.split("\t") if tsv and "\t" in line else line.split()
        parts = [p.strip() for p in parts]
        if len(parts) != (3 if tsv else 4):
            raise UsageError(
                f"{path}:{lineno}: expected "
                f"{'query_id<TAB>doc_id<TAB>relevance' if tsv else 'qid 0 docid rel'}"
            )
        qid, did, grade = (parts[0], parts[1], parts[2]) if tsv else (parts[0], parts[2], parts[3])
        try:
            rel = int(grade)
        except ValueError:
            raise UsageError(f"{path}:{lineno}: relevance {grade!r} is not an integer") from None
        judged = out.setdefault(qid, {})
        if did in judged:
            raise UsageError(f"{path}:{lineno}: duplicate judgement of {did!r} for {qid!r}")
        judged[did] = rel
    return out


def _canary_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=CANARY_PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Compare a canary set's current embeddings with its baseline, row i being item\n"
            "i in both, and grade a change by its impact on retrieval over the set.\n"
            "verdict: unchanged | noise | changed; impact of a change: benign (each row keeps\n"
            ">= 95% of its top-10 among the baseline rows on average, no score moved beyond\n"
            "its noise) | breaking (otherwise; always for a dimension or norm change).\n"
            "exit status: 0 unchanged, noise or benign change; 1 breaking change; 2 error"
        ),
    )
    parser.add_argument("baseline", metavar="BASELINE", help="baseline embeddings (.npy, n x d)")
    parser.add_argument("current", metavar="CURRENT", help="current embeddings (.npy, n x d')")
    parser.add_argument(
        "--floor",
        type=float,
        default=1.0,
        help="noise floor: lowest per-item cosine "
        "between repeated baseline embeddings (default: 1, deterministic)",
    )
    parser.add_argument(
        "--repeat",
        metavar="FILE",
        help="the set embedded again at baseline time (.npy): the endpoint's own noise, "
        "widening the tolerance and each measure's allowed move (as the daemon does)",
    )
    parser.add_argument(
        "--min-cosine",
        type=float,
        default=0.999,
        help="per-item cosine below which an item counts as moved (default: 0.999)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _canary_text(r: GradedComparison, baseline: str, current: str) -> str:
    c, grade = r.comparison, r.grade
    lines = [
        f"{CANARY_PROG}: {baseline} vs {current}: {c.n_items} items, "
        f"d={c.dim_baseline}" + (f" -> {c.dim_current}" if c.dim_current != c.dim_baseline else ""),
        f"verdict: {c.verdict.upper()}",
        f"cosine: min {c.min_cosine:.6f}  p01 {c.p01_cosine:.6f}  mean {c.mean_cosine:.6f}",
        f"tolerance {c.tolerance:.6f}: {c.share_below:.1%} of items below",
        f"mean norm ratio (current / baseline): {c.norm_ratio:.4f}",
    ]
    lines += [f"reason: {r}" for r in c.reasons]
    if grade is not None:
        lines.append(f"impact: {grade.impact.upper()}")
        if grade.overlap is not None:
            lines.append(f"top-10 overlap, old vs new vectors: {grade.overlap:.3f}")
        lines += [f"impact reason: {r}" for r in grade.reasons]
    return "\n".join(lines)


def canary_diff_main(argv: list[str] | None = None) -> int:
    """``driftmon canary diff BASELINE.npy CURRENT.npy [--json] [--floor F] [--min-cosine C]``."""

    def body(args: argparse.Namespace) -> int:
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
        repeat = load_matrix(args.repeat, "repeat") if args.repeat else None
        if repeat is not None and repeat.shape != baseline.shape:
            raise UsageError(f"repeat has shape {repeat.shape}, baseline {baseline.shape}")
        result = compare_and_grade(
            baseline, current, repeat=repeat, floor=args.floor, min_cosine=args.min_cosine
        )
        code = 1 if result.breaking else 0
        if args.json:
            paths = {"baseline": args.baseline, "current": args.current, "repeat": args.repeat}
            _out(json.dumps({**paths, **result.to_dict(), "exit_code": code}))
        else:
            _out(_canary_text(result, args.baseline, args.current))
        return code

    return _run(CANARY_PROG, _canary_parser(), argv, body)


def _numbers(text: str, cast: Callable[[str], Any], flag: str) -> list[Any]:
    try:
        values = [cast(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise UsageError(f"{flag} names no value")
    return values


def _retrieval_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=RETRIEVAL_PROG,
        description=(
            "Search the canary documents with the canary queries (exact cosine) and print "
            "recall, precision, nDCG, MRR, hit rate and judged share at each k, MAP, and the "
            "top-1 / top-k score distribution. Exit status: 0 done, 2 error."
        ),
    )
    parser.add_argument("--queries", required=True, help="query embeddings (.npy, nq x d)")
    parser.add_argument("--docs", required=True, help="document embeddings (.npy, n x d)")
    parser.add_argument(
        "--qrels",
        required=True,
        help="judgements: TREC qrels 'qid 0 docid rel' or a TSV with header "
        "'query_id doc_id relevance'",
    )
    parser.add_argument(
        "--query-ids",
        help="file with one query id per line, in row order (default: row numbers 0, 1, ...)",
    )
    parser.add_argument(
        "--doc-ids",
        help="file with one document id per line, in row order (default: row numbers 0, 1, ...)",
    )
    parser.add_argument("--k", default="1,5,10", help="cut-offs (default: 1,5,10)")
    parser.add_argument(
        "--depth",
        type=int,
        default=None,
        help="ranked-list depth for MAP (default: max(100, max k))",
    )
    parser.add_argument(
        "--cutoffs",
        default=",".join(f"{c:g}" for c in DEFAULT_CUTOFFS),
        help="top-1 cosine cut-offs whose pass rate is reported (default: 0.3,0.5,0.7)",
    )
    parser.add_argument(
        "--no-relevant",
        choices=["skip", "zero"],
        default="skip",
        help="queries without a relevant document: leave out of the means "
        "(skip, default) or score 0 as trec_eval does (zero)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


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


def retrieval_eval_main(argv: list[str] | None = None) -> int:
    """``driftmon retrieval eval --queries Q.npy --docs D.npy --qrels FILE [options]``."""

    def body(args: argparse.Namespace) -> int:
        ks = _numbers(args.k, int, "--k")
        cutoffs = _numbers(args.cutoffs, float, "--cutoffs")
        queries = load_matrix(args.queries, "queries")
        docs = load_matrix(args.docs, "docs")
        if queries.shape[1] != docs.shape[1]:
            raise UsageError(f"queries have d={queries.shape[1]} but docs have d={docs.shape[1]}")
        qids = (
            read_ids(args.query_ids, len(queries), "query ids")
            if args.query_ids
            else [str(i) for i in range(len(queries))]
        )
        dids = (
            read_ids(args.doc_ids, len(docs), "doc ids")
            if args.doc_ids
            else [str(i) for i in range(len(docs))]
        )
        qrels = read_qrels(args.qrels)
        known = set(dids)
        if not any(d in known for judged in qrels.values() for d in judged):
            raise UsageError(
                f"none of the document ids in {args.qrels} is among the document "
                "ids (see --doc-ids)"
            )
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
        unknown = len(set(qrels) - set(qids))
        if args.json:
            _out(
                json.dumps(
                    {
                        "queries": args.queries,
                        "docs": args.docs,
                        "qrels": args.qrels,
                        "n_query_rows": len(queries),
                        "n_docs": len(docs),
                        "dim": int(queries.shape[1]),
                        "n_qrels_queries_unknown": unknown,
                        **result.to_dict(),
                    }
                )
            )
        else:
            _out(_retrieval_text(result, len(queries), len(docs), queries.shape[1], unknown))
        return 0

    return _run(RETRIEVAL_PROG, _retrieval_parser(), argv, body)
