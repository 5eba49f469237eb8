"""`driftmon demo` keeps its promise: quiet when stable, loud on drift and model change."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.demo import run_demo


@pytest.mark.slow
def test_demo_reports_every_phase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(tmp_path / "demo") == 0
    out = capsys.readouterr().out
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "no_drift" in rows["stable, hour 1"] and "no_drift" in rows["stable, hour 2"]
    assert "drift " in rows["topic drift, hour 2"].replace("no_drift", "")
    assert "changed" in rows["silent model change"]
    assert "EmbeddingSilentModelChange (firing)" in out
    assert "0 rejected" in out and "UNEXPECTED" not in out
    assert "driftmon_drift_detected{" in out
    # the demo's own webhook received signed alerts; the folder keeps config and database
    assert (tmp_path / "demo" / "driftmon.toml").is_file()
    assert (tmp_path / "demo" / "driftmon-demo.db").is_file()
