"""Run the installed console script as a user would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import DRIFTMON


def driftmon(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTMON_")}
    return subprocess.run(
        [DRIFTMON, *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The problem lines of a refused config: exit 2, no traceback, every line prefixed."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    # a note (no config found, defaults used) may come first; every other line is a problem
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("driftmon: note: ")]
    assert lines and all(line.startswith("driftmon: error: ") for line in lines), proc.stderr
    return [line[len("driftmon: error: ") :] for line in lines]
