"""``driftmon embed``: embed the lines of stdin with one configured model (.npy or JSON lines)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, NoReturn

import numpy as np

from monitor.config import load_settings
from monitor.errors import ConfigError, ProviderError
from monitor.providers import build_provider

__all__ = ["main"]

PROG = "driftmon embed"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Embed the lines of standard input with one model "
        "from the config. Exit 0 on success, 1 if the provider failed (or some "
        "lines failed), 2 on a usage or configuration error.",
    )
    p.add_argument("--config", required=True, metavar="FILE", help="driftmon TOML config")
    p.add_argument("--model", required=True, metavar="NAME", help="name of a [[models]] entry")
    p.add_argument(
        "--kind",
        required=True,
        choices=["query", "document"],
        help="embed as queries or as documents (prefixes, input_type)",
    )
    p.add_argument(
        "--format", choices=["npy", "jsonl"], default="jsonl", help="output format (default: jsonl)"
    )
    p.add_argument(
        "--output", metavar="PATH", help="output file (required for npy; jsonl defaults to stdout)"
    )
    return p


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return code


def _read_lines(stream: IO[str]) -> list[str]:
    """Every line of ``stream`` (UTF-8), without its line ending; one text per line."""
    buffer = getattr(stream, "buffer", None)
    text = buffer.read().decode("utf-8") if buffer is not None else stream.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _write_jsonl(out: IO[str], vectors: np.ndarray, failed: frozenset[int]) -> None:
    for i, row in enumerate(vectors):
        embedding = None if i in failed else row.tolist()
        out.write(json.dumps({"index": i, "embedding": embedding}) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run ``driftmon embed``; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        return _fail(str(exc), 2)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.format == "npy" and not args.output:
        return _fail("--output is required with --format npy", 2)
    try:
        texts = _read_lines(sys.stdin)
    except UnicodeDecodeError:
        return _fail("standard input is not UTF-8 text", 2)
    try:
        provider = build_provider(load_settings(args.config).model(args.model))
    except ConfigError as exc:
        return _fail(str(exc), 2)
    try:
        result = provider.embed(texts, args.kind)
    except ProviderError as exc:
        return _fail(str(exc), 1)
    finally:
        provider.close()
    try:
        if args.format == "npy":
            np.save(args.output, result.vectors)
        elif args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                _write_jsonl(fh, result.vectors, result.failed)
        else:
            _write_jsonl(sys.stdout, result.vectors, result.failed)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}", 2)
    if result.failed:
        first = sorted(result.failed)[:10]
        more = " ..." if len(result.failed) > 10 else ""
        sys.stderr.write(
            f"{PROG}: warning: {len(result.failed)} of {len(texts)} lines were not "
            f"embedded (indices {', '.join(map(str, first))}{more}); their rows "
            f"are {'zero' if args.format == 'npy' else 'null'}\n"
        )
        return 1
    return 0
