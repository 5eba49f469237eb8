"""alerts/: the Prometheus rules are valid, unit-tested by promtool, and agree with the agent."""

from __future__ import annotations

import re
import subprocess

import pytest
from prom_support import ALERTS, RULE_TESTS, RULES, alert_blocks, metric_names

from monitor.config import AlertSettings, RuleSettings
from monitor.metrics import CATALOGUE

RUNBOOK = (ALERTS / "RUNBOOK.md").read_text()
RUNBOOK_URL = "https://github.com/driftmon/driftmon/blob/main/alerts/RUNBOOK.md#"


def _promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=ALERTS, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_check_rules_passes(promtool: str) -> None:
    done = _promtool(promtool, "check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_blocks())} rules found" in done.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    done = _promtool(promtool, "test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_example_prometheus_config_is_valid(promtool: str) -> None:
    done = _promtool(promtool, "check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    headings = set(re.findall(r"^## (\w+)$", RUNBOOK, re.M))
    for name, block in alert_blocks().items():
        assert re.search(r"^\s+severity: (info|warning|critical)$", block, re.M), name
        assert re.search(r"^\s+summary: ", block, re.M), name
        assert re.search(r"^\s+description: ", block, re.M), name
        assert f'runbook_url: "{RUNBOOK_URL}{name.lower()}"' in block, name
        assert name in headings, f"alerts/RUNBOOK.md has no section '## {name}'"


def test_every_alert_has_a_firing_and_a_quiet_promtool_case() -> None:
    cases: dict[str, set[str]] = {}
    for case in re.split(r"^\s*- eval_time: ", RULE_TESTS.read_text(), flags=re.M)[1:]:
        name = re.search(r"alertname: (\w+)", case)
        assert name is not None
        kind = "quiet" if "exp_alerts: []" in case else "fires"
        cases.setdefault(name.group(1), set()).add(kind)
    for name in alert_blocks():
        assert cases.get(name) == {"fires", "quiet"}, (
            f"{name}: promtool cases {sorted(cases.get(name, ()))}, want both"
        )


def test_every_metric_in_the_rules_exists() -> None:
    used = metric_names(RULES.read_text()) | metric_names(RULE_TESTS.read_text())
    assert used and used <= set(CATALOGUE), sorted(used - set(CATALOGUE))


@pytest.mark.parametrize("rule", AlertSettings().rules, ids=lambda r: r.name)
def test_the_agents_builtin_rules_have_a_prometheus_twin(rule: RuleSettings) -> None:
    """Same name and severity, and the built-in runbook link lands on a RUNBOOK section."""
    block = alert_blocks().get(rule.name)
    assert block is not None, f"built-in rule {rule.name} has no Prometheus rule in alerts/"
    assert re.search(rf"^\s+severity: {rule.severity}$", block, re.M), rule.name
    if rule.runbook_url:
        assert rule.runbook_url == RUNBOOK_URL + rule.name.lower(), rule.runbook_url
