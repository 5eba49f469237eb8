"""What the report-page tests share with their conftest (a module name no other folder uses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServedDemo:
    """A running ``driftmon demo --serve`` and the pages it printed."""

    folder: Path
    base: str  # http://127.0.0.1:PORT
    drift_url: str
    canary_url: str
    output: str
