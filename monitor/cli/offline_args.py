"""Arguments of the commands that work on files alone: compare, retrieval eval, embed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["add_offline_commands"]


def add_offline_commands(sub: Any, cmd: Callable[..., Any], json_flag: Callable[..., None]) -> None:
    """Add ``compare``, ``retrieval eval`` and ``embed`` to the tree."""
    from monitor.cli.parser import COMPARE_TESTS, Parser

    p = cmd(
        sub,
        "compare",
        "compare:cmd_compare",
        "two-sample drift tests on two embedding files (.npy, or JSON lines with an "
        "'embedding' field); exit 0 no drift or too little data, 1 drift, 2 error",
        config=False,
    )
    p.set_defaults(error_prog=p.prog)
    p.add_argument("ref", metavar="REF", help="reference embeddings (.npy or .jsonl)")
    p.add_argument("cur", metavar="CUR", help="current embeddings (.npy or .jsonl)")
    p.add_argument("--alpha", type=float, default=0.01, help="false-alarm rate (default: 0.01)")
    p.add_argument(
        "--permutations", type=int, default=1000, help="permutations per test (default: 1000)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--tests",
        action="append",
        metavar="NAMES",
        help=f"comma-separated tests to run, repeatable (available: {COMPARE_TESTS}; "
        "default: all but cvm)",
    )
    p.add_argument(
        "--min-samples",
        type=int,
        default=50,
        help="rows per side below which the verdict is insufficient_data (default: 50)",
    )
    p.add_argument("--no-explain", action="store_true", help="skip the cluster explanation")
    json_flag(p)

    rsub = sub.add_parser("retrieval", help="retrieval metrics", description="retrieval metrics")
    rsub = rsub.add_subparsers(
        dest="retrieval_command", required=True, metavar="ACTION", parser_class=Parser
    )
    p = cmd(
        rsub,
        "eval",
        "offline:cmd_retrieval_eval",
        "recall/precision/nDCG/MRR@k, MAP, hit rate and judged@k of embeddings on qrels",
        config=False,
    )
    p.set_defaults(error_prog=p.prog)
    p.add_argument("--queries", metavar="Q.npy", required=True, help="query embeddings")
    p.add_argument("--docs", metavar="D.npy", required=True, help="document embeddings")
    p.add_argument(
        "--qrels",
        metavar="FILE",
        required=True,
        help="TREC qrels 'qid 0 docid rel' or a TSV with header 'query_id doc_id relevance'",
    )
    p.add_argument("--query-ids", metavar="FILE", help="one query id per row (default: 0, 1, …)")
    p.add_argument("--doc-ids", metavar="FILE", help="one document id per row (default: 0, 1, …)")
    p.add_argument("--k", metavar="K,…", default="1,5,10", help="cut-offs (default: 1,5,10)")
    p.add_argument("--depth", type=int, help="ranked-list depth for MAP (default: max(100, k))")
    p.add_argument(
        "--cutoffs",
        metavar="C,…",
        default="0.3,0.5,0.7",
        help="top-1 cosine cut-offs whose pass rate is reported (default: 0.3,0.5,0.7)",
    )
    p.add_argument(
        "--no-relevant",
        choices=["skip", "zero"],
        default="skip",
        help="queries without a relevant document: leave out (skip) or score 0 (zero)",
    )
    json_flag(p)

    p = cmd(
        sub,
        "embed",
        "embed:cmd_embed",
        "embed the lines of stdin (or a configured canary set) with a configured model; "
        "exit 1 if the provider failed for some texts",
    )
    p.set_defaults(error_prog=p.prog)
    p.add_argument("--model", metavar="NAME", required=True, help="a [[models]] entry")
    p.add_argument("--kind", required=True, choices=["query", "document"], help="what to embed")
    p.add_argument(
        "--canary-set",
        metavar="NAME",
        help="embed this configured canary set's items of --kind instead of stdin",
    )
    p.add_argument("--format", choices=["npy", "jsonl"], default="jsonl", help="default: jsonl")
    p.add_argument("--output", metavar="PATH", help="output file (required for npy)")
    p.add_argument("--ids", metavar="PATH", help="write the id of each row, one per line")
