"""The config package's front door and its place at the bottom of the layers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import monitor.config
from monitor.config import DRIFT_TESTS
from monitor.stats.suite import ALL_TESTS

MONITOR = Path(monitor.config.__file__).resolve().parents[1]


def test_all_is_what_the_package_exports() -> None:
    public = {n for n in vars(monitor.config) if not n.startswith("_")}
    modules = {
        "checks",
        "convert",
        "cron",
        "describe",
        "loader",
        "masking",
        "retention",
        "rules",
        "settings",
        "values",
    }
    assert set(monitor.config.__all__) == public - modules - {"annotations"}


def test_drift_test_names_match_the_suite() -> None:
    assert DRIFT_TESTS == ALL_TESTS


def test_config_imports_only_the_standard_library() -> None:
    code = (
        "import sys, monitor.config; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'numpy', 'scipy', 'sqlalchemy', 'apscheduler', 'httpx', 'prometheus_client'} "
        "or m.startswith('monitor.stats')); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_the_loader_reads_the_environment() -> None:
    readers = sorted(
        str(p.relative_to(MONITOR))
        for p in MONITOR.rglob("*.py")
        if re.search(r"os\.environ|getenv\(", p.read_text())
    )
    assert readers == ["config/loader.py"]


def test_config_modules_are_small() -> None:
    for p in (MONITOR / "config").glob("*.py"):
        assert len(p.read_text().splitlines()) < 400, p.name
