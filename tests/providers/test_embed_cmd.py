"""``driftmon embed``: stdin lines to .npy or JSON lines; one-line errors with exit code 2."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from provider_support import KEY

from monitor.cli import main as driftmon


def main(argv: list[str]) -> int:
    return driftmon(["embed", *argv])


CMD_KEY_ENV = "FAKE_EMBED_CMD_KEY"


def write_config(tmp_path, body: str):
    path = tmp_path / "driftmon.toml"
    path.write_text(body)
    return str(path)


@pytest.fixture
def hash_config(tmp_path):
    return write_config(tmp_path, '[[models]]\nname = "h"\nprovider = "hash"\ndimensions = 16\n')


@pytest.fixture
def http_config(tmp_path, server, monkeypatch):
    monkeypatch.setenv(CMD_KEY_ENV, KEY)
    return write_config(
        tmp_path,
        f"""
[[models]]
name = "prod"
provider = "openai"
model = "fake-embed"
base_url = "{server.url}/v1"
api_key_env = "{CMD_KEY_ENV}"
dimensions = 8
max_retries = 0
""",
    )


def run(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_to_stdout(monkeypatch, capsys, hash_config):
    code, out, err = run(
        monkeypatch,
        capsys,
        ["--config", hash_config, "--model", "h", "--kind", "query"],
        "first line\nsecond\n",
    )
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in rows] == [0, 1]
    assert len(rows[0]["embedding"]) == 16


def test_npy_output_against_the_fake_server(monkeypatch, capsys, http_config, server, tmp_path):
    target = tmp_path / "out.npy"
    code, out, err = run(
        monkeypatch,
        capsys,
        [
            "--config",
            http_config,
            "--model",
            "prod",
            "--kind",
            "document",
            "--format",
            "npy",
            "--output",
            str(target),
        ],
        "a\r\nb\nc",
    )
    assert code == 0 and out == "" and err == ""
    vectors = np.load(target)
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    expected = server.vector("b") / np.linalg.norm(server.vector("b"))
    np.testing.assert_allclose(vectors[1], expected, rtol=1e-6)


def test_jsonl_to_a_file_with_a_failed_line(monkeypatch, capsys, http_config, tmp_path):
    target = tmp_path / "out.jsonl"
    code, out, err = run(
        monkeypatch,
        capsys,
        ["--config", http_config, "--model", "prod", "--kind", "query", "--output", str(target)],
        "ok\n\nfine\n",
    )
    assert code == 1
    assert "1 of 3 lines were not embedded (indices 1)" in err
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert rows[1] == {"index": 1, "embedding": None}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--model", "h", "--kind", "query"], "no model named 'h'", id="no-config"),
        pytest.param(
            ["--config", "CFG", "--model", "h", "--kind", "both"], "invalid choice", id="bad-kind"
        ),
        pytest.param(
            ["--config", "CFG", "--model", "h", "--kind", "query", "--format", "npy"],
            "--output is required",
            id="npy-needs-output",
        ),
        pytest.param(
            ["--config", "CFG", "--model", "nope", "--kind", "query"],
            "no model named",
            id="unknown-model",
        ),
        pytest.param(
            ["--config", "/does/not/exist.toml", "--model", "h", "--kind", "query"],
            "does not exist",
            id="missing-config",
        ),
        pytest.param(
            [
                "--config",
                "CFG",
                "--model",
                "h",
                "--kind",
                "query",
                "--output",
                "/does/not/exist/out.jsonl",
            ],
            "cannot write",
            id="unwritable-output",
        ),
    ],
)
def test_user_errors_are_one_line_and_exit_2(monkeypatch, capsys, hash_config, argv, message):
    argv = [hash_config if a == "CFG" else a for a in argv]
    code, out, err = run(monkeypatch, capsys, argv, "text\n")
    assert code == 2
    assert err.startswith("driftmon embed: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_api_key_is_a_user_error(monkeypatch, capsys, http_config):
    monkeypatch.delenv(CMD_KEY_ENV)
    code, _, err = run(
        monkeypatch, capsys, ["--config", http_config, "--model", "prod", "--kind", "query"], "a\n"
    )
    assert code == 2 and CMD_KEY_ENV in err and err.count("\n") == 1


def test_provider_failure_exits_1_with_one_line(monkeypatch, capsys, http_config, server):
    server.add_fault("status", status=400, times=-1)
    code, out, err = run(
        monkeypatch, capsys, ["--config", http_config, "--model", "prod", "--kind", "query"], "a\n"
    )
    assert code == 1 and out == ""
    assert err.startswith("driftmon embed: error: ") and "HTTP 400" in err
    assert KEY not in err


def test_non_utf8_stdin(monkeypatch, capsys, hash_config):
    class Raw(io.StringIO):
        buffer = io.BytesIO(b"\xff\xfe bad")

    monkeypatch.setattr("sys.stdin", Raw())
    assert main(["--config", hash_config, "--model", "h", "--kind", "query"]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--kind" in capsys.readouterr().out
