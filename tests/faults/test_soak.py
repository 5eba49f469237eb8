"""Drift under heavy ingest on PostgreSQL: zero failed drift runs, flat resources.

Runs ``benchmarks/soak.py`` (a real daemon, real HTTP ingest from two threads,
a 300-sample reservoir replaced on every batch, drift every 5 s): 25 s in the
regular suite, 3 minutes when slow tests run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import require_postgres

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def _soak(seconds: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(SOAK), "--db", require_postgres(), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 400,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _check(report: dict[str, object]) -> None:
    runs: dict[str, int] = report["job_runs"]  # type: ignore[assignment]
    assert runs.get("drift:failed", 0) == 0, report["failed_errors"]
    assert runs.get("drift:ok", 0) >= 1, runs
    assert report["tracebacks"] == 0 and report["exit_code"] == 0
    assert set(report["ingest"]) == {"202"}, report["ingest"]  # type: ignore[arg-type]
    samples: list[dict[str, float]] = report["samples"]  # type: ignore[assignment]
    assert max(s["pg"] for s in samples) <= 7  # pool_size 5 + overflow headroom
    assert max(s["fds"] for s in samples) <= 64


@pytest.mark.postgres
def test_short_soak_has_no_failed_drift_run() -> None:
    _check(_soak(25))


@pytest.mark.postgres
@pytest.mark.slow
def test_three_minute_soak_has_no_failed_drift_run() -> None:
    _check(_soak(180))
