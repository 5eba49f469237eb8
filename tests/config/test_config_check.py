"""`driftmon config check` refuses what the daemon would refuse or die of: one line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import driftmon, error_lines

MODEL = "[[models]]\nname = 'prod'\nprovider = 'hash'\n"


def check(tmp_path: Path, body: str | bytes, **env: str) -> list[str]:
    f = tmp_path / "c.toml"
    if isinstance(body, bytes):
        f.write_bytes(body)
    else:
        f.write_text(body)
    return error_lines(driftmon("config", "check", str(f), env=env))


@pytest.mark.parametrize(
    "body,needle",
    [
        pytest.param(
            "[sampling]\nwindow = '0s'\n",
            "sampling.window: expected a duration above zero",
            id="window-0s",
        ),
        pytest.param(
            "[sampling]\nwindow = '0.0000001s'\n",
            "sampling.window: expected a duration above zero",
            id="window-tiny",
        ),
        pytest.param(
            "[schedule]\ndrift = '0m'\n",
            "schedule.drift: expected a duration above zero",
            id="interval-0",
        ),
        pytest.param(
            "[drift]\nreference = 'rolling:0s'\n",
            "drift.reference: expected a duration above zero",
            id="rolling-0",
        ),
        pytest.param(
            "[alerts]\nrenotify = '0s'\n",
            "alerts.renotify: expected a duration above zero",
            id="renotify-0",
        ),
        pytest.param(
            MODEL + "dimensions = 4294967296\n",
            "models[0].dimensions: expected 1 to 65536, got 4294967296",
            id="dimensions-huge",
        ),
        pytest.param(
            MODEL + "breaker_reset = '0s'\n",
            "models[0].breaker_reset: expected a duration above zero",
            id="breaker-reset-0",
        ),
        pytest.param(
            "[drift]\nmax_reference = -1\n",
            "drift.max_reference: expected 1 to",
            id="max-reference",
        ),
        pytest.param(
            "[drift]\npermutations = 9223372036854775807\n",
            "drift.permutations: expected 10 to",
            id="permutations-huge",
        ),
        pytest.param(
            "[database]\npool_size = 0\n", "database.pool_size: expected 1 to", id="pool-size"
        ),
        pytest.param(
            "[[canary_sets]]\nname = 'c'\npath = 'c.jsonl'\nks = [0]\n",
            "canary_sets[0].ks[0]: expected 1 to",
            id="ks-0",
        ),
        pytest.param(
            "[[canary_sets]]\nname = 'c'\npath = 'c.jsonl'\nmatryoshka_dims = [0]\n",
            "canary_sets[0].matryoshka_dims[0]: expected 1 to",
            id="matryoshka-0",
        ),
        pytest.param(
            "[[canary_sets]]\nname = 'c'\npath = 'c.jsonl'\nbaseline_repeats = -3\n",
            "canary_sets[0].baseline_repeats",
            id="repeats-negative",
        ),
        pytest.param(
            "[[canary_sets]]\nname = 'c'\npath = 'c.jsonl'\nmin_cosine = 1e9\n",
            "canary_sets[0].min_cosine: expected -1 to 1",
            id="min-cosine",
        ),
        pytest.param(
            "[[canary_sets]]\nname = 'c'\npath = ''\n",
            "canary_sets[0].path: expected a file name",
            id="empty-path",
        ),
        pytest.param(
            "[drift]\ntests = ['mmd', 'kss']\n",
            "drift.tests[1]: unknown test 'kss'",
            id="unknown-test",
        ),
        pytest.param(
            "[[alerts.rules]]\nname = 'r'\nthreshold = nan\n",
            "alerts.rules[0].threshold: expected a finite number",
            id="nan",
        ),
        pytest.param(
            "[[alerts.rules]]\nname = 'r'\nthreshold = -inf\n",
            "alerts.rules[0].threshold: expected a finite number",
            id="inf",
        ),
        pytest.param(
            "[[alerts.rules]]\nname = 'r'\nsignal = 'drift_p_value'\ntest = 'nope'\n",
            "alerts.rules[0].test: unknown drift test 'nope'",
            id="rule-test",
        ),
        pytest.param(
            "[agent]\nlease = '99999999999999d'\n",
            "agent.lease: expected a duration",
            id="huge-duration",
        ),
        pytest.param(
            "[agent]\nlease = '" + "9" * 400 + "s'\n",
            "agent.lease: expected a duration",
            id="huge-digits",
        ),
        pytest.param("[schedule]\ndrift = 'cron:99 * * * *'\n", "schedule.drift: ", id="cron-99"),
        pytest.param("[schedule]\ndrift = 'cron:a b c d e'\n", "minute field", id="cron-letters"),
        pytest.param("[schedule]\ndrift = 'cron:* * 31 2 *'\n", "never fires", id="cron-never"),
    ],
)
def test_config_check_refuses_what_breaks_the_daemon(
    tmp_path: Path, body: str, needle: str
) -> None:
    lines = check(tmp_path, body)
    assert len(lines) == 1 and needle in lines[0], lines


def test_every_problem_is_its_own_line(tmp_path: Path) -> None:
    lines = check(
        tmp_path,
        "[sampling]\nwindow = '0s'\n[drift]\nmax_reference = -1\ntests = ['x']\n"
        "[database]\nurll = 'x'\n",
    )
    assert len(lines) == 4, lines
    assert [line.split(":")[0] for line in lines] == [
        "database.urll",
        "sampling.window",
        "drift.max_reference",
        "drift.tests[0]",
    ]


def test_non_utf8_config_is_one_line(tmp_path: Path) -> None:
    (line,) = check(tmp_path, b'[database]\nurl = "\xff"\n')
    assert "is not UTF-8 text (line 2)" in line


def test_misspelt_section_in_an_environment_variable(tmp_path: Path) -> None:
    (line,) = check(tmp_path, "", DRIFTMON_DATABSE_URL="sqlite:///x.db")
    assert line.startswith("DRIFTMON_DATABSE_URL: no section 'databse'"), line


def test_secret_env_names_and_test_variables_are_not_settings(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(MODEL + "api_key_env = 'DRIFTMON_MODELS_KEY'\n")
    proc = driftmon(
        "config", "check", str(f), env={"DRIFTMON_MODELS_KEY": "k", "DRIFTMON_TEST_X": "1"}
    )
    assert proc.returncode == 0, proc.stderr


def test_the_daemon_refuses_what_config_check_refuses(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        f"[database]\nurl = 'sqlite:///{tmp_path}/d.db'\n[schedule]\ndrift = 'cron:* * 31 2 *'\n"
    )
    (line,) = error_lines(driftmon("run", "-c", str(f)))
    assert "schedule.drift" in line and "never fires" in line


def test_valid_cron_and_typed_values_print_as_written(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(
        "[schedule]\ndrift = 'cron:*/5 * * * mon-fri'\n"
        "[drift]\nreference = 'pinned:2026-11-01T00:00Z/2026-11-08T00:00Z'\n"
    )
    proc = driftmon("config", "check", str(f))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schedule"]["drift"] == "cron:*/5 * * * mon-fri"
    assert (
        data["drift"]["reference"] == "pinned:2026-11-01T00:00:00+00:00/2026-11-08T00:00:00+00:00"
    )
    assert data["sampling"]["window"] == "1h"
