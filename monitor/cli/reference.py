"""The README's Commands table, generated from the parser (``python -m monitor.cli.reference``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from monitor.cli.parser import build_parser

__all__ = ["commands", "commands_table"]


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands(
    parser: argparse.ArgumentParser | None = None,
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every runnable command as (``driftmon a b``, its parser), in the tree's order."""
    root = parser or build_parser()
    for child in _children(root).values():
        if child.get_default("handler"):
            yield child.prog, child
        yield from commands(child)


def _synopsis(parser: argparse.ArgumentParser) -> str:
    usage = " ".join(parser.format_usage().split())
    return usage.removeprefix("usage: ").replace(" [-h]", "")


def commands_table() -> list[str]:
    """The Markdown table: each command with every argument it accepts, and what it does."""
    lines = ["| command | what it does |", "|---|---|"]
    for _, parser in commands():
        lines.append(f"| `{_synopsis(parser)}` | {parser.description} |")
    return lines


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(commands_table()))
