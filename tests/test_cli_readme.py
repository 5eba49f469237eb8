"""The README's Commands section is the parser's, and every line of it runs as shown.

Everything here goes through the installed ``driftmon`` console script in a subprocess.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import DRIFTMON
from support import MIGRATIONS_HEAD as HEAD

from monitor.cli.reference import commands, commands_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _block(name: str) -> str:
    return README.split(f"<!-- {name}:start -->\n")[1].split(f"<!-- {name}:end -->")[0]


def _examples() -> list[tuple[str, int]]:
    """(shell line, expected exit status) of the README's command examples."""
    code = re.search(r"```sh\n(.*?)```", _block("command-examples"), re.S)
    assert code is not None
    out = []
    for line in code.group(1).strip().splitlines():
        command, _, comment = line.partition("   # ")
        status = re.match(r"exit (\d)", comment)
        out.append((command.strip(), int(status.group(1)) if status else 0))
    return out


def test_commands_table_is_generated_from_the_parser() -> None:
    assert _block("commands").strip().splitlines() == commands_table(), (
        "README Commands table is stale: paste `python -m monitor.cli.reference`"
    )


def test_every_flag_of_every_command_is_in_the_readme() -> None:
    table = _block("commands")
    for name, parser in commands():
        row = next(
            line for line in table.splitlines() if line.startswith((f"| `{name} ", f"| `{name}` "))
        )
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help", "--config"):
                    assert flag in row, (name, flag)


def test_every_command_has_an_example_or_its_own_test() -> None:
    lines = [line.split("|")[-1].strip() for line, _ in _examples()]
    elsewhere = {"driftmon run", "driftmon demo"}  # daemon and demo: tests/test_cli.py, test_demo
    for name, _ in commands():
        assert name in elsewhere or any(
            line == name or line.startswith(name + " ") for line in lines
        ), name


NEEDLES = {
    "driftmon db upgrade": "empty -> ",
    "driftmon canary import": "core: 60 items, 30 judgements",
    "driftmon run-once cycle": "drift: ok",
    "driftmon status": "canary (min cosine)",
    "driftmon drift show": "how: policy maxt-permutation",
    "driftmon migrate-check": "migrate-check prod",
    "driftmon alerts list": "since (UTC)",
    "driftmon alerts ack": "only a firing alert",
    "driftmon canary diff": "verdict: UNCHANGED",
    "driftmon compare": "verdict: DRIFT",
    "driftmon db downgrade": f"{HEAD} -> 0004",
    "driftmon report": "wrote drift.html",
}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 25 processes, a full cycle among them, on a loaded machine
def test_every_readme_command_runs_as_shown(tmp_path: Path) -> None:
    assert DRIFTMON, "the driftmon console script is not installed"
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("*.db*")
    )
    env = {**os.environ, "PATH": f"{Path(DRIFTMON).parent}{os.pathsep}{os.environ['PATH']}"}
    outputs: dict[str, str] = {}
    for line, status in _examples():
        proc = subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
        )
        assert proc.returncode == status, (line, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, line
        if status == 2:
            assert proc.stderr.startswith("driftmon") and proc.stderr.count("\n") == 1, proc.stderr
        outputs[line] = proc.stdout + proc.stderr
        for prefix, needle in NEEDLES.items():
            if line.startswith(prefix + " "):
                assert needle in outputs[line], (line, outputs[line][-2000:])
    # the worked retrieval example prints what the README shows
    shown = re.search(r"```text\n(driftmon retrieval eval:.*?)```", README, re.S)
    assert shown is not None
    got = next(v for k, v in outputs.items() if k.startswith("driftmon retrieval eval "))
    for expected in shown.group(1).strip().splitlines():
        assert expected in got.splitlines(), expected
    assert (tmp_path / "q.ids").read_text().splitlines()[0] == "q-orders-0"


def _all_parsers() -> list[list[str]]:
    names = [name.split()[1:] for name, _ in commands()]
    groups = {tuple(n[:1]) for n in names if len(n) > 1}
    return [[], *[list(g) for g in sorted(groups)], *names]


@pytest.mark.parametrize("words", _all_parsers(), ids=lambda w: " ".join(w) or "driftmon")
def test_help_on_every_command_and_group(words: list[str]) -> None:
    assert DRIFTMON
    for flag in ("-h", "--help"):
        proc = subprocess.run([DRIFTMON, *words, flag], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", (words, proc.stderr)
        assert proc.stdout.startswith(f"usage: {' '.join(['driftmon', *words])}"), proc.stdout


def test_parser_constants_mirror_the_code_they_stand_for() -> None:
    """The parser keeps SciPy out of ``-h`` by spelling these out; they must not drift."""
    from monitor.cli.parser import COMPARE_TESTS, JOB_CHOICES
    from monitor.jobs.registry import JOB_NAMES
    from monitor.stats import ALL_TESTS, DEFAULT_TESTS
    from monitor.stats.retrieval import DEFAULT_CUTOFFS

    assert COMPARE_TESTS.split(", ") == list(ALL_TESTS)
    assert [t for t in ALL_TESTS if t not in DEFAULT_TESTS] == ["cvm"]  # "default: all but cvm"
    assert JOB_CHOICES == (*JOB_NAMES, "cycle")
    eval_parser = dict(commands())["driftmon retrieval eval"]
    assert eval_parser.get_default("cutoffs") == ",".join(f"{c:g}" for c in DEFAULT_CUTOFFS)
