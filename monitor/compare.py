"""``driftmon compare REF CUR``: run the drift suite on two files of embeddings.

Exit status follows ``diff``: 0 no drift (or too little data to tell),
1 drift, 2 error (one ``driftmon compare: error: ...`` line on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
from numpy.typing import NDArray

from monitor.stats import ALL_TESTS, DEFAULT_TESTS, SuiteResult, run_suite

__all__ = ["CompareError", "load_embeddings", "main"]

PROG = "driftmon compare"
_NPY_MAGIC = b"\x93NUMPY"


class CompareError(Exception):
    """A user error: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CompareError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Test whether the embeddings in CUR differ in distribution from those in REF. "
            "Each file is a .npy array of shape (n, d) or JSON lines with an 'embedding' field. "
            "Exit status: 0 no drift (or insufficient data), 1 drift, 2 error."
        ),
    )
    parser.add_argument("ref", metavar="REF", help="reference embeddings (.npy or .jsonl)")
    parser.add_argument("cur", metavar="CUR", help="current embeddings (.npy or .jsonl)")
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="false-alarm rate of the combined verdict (default: 0.01)",
    )
    parser.add_argument(
        "--permutations",
        type=int,
        default=1000,
        help="maximum permutations per permutation test (default: 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--tests",
        action="append",
        metavar="NAMES",
        help=f"comma-separated subset of tests to run (default: all of {', '.join(DEFAULT_TESTS)}; "
        f"available: {', '.join(ALL_TESTS)}); may be repeated",
    )
    parser.add_argument(
        "--min-samples",
        type=int,
        default=50,
        help="minimum rows per side below which the verdict is 'insufficient_data' (default: 50)",
    )
    parser.add_argument("--no-explain", action="store_true", help="skip the cluster explanation")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _load_jsonl(path: Path) -> NDArray[np.float64]:
    rows: list[list[float]] = []
    dim: int | None = None
    try:
        with path.open("r", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CompareError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from exc
                if not isinstance(record, dict) or "embedding" not in record:
                    raise CompareError(f"{path}: line {lineno}: no 'embedding' field")
                vec = record["embedding"]
                if not isinstance(vec, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec
                ):
                    raise CompareError(
                        f"{path}: line {lineno}: 'embedding' must be a list of numbers"
                    )
                if dim is None:
                    dim = len(vec)
                elif len(vec) != dim:
                    raise CompareError(
                        f"{path}: line {lineno}: embedding has {len(vec)} values, "
                        f"expected {dim} like line 1"
                    )
                rows.append(vec)
    except UnicodeDecodeError as exc:
        raise CompareError(f"{path}: not a UTF-8 JSON-lines file or .npy array") from exc
    if not rows:
        raise CompareError(f"{path}: no embeddings found")
    return np.asarray(rows, dtype=np.float64)


def load_embeddings(path: str | Path) -> NDArray[np.float64]:
    """Read an (n, d) float array from a ``.npy`` file or JSON lines with ``embedding``.

    Raises
    ------
    CompareError
        The file is missing, unreadable or malformed (message names the file).
    """
    p = Path(path)
    try:
        with p.open("rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
    except FileNotFoundError as exc:
        raise CompareError(f"{p}: no such file") from exc
    except IsADirectoryError as exc:
        raise CompareError(f"{p}: is a directory") from exc
    except OSError as exc:
        raise CompareError(f"{p}: cannot read ({exc.strerror})") from exc
    if magic == _NPY_MAGIC:
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise CompareError(f"{p}: unreadable .npy file ({exc})") from exc
        if arr.ndim != 2:
            raise CompareError(f"{p}: expected a 2-D array (n, d), got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise CompareError(f"{p}: expected a numeric array, got dtype {arr.dtype}")
        return np.asarray(arr, dtype=np.float64)
    return _load_jsonl(p)


def _tests(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [t.strip() for v in values for t in v.split(",") if t.strip()]
    unknown = [t for t in names if t not in ALL_TESTS]
    if unknown:
        raise CompareError(f"unknown test {unknown[0]!r} (available: {', '.join(ALL_TESTS)})")
    if not names:
        raise CompareError("--tests names no test")
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


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 no drift, 1 drift, 2 error)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except CompareError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        tests = _tests(args.tests)
        ref = load_embeddings(args.ref)
        cur = load_embeddings(args.cur)
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
    except (CompareError, ValueError) as exc:
        message = str(exc).replace("\n", " ")
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{PROG}: error: out of memory; try smaller inputs", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(_table(result, args.ref, args.cur))
    return 1 if result.drift else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
