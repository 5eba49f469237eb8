"""The layout's promises that import-linter cannot see."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from monitor.cli import build_parser
from monitor.config import ScheduleSettings
from monitor.jobs.registry import JOB_NAMES
from monitor.jobs.runner import JOBS


def test_the_cli_does_not_load_the_heavy_libraries() -> None:
    """``import monitor.cli`` stays cheap: no SciPy, NumPy, SQLAlchemy, httpx."""
    heavy = ("scipy", "numpy", "sqlalchemy", "httpx", "prometheus_client", "apscheduler")
    code = f"import sys, monitor.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_one_list_of_job_names() -> None:
    """The runner's table, the schedule keys and the CLI's choices all follow the registry."""
    assert tuple(JOBS) == JOB_NAMES
    durations = {"misfire_grace", "jitter"}
    keys = [f.name for f in dataclasses.fields(ScheduleSettings) if f.name not in durations]
    assert keys == list(JOB_NAMES)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    job = next(a for a in sub.choices["run-once"]._actions if a.dest == "job")  # type: ignore[index]
    assert list(job.choices) == [*JOB_NAMES, "cycle"]
