"""What ``driftmon config check`` verifies beyond the settings: the files they refer to.

Like ``promtool check config``: each canary set and its qrels must exist and parse
(read by the same reader the canary job uses); a source glob that matches no file
is a warning, since log files may appear later.
"""

from __future__ import annotations

import csv
import glob
from dataclasses import dataclass, field

from monitor.config import Settings
from monitor.errors import InputError
from monitor.inputs import read_canary_set

__all__ = ["FileReport", "check_files"]


@dataclass(frozen=True)
class FileReport:
    """Problems (exit 2) and warnings (exit 0) about referenced files, one line each."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_files(settings: Settings) -> FileReport:
    """Read every canary set and qrels file; look for files behind every jsonl source glob."""
    report = FileReport()
    for i, c in enumerate(settings.canary_sets):
        where = f"canary_sets[{i}] ({c.name})"
        try:
            read_canary_set(c.path, c.qrels)
        except InputError as exc:
            report.problems.append(f"{where}: {exc}")
        except (OSError, UnicodeError, ValueError, RecursionError, csv.Error) as exc:
            report.problems.append(f"{where}: {c.path} cannot be read ({type(exc).__name__})")
    for i, src in enumerate(settings.sources):
        if src.kind != "jsonl" or not src.path:
            continue
        try:
            matched = glob.glob(src.path, recursive=True)
        except (OSError, ValueError):
            matched = []
        if not matched:
            report.warnings.append(
                f"sources[{i}].path: {src.path!r} matches no file yet (source {src.name!r})"
            )
    return report
