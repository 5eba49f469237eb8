"""Fuzzed config files: `config check` exits 0, or 2 with one line per problem; no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main
from monitor.config import describe_settings

KEYS = [key for key, *_ in describe_settings()]
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
VALUES = st.one_of(
    _text,
    st.sampled_from(
        [
            "0s",
            "0.0000001s",
            "99999999999999d",
            "1h",
            "cron:99 * * * *",
            "cron:* * 31 2 *",
            "cron:*/5 * * * *",
            "rolling:0s",
            "pinned:2026-01-02/2026-01-01",
            "nan",
            "",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(st.one_of(st.integers(-5, 5), _text), max_size=3),
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _document(entries: list[tuple[str, object]]) -> str:
    """TOML with each key in its table (a list-of-tables key in one entry named 'x')."""
    tables: dict[str, dict[str, object]] = {}
    for key, value in entries:
        table, _, name = key.rpartition(".")
        tables.setdefault(table, {"name": "x"} if table.endswith("[]") else {})[name] = value
    lines = [f"{k} = {_toml_value(v)}" for k, v in tables.pop("", {}).items()]
    for table, values in tables.items():
        bare = table.replace("[]", "")
        lines.append(f"[[{bare}]]" if table.endswith("[]") else f"[{bare}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _run(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "check", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2), (code, err)
    lines = err.strip().splitlines()
    if code == 2:
        assert lines and all(line.startswith("driftmon: error: ") for line in lines), err
    else:
        json.loads(out)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=4))
def test_fuzzed_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entries: list[tuple[str, object]]
) -> None:
    f = tmp_path / "fuzz.toml"
    f.write_text(_document(entries), encoding="utf-8")
    _run(f, capsys)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_fuzzed_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    f = tmp_path / "fuzz.toml"
    f.write_bytes(b"[drift]\nalpha = 0.01\n" + data)
    _run(f, capsys)
