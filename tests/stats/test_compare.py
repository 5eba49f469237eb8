"""`driftmon compare`: in-process main() with files, exit codes 0/1/2, JSON, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.cli import main as driftmon
from monitor.inputs import load_matrix
from monitor.stats import DEFAULT_TESTS

TEST_KEYS = {"statistic", "p_value", "threshold", "drift", "effect"}
FAST = ["--permutations", "200", "--tests", "mmd,novelty,classifier,ks"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    g = np.random.default_rng(0)
    ref = g.standard_normal((120, 8))
    same = g.standard_normal((120, 8))
    moved = g.standard_normal((100, 8)) + 1.0
    paths = {
        "ref": tmp_path / "ref.npy",
        "same": tmp_path / "same.npy",
        "moved": tmp_path / "moved.jsonl",
    }
    np.save(paths["ref"], ref)
    np.save(paths["same"], same.astype(np.float32))
    with paths["moved"].open("w") as f:
        for i, row in enumerate(moved):
            f.write(json.dumps({"id": i, "text": f"q{i}", "embedding": row.tolist()}) + "\n")
            if i == 10:
                f.write("\n")  # blank lines are skipped
    return paths


def main(argv: list[str]) -> int:
    return driftmon(["compare", *argv])


def load_embeddings(path: Path) -> np.ndarray:
    return load_matrix(path, "embeddings")


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("driftmon compare: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


def test_no_drift_exits_0_and_prints_a_table(files, capsys) -> None:
    assert main([str(files["ref"]), str(files["same"]), *FAST]) == 0
    out = capsys.readouterr().out
    assert "verdict: NO DRIFT" in out
    assert "(n=120)" in out and "d=8" in out
    for name in ("mmd", "novelty", "classifier", "ks"):
        assert f"\n{name} " in out


def test_drift_exits_1_with_json(files, capsys) -> None:
    code = main(
        [
            str(files["ref"]),
            str(files["moved"]),
            "--json",
            "--seed",
            "3",
            "--alpha",
            "0.05",
            "--permutations",
            "300",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(data) == {
        "n_ref",
        "n_cur",
        "dim",
        "alpha",
        "seed",
        "drift",
        "verdict",
        "method",
        "tests",
        "explanation",
    }
    assert data["method"]["policy"] == "maxt-permutation"
    assert data["method"]["p_value"] == data["tests"]["combined"]["p_value"] <= 0.05
    assert (data["n_ref"], data["n_cur"], data["dim"], data["seed"]) == (120, 100, 8, 3)
    assert data["alpha"] == 0.05 and data["drift"] is True and data["verdict"] == "drift"
    assert set(data["tests"]) == {*DEFAULT_TESTS, "knn", "isolation", "combined"}
    for entry in data["tests"].values():
        assert TEST_KEYS <= set(entry)
    assert data["explanation"]["k"] >= 2


def test_tests_option_selects_and_repeats(files, capsys) -> None:
    code = main(
        [
            str(files["ref"]),
            str(files["same"]),
            "--json",
            "--tests",
            "mmd",
            "--tests",
            "energy, centroid",
            "--no-explain",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and list(data["tests"]) == [
        "mmd",
        "energy",
        "centroid",
        "knn",
        "isolation",
        "combined",
    ]
    assert data["explanation"] is None


def test_too_few_rows_is_insufficient_data_exit_0(files, capsys) -> None:
    code = main([str(files["ref"]), str(files["moved"]), "--json", "--min-samples", "101"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["verdict"] == "insufficient_data" and data["tests"] == {}
    assert main([str(files["ref"]), str(files["moved"]), "--min-samples", "101"]) == 0
    assert "INSUFFICIENT DATA" in capsys.readouterr().out


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda d: d / "missing.npy", "missing.npy does not exist", id="missing"),
        pytest.param(lambda d: d, "is a directory", id="directory"),
        pytest.param(
            lambda d: _write(d / "bad.jsonl", '{"embedding": [1, 2]}\n{oops\n'),
            "bad.jsonl: line 2: invalid JSON",
            id="bad-json",
        ),
        pytest.param(
            lambda d: _write(d / "nofield.jsonl", '{"vector": [1, 2]}\n'),
            "line 1: no 'embedding' field",
            id="no-field",
        ),
        pytest.param(
            lambda d: _write(d / "str.jsonl", '{"embedding": ["a", 2]}\n'),
            "'embedding' must be a list of numbers",
            id="not-numbers",
        ),
        pytest.param(
            lambda d: _write(
                d / "ragged.jsonl", '{"embedding": [1, 2]}\n{"embedding": [1, 2, 3]}\n'
            ),
            "line 2: embedding has 3 values, expected 2",
            id="ragged",
        ),
        pytest.param(
            lambda d: _write(d / "empty.jsonl", "\n\n"), "no embeddings found", id="empty"
        ),
        pytest.param(
            lambda d: _write_bytes(d / "binary.bin", b"\xff\xfe\x00garbage"),
            "not a .npy array nor a UTF-8 JSON-lines file",
            id="binary",
        ),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path, files, capsys, make, message) -> None:
    bad = make(tmp_path)
    assert main([str(files["ref"]), str(bad)]) == 2
    assert message in _error_line(capsys)


def test_wrong_shapes_and_values_exit_2(tmp_path, files, capsys) -> None:
    np.save(tmp_path / "flat.npy", np.arange(10.0))
    assert main([str(files["ref"]), str(tmp_path / "flat.npy")]) == 2
    assert "non-empty 2-D array (n, d), got shape (10,)" in _error_line(capsys)
    np.save(tmp_path / "wide.npy", np.random.default_rng(2).standard_normal((50, 9)))
    assert main([str(files["ref"]), str(tmp_path / "wide.npy")]) == 2
    assert "different dimensions: ref has d=8, cur has d=9" in _error_line(capsys)
    nan = np.random.default_rng(1).standard_normal((50, 8))
    nan[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert main([str(tmp_path / "nan.npy"), str(files["ref"])]) == 2
    assert "nan.npy contains NaN" in _error_line(capsys)
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    assert main([str(files["ref"]), str(tmp_path / "obj.npy")]) == 2
    assert "is not a readable .npy array" in _error_line(capsys)
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    assert main([str(files["ref"]), str(tmp_path / "text.npy")]) == 2
    assert "must hold real numbers" in _error_line(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--alpha", "2"], "alpha must be in (0, 1)", id="alpha"),
        pytest.param(["--alpha", "x"], "argument --alpha: invalid float value", id="alpha-type"),
        pytest.param(["--permutations", "0"], "n_permutations must be >= 1", id="permutations"),
        pytest.param(["--seed", "-4"], "seed must be >= 0", id="seed"),
        pytest.param(["--tests", "mmd,bogus"], "unknown test 'bogus'", id="tests"),
        pytest.param(["--tests", ","], "--tests names no test", id="no-tests"),
        pytest.param(["--frobnicate"], "unrecognized arguments: --frobnicate", id="unknown-flag"),
    ],
)
def test_bad_options_exit_2_with_one_line(files, capsys, args, message) -> None:
    assert main([str(files["ref"]), str(files["same"]), *args]) == 2
    assert message in _error_line(capsys)


def test_missing_arguments_exit_2(capsys) -> None:
    assert main([]) == 2
    assert "the following arguments are required: REF, CUR" in _error_line(capsys)


def test_help_exits_0(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: driftmon compare")
    for option in ("--alpha", "--permutations", "--seed", "--tests", "--json"):
        assert option in out


def test_load_embeddings_reads_both_formats(files) -> None:
    npy = load_embeddings(files["ref"])
    jsonl = load_embeddings(files["moved"])
    assert npy.shape == (120, 8) and jsonl.shape == (100, 8)
    assert npy.dtype == jsonl.dtype == np.float64
