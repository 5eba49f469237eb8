"""The README is tested like code: settings, metrics and commands it documents exist."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.cli import build_parser
from monitor.config import describe_settings
from monitor.metrics import CATALOGUE, METER_CATALOGUE

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_configuration_table_matches_the_code() -> None:
    block = README.split("<!-- config-reference:start -->\n")[1].split(
        "<!-- config-reference:end -->"
    )[0]
    expected = ["| key | type | default | meaning |", "|---|---|---|---|"] + [
        f"| `{key}` | {tp} | `{default}` | {help_text} |"
        for key, tp, default, help_text in describe_settings()
    ]
    assert block.strip().splitlines() == expected, (
        "README configuration table is stale: paste the output of `driftmon config reference`"
    )


def test_every_setting_has_help_text() -> None:
    missing = [key for key, _, _, help_text in describe_settings() if not help_text.strip()]
    assert missing == []


def test_every_metric_is_documented() -> None:
    for name, (kind, labels, _) in {**CATALOGUE, **METER_CATALOGUE}.items():
        row = re.search(rf"^\| `{name}` \| (\w+) \| ([^|]*) \|", README, re.M)
        assert row is not None, f"{name} missing from the README metric table"
        assert row.group(1) == kind and row.group(2).strip() == (", ".join(labels) or "-")


def test_every_command_is_documented() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"`driftmon {name}" in README, name


def test_quickstart_has_exactly_the_two_commands() -> None:
    quick = README.split("## Quickstart")[1].split("###")[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick, re.S)
    assert [b.strip() for b in blocks] == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && driftmon demo",
        "python3 -m venv .venv && . .venv/bin/activate && pip install '.[test]' && "
        "python -m pytest",
    ]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "pip install '.[test]' && python -m pytest" in ci
