"""Helpers of the source tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from monitor.config import Settings, load_settings


def write_settings(folder: Path, db_url: str, body: str) -> Settings:
    """Settings from a TOML file in ``folder``: the agent's database plus ``body``."""
    path = folder / "driftmon.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n' + textwrap.dedent(body))
    return load_settings(path)
