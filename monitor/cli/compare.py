"""``driftmon compare REF CUR``: run the drift suite on two files of embeddings.

Exit status follows ``diff``: 0 no drift (or too little data to tell),
1 drift, 2 error (one ``driftmon compare: error: ...`` line on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from monitor.cli.common import UsageError
from monitor.inputs import load_matrix

if TYPE_CHECKING:
    from monitor.stats import SuiteResult

__all__ = ["cmd_compare"]

PROG = "driftmon compare"


def _tests(values: Sequence[str] | None) -> list[str] | None:
    from monitor.stats import ALL_TESTS

    if not values:
        return None
    names = [t.strip() for v in values for t in v.split(",") if t.strip()]
    unknown = [t for t in names if t not in ALL_TESTS]
    if unknown:
        raise UsageError(f"unknown test {unknown[0]!r} (available: {', '.join(ALL_TESTS)})")
    if not names:
        raise UsageError("--tests names no test")
    return names


def _fmt(value: float | None, width: int = 10) -> str:
    if value is None or not math.isfinite(value):
        return "-".rjust(width)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}".rjust(width)
    return f"{value:.4f}".rjust(width)


def _table(result: SuiteResult, ref: str, cur: str) -> str:
    lines = [
        f"{PROG}: {ref} (n={result.n_ref}) vs {cur} (n={result.n_cur}), d={result.dim}, "
        f"alpha={result.alpha:g}, seed={result.seed}",
        f"verdict: {result.verdict.upper().replace('_', ' ')}  (policy {result.policy}"
        + (f": {result.method['description']})" if result.method else ")"),
    ]
    if not result.tests:
        lines.append("too few rows on a side (see --min-samples); no test was run")
        return "\n".join(lines)
    lines.append("")
    lines.append(
        f"{'test':<22}{'statistic':>10} {'p-value':>10} {'threshold':>10}  "
        f"{'drift':<6}{'effect':>9}  meaning of effect"
    )
    for name, t in result.tests.items():
        flag = ("yes" if t.drift else "no") + ("*" if t.details.get("in_verdict") else "")
        lines.append(
            f"{name:<22}{_fmt(t.statistic)} {_fmt(t.p_value)} {_fmt(t.threshold)}  "
            f"{flag:<6}{_fmt(t.effect, 9)}  {t.effect_label}"
        )
    lines.append("* decides the verdict (Holm-adjusted); other rows are per-test diagnostics")
    ex = result.explanation
    if ex is not None:
        lines.append("")
        lines.append(
            f"explanation: {ex.k} reference clusters (chi-square p={ex.p_value:.3g}), "
            f"{ex.novel_share:.1%} of cur novel, {len(ex.emerging)} emerging group(s)"
        )
        for c in ex.changed:
            ratio = "new" if c.ratio is None else f"x{c.ratio:.2f}"
            lines.append(
                f"  cluster {c.cluster} {c.status}: {c.ref_share:.1%} -> {c.cur_share:.1%} "
                f"({ratio}); cur examples {list(c.cur_examples)}, "
                f"ref examples {list(c.ref_examples)}"
            )
        for g in ex.emerging:
            lines.append(
                f"  emerging group {g.group}: {g.size} points ({g.share:.1%}), "
                f"max cosine to ref {g.max_cosine_to_ref:.2f}; cur examples {list(g.cur_examples)}"
            )
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    """Entry point; returns the exit status (0 no drift, 1 drift, 2 error)."""
    from monitor.stats import run_suite

    tests = _tests(args.tests)
    ref = load_matrix(args.ref, "ref")
    cur = load_matrix(args.cur, "cur")
    try:
        result = run_suite(
            ref,
            cur,
            alpha=args.alpha,
            n_permutations=args.permutations,
            seed=args.seed,
            tests=tests,
            min_samples=args.min_samples,
            explain=not args.no_explain,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except MemoryError:
        raise UsageError("out of memory; try smaller inputs") from None
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(_table(result, args.ref, args.cur))
    return 1 if result.drift else 0
