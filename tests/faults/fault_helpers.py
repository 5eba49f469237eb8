"""Helpers of the fault tests: the installed ``driftmon`` run as a subprocess, configs on disk."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from support import DRIFTMON


def write_config(folder: Path, db_url: str, body: str) -> Path:
    path = folder / "driftmon.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n' + textwrap.dedent(body))
    return path


def driftmon(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``driftmon ARGS``; the result keeps stdout and stderr as text."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTMON_")}
    full_env.update(env or {})
    return subprocess.run(
        [DRIFTMON, *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def assert_clean(done: subprocess.CompletedProcess[str]) -> None:
    """No traceback and no crash, whatever the exit code."""
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    assert done.returncode in (0, 1, 2), out
