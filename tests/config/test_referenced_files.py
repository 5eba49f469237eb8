"""`config check` reads the files the config refers to, as promtool does."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_support import driftmon, error_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def config(tmp_path: Path, canary: str, qrels: str, source: str = "queries.jsonl") -> Path:
    (tmp_path / "queries.jsonl").touch()
    f = tmp_path / "c.toml"
    f.write_text(
        f"[[canary_sets]]\nname = 'core'\npath = '{canary}'\nqrels = '{qrels}'\n"
        f"[[sources]]\nname = 'log'\npath = '{source}'\n"
    )
    return f


def test_missing_and_broken_canary_files(tmp_path: Path) -> None:
    (line,) = error_lines(driftmon("config", "check", str(config(tmp_path, "nope.jsonl", ""))))
    assert line.startswith("canary_sets[0] (core): canary set file ") and "does not exist" in line
    shutil.copy(EXAMPLES / "canaries" / "core.jsonl", tmp_path / "core.jsonl")
    (line,) = error_lines(
        driftmon("config", "check", str(config(tmp_path, "core.jsonl", "missing.qrels")))
    )
    assert "qrels file" in line and "does not exist" in line
    (tmp_path / "bad.qrels").write_text("q-does-not-exist 0 d1 1\n")
    (line,) = error_lines(
        driftmon("config", "check", str(config(tmp_path, "core.jsonl", "bad.qrels")))
    )
    assert line.startswith("canary_sets[0] (core): ") and "bad.qrels" in line


def test_good_files_pass_and_an_empty_glob_is_a_warning(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "canaries" / "core.jsonl", tmp_path / "core.jsonl")
    shutil.copy(EXAMPLES / "canaries" / "core.qrels", tmp_path / "core.qrels")
    proc = driftmon(
        "config", "check", str(config(tmp_path, "core.jsonl", "core.qrels", "logs/*.jsonl"))
    )
    assert proc.returncode == 0, proc.stderr
    warning, valid = proc.stderr.strip().splitlines()
    assert (
        warning.startswith("driftmon: warning: sources[0].path: ") and "matches no file" in warning
    )
    assert valid.endswith(": valid")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("")
    proc = driftmon(
        "config", "check", str(config(tmp_path, "core.jsonl", "core.qrels", "logs/*.jsonl"))
    )
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_the_quickstart_example_checks_clean() -> None:
    proc = driftmon("config", "check", str(EXAMPLES / "quickstart.toml"))
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
