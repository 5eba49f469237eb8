"""``driftmon embed``: embed stdin lines (or a canary set) with one configured model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from monitor.cli.common import UsageError, settings

if TYPE_CHECKING:
    import numpy as np

    from monitor.config import Settings

__all__ = ["cmd_embed"]

PROG = "driftmon embed"


def _read_lines(stream: IO[str]) -> list[str]:
    """Every line of ``stream`` (UTF-8), without its line ending; one text per line."""
    buffer = getattr(stream, "buffer", None)
    text = buffer.read().decode("utf-8") if buffer is not None else stream.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _write_jsonl(out: IO[str], vectors: np.ndarray, failed: frozenset[int]) -> None:
    import json

    for i, row in enumerate(vectors):
        embedding = None if i in failed else row.tolist()
        out.write(json.dumps({"index": i, "embedding": embedding}) + "\n")


def _texts(args: argparse.Namespace, cfg: Settings) -> tuple[list[str], list[str]]:
    """The texts to embed and their ids (a canary set's ids, or line numbers from 0)."""
    if args.canary_set is None:
        try:
            texts = _read_lines(sys.stdin)
        except UnicodeDecodeError:
            raise UsageError("standard input is not UTF-8 text") from None
        return texts, [str(i) for i in range(len(texts))]
    from monitor.inputs import read_canary_set

    sets = {c.name: c for c in cfg.canary_sets}
    if args.canary_set not in sets:
        raise UsageError(f"no canary set named {args.canary_set!r} in [[canary_sets]]")
    items, _ = read_canary_set(sets[args.canary_set].path)
    chosen = [(key, text) for key, kind, text in items if kind == args.kind]
    if not chosen:
        raise UsageError(f"canary set {args.canary_set!r} has no {args.kind} items")
    return [text for _, text in chosen], [key for key, _ in chosen]


def _write(args: argparse.Namespace, vectors: np.ndarray, failed: frozenset[int]) -> None:
    import numpy as np

    try:
        if args.format == "npy":
            np.save(args.output, vectors)
        elif args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                _write_jsonl(fh, vectors, failed)
        else:
            _write_jsonl(sys.stdout, vectors, failed)
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None


def cmd_embed(args: argparse.Namespace) -> int:
    """Run ``driftmon embed``; 0 on success, 1 if some texts failed, 2 on a mistake."""
    from monitor.errors import ProviderError
    from monitor.providers import build_provider

    if args.format == "npy" and not args.output:
        raise UsageError("--output is required with --format npy")
    if args.output and Path(args.output).is_dir():
        raise UsageError(f"--output {args.output} is a folder")
    cfg = settings(args)
    texts, ids = _texts(args, cfg)
    provider = build_provider(cfg.model(args.model))
    try:
        result = provider.embed(texts, args.kind)
    except ProviderError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        provider.close()
    _write(args, result.vectors, result.failed)
    if args.ids:
        try:
            Path(args.ids).write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.ids}: {exc.strerror or exc}") from None
    if result.failed:
        first = sorted(result.failed)[:10]
        more = " ..." if len(result.failed) > 10 else ""
        sys.stderr.write(
            f"{PROG}: warning: {len(result.failed)} of {len(texts)} "
            f"{'lines' if args.canary_set is None else 'items'} were not "
            f"embedded (indices {', '.join(map(str, first))}{more}); their rows "
            f"are {'zero' if args.format == 'npy' else 'null'}\n"
        )
        return 1
    return 0
