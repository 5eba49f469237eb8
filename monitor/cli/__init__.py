"""``driftmon`` command line: the only place that parses argv and configures logging."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from monitor.cli.common import UsageError
from monitor.cli.parser import build_parser

__all__ = ["UsageError", "build_parser", "main"]


def _say(prog: str, message: str) -> None:
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop writing, no traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit cannot fail again
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return its exit status (2 for a user mistake)."""
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:
            raise UsageError(
                f"unrecognized arguments: {' '.join(extra)} (see '{args.command_prog} -h')",
                prog=args.command_prog,
            )
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        _say(exc.prog or "driftmon", str(exc))
        return 2
    from monitor.errors import MonitorError

    module, _, function = args.handler.partition(":")
    prog = getattr(args, "error_prog", "driftmon")
    try:
        result: int = getattr(importlib.import_module(f"monitor.cli.{module}"), function)(args)
        sys.stdout.flush()
        return result
    except UsageError as exc:
        _say(exc.prog or prog, str(exc))
        return 2
    except MonitorError as exc:
        _say(prog, str(exc))
        return 2
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        return 130
