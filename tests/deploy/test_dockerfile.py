"""The Dockerfile: exec-form entry point, non-root, Python HEALTHCHECK, variables the
agent reads. (Images cannot be built here: no registry for base images. The
HEALTHCHECK command itself is run against a real daemon in test_traffic.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from deploy_support import ROOT, agent_variables

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def healthcheck_command() -> list[str]:
    (hc,) = [rest for word, rest in instructions() if word == "HEALTHCHECK"]
    cmd: list[str] = json.loads(hc[hc.index("CMD") + 3 :])
    return cmd


def test_runtime_stage_runs_driftmon_in_exec_form_as_non_root() -> None:
    ins = instructions()
    froms = [i for i, (w, _) in enumerate(ins) if w == "FROM"]
    assert len(froms) == 2, "multi-stage: a build stage and a runtime stage"
    runtime = ins[froms[1] :]
    (entry,) = [json.loads(r) for w, r in runtime if w == "ENTRYPOINT"]
    (cmd,) = [json.loads(r) for w, r in runtime if w == "CMD"]
    assert entry == ["driftmon"] and cmd[0] == "run"
    (user,) = [r for w, r in runtime if w == "USER"]
    assert user not in {"root", "0"}
    assert any(w == "COPY" and "--from=build" in r for w, r in runtime)
    assert healthcheck_command()[0] == "python"
    assert not any("curl" in r for w, r in ins if w in {"RUN", "HEALTHCHECK"})


def test_every_variable_set_is_one_the_agent_reads() -> None:
    env: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", rest))
    driftmon = {k: v for k, v in env.items() if k.startswith("DRIFTMON_")}
    assert set(driftmon) <= agent_variables({})
    assert {"DRIFTMON_CONFIG", "DRIFTMON_SERVER_LISTEN"} <= set(driftmon)


def test_the_build_stage_copies_what_the_wheel_needs() -> None:
    for word, rest in instructions():
        if word == "COPY" and "--from" not in rest:
            for src in rest.split()[:-1]:
                assert (ROOT / src).exists(), src
    ignore = (ROOT / ".dockerignore").read_text()
    assert "!monitor/" in ignore and "!migrations/" in ignore


@pytest.mark.slow
def test_the_wheel_holds_the_package_migrations_and_entry_point(tmp_path: Path) -> None:
    """What the build stage's `pip wheel` makes from what it COPYs; the runtime installs it."""
    src = tmp_path / "src"
    for word, rest in instructions():
        if word == "COPY" and "--from" not in rest:
            *files, dest = rest.split()
            for f in files:
                target = src / dest / f if dest.endswith("/") else src / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                if (ROOT / f).is_dir():
                    shutil.copytree(ROOT / f, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / f, target)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "--wheel-dir",
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("driftmon_agent-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "driftmon = monitor.cli:main" in zf.read(entry).decode()
    assert "monitor/traffic.py" in names
    assert "monitor/migrations/script.py.mako" in names
    assert any(n.startswith("monitor/migrations/versions/0001") for n in names)
