"""User mistakes on the command line: one line naming the problem, exit 2, never a traceback.

Every case runs the installed ``driftmon`` console script in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support import DRIFTMON, require_postgres
from support import MIGRATIONS_HEAD as HEAD

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def driftmon(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRIFTMON, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=180,
    )


def one_line(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert expected in proc.stderr, proc.stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "ex", ignore=shutil.ignore_patterns("*.db*"))
    return tmp_path / "ex" / "quickstart.toml"


def test_busy_server_port_is_one_line(quickstart: Path, busy_port: int) -> None:
    cfg = quickstart.read_text().replace("127.0.0.1:9108", f"127.0.0.1:{busy_port}")
    quickstart.write_text(cfg)
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    proc = driftmon("run", "-c", str(quickstart))
    one_line(proc, f"driftmon: error: server.listen 127.0.0.1:{busy_port}: address already in use")


def test_demo_checks_its_listen_port_before_running(tmp_path: Path, busy_port: int) -> None:
    proc = driftmon("demo", "--serve", "--listen", f"127.0.0.1:{busy_port}", "--dir", str(tmp_path))
    one_line(proc, f"--listen 127.0.0.1:{busy_port}: address already in use")
    assert proc.stdout == "" and not (tmp_path / "driftmon-demo.db").exists()


def test_demo_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    one_line(driftmon("demo", "--dir", str(tmp_path / "a-file")), "is not a folder")


def test_upgrade_on_a_database_newer_than_the_code(quickstart: Path) -> None:
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    with sqlite3.connect(quickstart.parent / "quickstart.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0009'")
    proc = driftmon("db", "upgrade", "-c", str(quickstart))
    one_line(proc, f"is at revision 0009, newer than this driftmon's {HEAD}")
    assert f"driftmon db downgrade {HEAD}" in proc.stderr
    assert f"driftmon db downgrade {HEAD}" in driftmon("run", "-c", str(quickstart)).stderr


def test_downgrade_then_upgrade(quickstart: Path) -> None:
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    down = driftmon("db", "downgrade", "0004", "-c", str(quickstart))
    assert down.returncode == 0 and f"{HEAD} -> 0004" in down.stdout, down.stderr
    one_line(driftmon("db", "check", "-c", str(quickstart)), f"behind the code's {HEAD}")
    one_line(driftmon("db", "downgrade", "9999", "-c", str(quickstart)), "'9999' is not one")
    assert f"0004 -> {HEAD}" in driftmon("db", "upgrade", "-c", str(quickstart)).stdout


def test_json_into_a_closed_pipe_ends_quietly(quickstart: Path) -> None:
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    assert driftmon("run-once", "cycle", "-c", str(quickstart)).returncode == 0
    for reader in ("head -1", "true"):  # 'true' has gone before driftmon writes a byte
        proc = subprocess.run(
            ["bash", "-c", f"'{DRIFTMON}' status --json -c '{quickstart}' | {reader}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.stderr == "", proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["status"], id="status"),
        pytest.param(["alerts", "list"], id="alerts-list"),
        pytest.param(["canary", "list"], id="canary-list"),
        pytest.param(["canary", "show", "core"], id="canary-show"),
        pytest.param(["drift", "show"], id="drift-show"),
        pytest.param(["db", "current"], id="db-current"),
    ],
)
def test_read_only_commands_never_create_a_database(tmp_path: Path, args: list[str]) -> None:
    proc = driftmon(*args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    note, error = proc.stderr.splitlines()
    assert note.startswith("driftmon: note: no config given (no -c, $DRIFTMON_CONFIG unset")
    assert error.startswith("driftmon: error: "), error
    assert "does not exist" in error or "no canary set named 'core'" in error, error
    assert list(tmp_path.iterdir()) == []


def test_empty_database_hints_what_to_run(quickstart: Path) -> None:
    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    assert "driftmon run-once cycle" in driftmon("status", "-c", str(quickstart)).stdout
    assert "no drift run yet" in driftmon("drift", "show", "-c", str(quickstart)).stdout
    assert "(no alerts yet)" in driftmon("alerts", "list", "-c", str(quickstart)).stdout
    one_line(driftmon("drift", "show", "7", "-c", str(quickstart)), "no drift run with id 7")


def test_drift_show_json_has_tests_and_explanation(quickstart: Path) -> None:
    import json

    assert driftmon("db", "upgrade", "-c", str(quickstart)).returncode == 0
    assert driftmon("run-once", "cycle", "-c", str(quickstart)).returncode == 0
    doc = json.loads(driftmon("drift", "show", "--json", "-c", str(quickstart)).stdout)
    assert doc["verdict"] == "drift" and doc["policy"] == "maxt-permutation"
    assert [f["test"] for f in doc["verdict_family"]] == ["combined"]
    assert all(0 <= t["p_value"] <= 1 for t in doc["tests"].values() if t["p_value"] is not None)
    emerging = doc["explanation"]["emerging"]
    assert emerging and all(g["examples"] for g in emerging)
    again = driftmon("drift", "run", "--model", "prod", "-c", str(quickstart))
    assert again.returncode == 0 and "drift: ok" in again.stdout, again.stderr
    one_line(driftmon("drift", "run", "--model", "nope", "-c", str(quickstart)), "no model named")


def test_npy_without_a_numpy_header(tmp_path: Path) -> None:
    (tmp_path / "a.npy").write_text("hello\n")
    np.save(tmp_path / "b.npy", np.ones((60, 4)))
    proc = driftmon("compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"))
    one_line(proc, "not a .npy array (no NumPy header) nor JSON lines")
    assert proc.stderr.startswith("driftmon compare: error: ref file ")


def test_options_first_and_unknown_options_name_the_command(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.standard_normal((60, 4)))
    proc = driftmon("compare", "--json", "--permutations", "50", *(str(tmp_path / "a.npy"),) * 2)
    assert proc.returncode == 0 and proc.stdout.startswith("{"), proc.stderr
    one_line(driftmon("compare", "--frob", "x", "y"), "driftmon compare: error: unrecognized")
    one_line(driftmon("frobnicate"), "driftmon: error: argument COMMAND: invalid choice")


def test_wrong_postgres_database_name_is_not_unreachable(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(require_postgres()).set(database="driftmon_no_such_db")
    cfg = tmp_path / "pg.toml"
    cfg.write_text(f"[database]\nurl = '{url.render_as_string(hide_password=False)}'\n")
    proc = driftmon("db", "upgrade", "-c", str(cfg))
    where = f"{url.host}:{url.port or 5432}"
    one_line(proc, f"database driftmon_no_such_db does not exist on {where} (create it first)")
