"""Environment overrides as the README promises, through the console script."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import driftmon, error_lines

from monitor.config.rules import default_rules

SINKS = (
    "[[alerts.sinks]]\nname = 'on-call'\nurl = 'http://127.0.0.1:9/old'\n"
    "[[alerts.sinks]]\nname = 'on'\nurl = 'http://127.0.0.1:9/other'\n"
)


def effective(tmp_path: Path, body: str, **env: str) -> dict[str, object]:
    f = tmp_path / "c.toml"
    f.write_text(body)
    proc = driftmon("config", "check", str(f), env=env)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_sink_keys_by_name(tmp_path: Path) -> None:
    data = effective(
        tmp_path,
        SINKS,
        DRIFTMON_ALERTS_SINKS_ON_CALL_URL="http://127.0.0.1:9/new",
        DRIFTMON_ALERTS_SINKS_ON_CALL_MIN_SEVERITY="critical",
        DRIFTMON_ALERTS_SINKS_ON_TIMEOUT="3s",
    )
    sinks = data["alerts"]["sinks"]  # type: ignore[index]
    assert sinks[0]["url"] == "http://127.0.0.1:9/new"  # 'on-call', not 'on'
    assert sinks[0]["min_severity"] == "critical"
    assert sinks[1]["url"] == "http://127.0.0.1:9/other" and sinks[1]["timeout"] == "3s"


def test_built_in_rule_keys_by_name(tmp_path: Path) -> None:
    data = effective(
        tmp_path,
        "",
        DRIFTMON_ALERTS_RULES_EMBEDDINGQUERYDRIFT_FOR_RUNS="4",
        DRIFTMON_ALERTS_RULES_DRIFTMONJOBSTALE_THRESHOLD="6.5",
    )
    rules = {r["name"]: r for r in data["alerts"]["rules"]}  # type: ignore[index]
    assert len(rules) == len(default_rules())  # the built-in rules, two of them changed
    assert rules["EmbeddingQueryDrift"]["for_runs"] == 4
    assert rules["DriftmonJobStale"]["threshold"] == 6.5
    assert rules["EmbeddingSilentModelChange"]["severity"] == "critical"


def test_configured_rule_keys_by_name(tmp_path: Path) -> None:
    body = "[[alerts.rules]]\nname = 'Mine'\nsignal = 'drift'\n"
    data = effective(tmp_path, body, DRIFTMON_ALERTS_RULES_MINE_SEVERITY="critical")
    (rule,) = data["alerts"]["rules"]  # type: ignore[index]
    assert rule["severity"] == "critical"


def test_override_mistakes_are_one_line(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(SINKS)
    for var, needle in (
        ("DRIFTMON_ALERTS_SINKS_PAGER_URL", "no [[alerts.sinks]] entry and key match"),
        ("DRIFTMON_ALERTS_RULES_NOSUCHRULE_FOR_RUNS", "no [[alerts.rules]] entry and key match"),
        ("DRIFTMON_ALERTS_RENOTIFYY", "[alerts] has no key 'renotifyy'"),
        ("DRIFTMON_SAMPLNG_WINDOW", "no section 'samplng'"),
    ):
        (line,) = error_lines(driftmon("config", "check", str(f), env={var: "1"}))
        assert line.startswith(var) and needle in line, line
    lines = error_lines(
        driftmon("config", "check", str(f), env={"DRIFTMON_ALERTS_SINKS_ON_CALL_TIMEOUT": "0s"})
    )
    assert lines == ["alerts.sinks[0].timeout: expected a duration above zero, got '0s'"]
