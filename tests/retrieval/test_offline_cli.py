"""``driftmon canary diff`` and ``driftmon retrieval eval``, run in-process on temp files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.cli import main
from monitor.inputs import qrels_by_query
from monitor.inputs import read_qrels as read_qrel_rows


def canary_diff_main(argv: list[str]) -> int:
    return main(["canary", "diff", *argv])


def retrieval_eval_main(argv: list[str]) -> int:
    return main(["retrieval", "eval", *argv])


def read_qrels(path: str) -> dict[str, dict[str, int]]:
    return qrels_by_query(read_qrel_rows(path))


def _save(path: Path, arr: np.ndarray) -> str:
    np.save(path, arr)
    return str(path)


@pytest.fixture
def baseline(tmp_path: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    arr = rng.standard_normal((50, 16)).astype(np.float32)
    return arr / np.linalg.norm(arr, axis=1, keepdims=True)


def _one_error_line(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: "), err
    assert "Traceback" not in err
    return err


def test_canary_diff_unchanged_exits_0(
    tmp_path: Path, baseline: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _save(tmp_path / "b.npy", baseline)
    c = _save(tmp_path / "c.npy", baseline.copy())
    assert canary_diff_main([b, c]) == 0
    out = capsys.readouterr().out
    assert "verdict: UNCHANGED" in out and "50 items, d=16" in out


def test_canary_diff_noise_within_tolerance_exits_0(
    tmp_path: Path, baseline: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    noisy = baseline + 0.004 * np.random.default_rng(1).standard_normal(baseline.shape)
    b = _save(tmp_path / "b.npy", baseline)
    c = _save(tmp_path / "c.npy", noisy.astype(np.float32))
    assert canary_diff_main([b, c, "--json", "--floor", "0.9999"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "noise" and data["exit_code"] == 0


def test_canary_diff_changed_exits_1_with_json(
    tmp_path: Path, baseline: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = baseline + 0.3 * np.random.default_rng(2).standard_normal(baseline.shape)
    b = _save(tmp_path / "b.npy", baseline)
    c = _save(tmp_path / "c.npy", moved.astype(np.float32))
    assert canary_diff_main([b, c, "--json", "--min-cosine", "0.99"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "changed" and data["exit_code"] == 1
    assert data["baseline"] == b and data["n_items"] == 50 and data["tolerance"] == 0.99
    assert isinstance(data["reasons"], list) and data["reasons"]


def test_canary_diff_dimension_change_is_a_change(
    tmp_path: Path, baseline: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _save(tmp_path / "b.npy", baseline)
    c = _save(tmp_path / "c.npy", baseline[:, :8])
    assert canary_diff_main([b, c]) == 1
    out = capsys.readouterr().out
    assert "d=16 -> 8" in out and "reason: dimension changed from 16 to 8" in out


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(lambda p: str(p / "missing.npy"), "does not exist", id="missing"),
        pytest.param(lambda p: _save(p / "x.npy", np.zeros(5)), "2-D", id="1-d"),
        pytest.param(lambda p: _save(p / "x.npy", np.zeros((49, 16))), "50 rows", id="rows"),
        pytest.param(lambda p: _save(p / "x.npy", np.full((50, 16), np.nan)), "NaN", id="nan"),
        pytest.param(
            lambda p: (p / "x.npy").write_text("hello") and str(p / "x.npy"),
            "not a .npy array (no NumPy header) nor JSON lines",
            id="not-npy",
        ),
        pytest.param(lambda p: str(p), "directory", id="directory"),
    ],
)
def test_canary_diff_errors_exit_2_with_one_line(
    tmp_path: Path,
    baseline: np.ndarray,
    capsys: pytest.CaptureFixture[str],
    make: object,
    match: str,
) -> None:
    b = _save(tmp_path / "b.npy", baseline)
    current = make(tmp_path)  # type: ignore[operator]
    assert canary_diff_main([b, current]) == 2
    assert match in _one_error_line(capsys, "driftmon canary diff")


def test_canary_diff_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert canary_diff_main(["only-one.npy"]) == 2
    _one_error_line(capsys, "driftmon canary diff")
    assert canary_diff_main(["a.npy", "b.npy", "--floor", "2"]) == 2
    assert "--floor" in _one_error_line(capsys, "driftmon canary diff")
    assert canary_diff_main(["--help"]) == 0
    assert "usage: driftmon canary diff" in capsys.readouterr().out


@pytest.fixture
def retrieval_files(tmp_path: Path) -> dict[str, str]:
    """20 queries, 60 docs; query i's relevant doc is doc i (grade 2); q19 has none."""
    rng = np.random.default_rng(3)
    docs = rng.standard_normal((60, 8))
    queries = docs[:20] + 0.3 * rng.standard_normal((20, 8))
    (tmp_path / "qids.txt").write_text("".join(f"q{i}\n" for i in range(20)))
    (tmp_path / "dids.txt").write_text("".join(f"doc-{i}\n" for i in range(60)))
    (tmp_path / "dids2.txt").write_text("".join(f"other-{i}\n" for i in range(20)))
    trec = "".join(f"q{i} 0 doc-{i} 2\n" for i in range(19)) + "q19 0 doc-0 0\nqX 0 doc-1 1\n"
    (tmp_path / "qrels.txt").write_text(trec)
    tsv = "query_id\tdoc_id\trelevance\n" + "".join(f"{i}\t{i}\t1\n" for i in range(20))
    (tmp_path / "qrels.tsv").write_text(tsv)
    return {
        "queries": _save(tmp_path / "q.npy", queries),
        "docs": _save(tmp_path / "d.npy", docs),
        "qids": str(tmp_path / "qids.txt"),
        "dids": str(tmp_path / "dids.txt"),
        "dids2": str(tmp_path / "dids2.txt"),
        "trec": str(tmp_path / "qrels.txt"),
        "tsv": str(tmp_path / "qrels.tsv"),
        "dir": str(tmp_path),
    }


def test_retrieval_eval_prints_a_table(
    retrieval_files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    f = retrieval_files
    code = retrieval_eval_main(
        [
            "--queries",
            f["queries"],
            "--docs",
            f["docs"],
            "--qrels",
            f["trec"],
            "--query-ids",
            f["qids"],
            "--doc-ids",
            f["dids"],
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "20 queries x 60 documents, d=8, depth 60" in out
    assert "evaluated 19 queries; 1 left out" in out
    assert "1 query id(s) of the qrels are not among the query ids" in out
    for row in (
        "recall",
        "precision",
        "ndcg",
        "mrr",
        "hit",
        "judged",
        "map (depth 60)",
        "top-1 score",
        "top-10 score",
        "top-1 score >= 0.3",
    ):
        assert row in out


def test_retrieval_eval_json_with_tsv_qrels_and_row_ids(
    retrieval_files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    f = retrieval_files
    code = retrieval_eval_main(
        [
            "--queries",
            f["queries"],
            "--docs",
            f["docs"],
            "--qrels",
            f["tsv"],
            "--k",
            "1,3",
            "--cutoffs",
            "0.5",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ks"] == [1, 3] and data["n_queries"] == 20 and data["n_docs"] == 60
    assert set(data["metrics"]) == {
        f"{m}@{k}" for m in ("recall", "precision", "ndcg", "mrr", "hit", "judged") for k in (1, 3)
    } | {"map"}
    assert data["metrics"]["hit@3"] == 1.0
    assert list(data["scores"]["pass_rates"]) == ["0.5"]


def test_retrieval_eval_zero_rule_counts_the_judged_query(
    retrieval_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    f = retrieval_files
    args = [
        "--queries",
        f["queries"],
        "--docs",
        f["docs"],
        "--qrels",
        f["trec"],
        "--query-ids",
        f["qids"],
        "--doc-ids",
        f["dids"],
        "--json",
    ]
    assert retrieval_eval_main(args + ["--no-relevant", "zero"]) == 0
    assert json.loads(capsys.readouterr().out)["n_queries"] == 20


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"--qrels": "missing.txt"}, "does not exist", id="no-qrels"),
        pytest.param({"--k": "1,x"}, "--k", id="bad-k"),
        pytest.param({"--k": "0"}, "positive", id="k-zero"),
        pytest.param({"--docs": "queries"}, "none of the document ids", id="doc-ids"),
        pytest.param({"--query-ids": "dids2"}, "no query has a relevant", id="query-ids"),
        pytest.param({"--query-ids": "dids"}, "60 ids for 20 rows", id="ids-count"),
    ],
)
def test_retrieval_eval_errors_exit_2_with_one_line(
    retrieval_files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    match: str,
) -> None:
    f = retrieval_files
    opts = {
        "--queries": f["queries"],
        "--docs": f["docs"],
        "--qrels": f["trec"],
        "--query-ids": f["qids"],
        "--doc-ids": f["dids"],
    }
    for key, value in change.items():
        opts[key] = f.get(value, str(Path(f["dir"]) / value))
        if key == "--k":
            opts[key] = value
    if "--docs" in change:  # docs = the 20 queries, ids 0..19: none is in the qrels
        opts.pop("--doc-ids")
    argv = [x for pair in opts.items() for x in pair]
    assert retrieval_eval_main(argv) == 2
    err = _one_error_line(capsys, "driftmon retrieval eval")
    assert match in err


def test_retrieval_eval_dimension_mismatch_and_missing_option(
    retrieval_files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = retrieval_files
    wide = _save(tmp_path / "wide.npy", np.ones((60, 9)))
    assert (
        retrieval_eval_main(["--queries", f["queries"], "--docs", wide, "--qrels", f["trec"]]) == 2
    )
    assert "d=8 but docs have d=9" in _one_error_line(capsys, "driftmon retrieval eval")
    assert retrieval_eval_main(["--queries", f["queries"]]) == 2
    assert "required" in _one_error_line(capsys, "driftmon retrieval eval")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        pytest.param("q1 0 d1\n", "expected 'qid 0 docid rel'", id="short-trec"),
        pytest.param("q1 0 d1 high\n", "not an integer", id="grade"),
        pytest.param("q1 0 d1 1\nq1 0 d1 2\n", "duplicate judgement", id="duplicate"),
        pytest.param("query_id doc_id relevance\nq1\td1\n", "query_id<TAB>", id="short-tsv"),
        pytest.param("\n\n", "no judgement", id="empty"),
    ],
)
def test_read_qrels_rejects_malformed_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "qrels"
    path.write_text(text)
    with pytest.raises(Exception, match=match):
        read_qrels(str(path))


def test_read_qrels_both_formats(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("q1 0 d1 2\nq1 0 d2 0\n\nq2 Q0 d1 -1\n")
    (tmp_path / "b").write_text("query_id doc_id relevance\nq1\td 1\t2\nq2 d3 1\n")
    assert read_qrels(str(tmp_path / "a")) == {"q1": {"d1": 2, "d2": 0}, "q2": {"d1": -1}}
    assert read_qrels(str(tmp_path / "b")) == {"q1": {"d 1": 2}, "q2": {"d3": 1}}


def _npz(p: Path) -> str:
    np.savez(p / "x.npz", a=np.ones((50, 16)))
    return str(p / "x.npz")


@pytest.mark.parametrize(
    ("make", "argv_tail", "match"),
    [
        pytest.param(_npz, [], ".npz archive", id="npz"),
        pytest.param(
            lambda p: _save(p / "x.npy", np.ones((50, 16), dtype=complex)),
            [],
            "real numbers",
            id="complex",
        ),
        pytest.param(
            lambda p: _save(p / "x.npy", np.ones((50, 16))),
            ["--min-cosine", "2"],
            "--min-cosine",
            id="min-cosine",
        ),
    ],
)
def test_canary_diff_more_errors(
    tmp_path: Path,
    baseline: np.ndarray,
    capsys: pytest.CaptureFixture[str],
    make: object,
    argv_tail: list[str],
    match: str,
) -> None:
    b = _save(tmp_path / "b.npy", baseline)
    assert canary_diff_main([b, make(tmp_path), *argv_tail]) == 2  # type: ignore[operator]
    assert match in _one_error_line(capsys, "driftmon canary diff")


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        pytest.param(
            "".join(f"q{i}\n" for i in range(10))
            + "\n"
            + "".join(f"q{i}\n" for i in range(10, 20)),
            ":11: empty id",
            id="blank-line",
        ),
        pytest.param(
            "".join(f"q{i % 19}\n" for i in range(20)), ":20: duplicate id 'q0'", id="duplicate"
        ),
        pytest.param(b"\xff\xfe", "not UTF-8", id="binary"),
    ],
)
def test_retrieval_eval_bad_id_files(
    retrieval_files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ids: str | bytes,
    match: str,
) -> None:
    f = retrieval_files
    path = tmp_path / "bad-ids.txt"
    if isinstance(ids, bytes):
        path.write_bytes(ids)
    else:
        path.write_text(ids)
    argv = [
        "--queries",
        f["queries"],
        "--docs",
        f["docs"],
        "--qrels",
        f["trec"],
        "--query-ids",
        str(path),
        "--doc-ids",
        f["dids"],
    ]
    assert retrieval_eval_main(argv) == 2
    assert match in _one_error_line(capsys, "driftmon retrieval eval")


def test_retrieval_eval_trailing_blank_ids_missing_docs_and_empty_k(
    retrieval_files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = retrieval_files
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"q{i}\n" for i in range(20)) + "\n\n")
    qrels = tmp_path / "qrels-missing.txt"
    qrels.write_text("q0 0 doc-0 1\nq0 0 gone 1\n")
    argv = [
        "--queries",
        f["queries"],
        "--docs",
        f["docs"],
        "--qrels",
        str(qrels),
        "--query-ids",
        str(ids),
        "--doc-ids",
        f["dids"],
    ]
    assert retrieval_eval_main(argv) == 0
    out = capsys.readouterr().out
    assert "note: 1 relevant judgement(s) name documents absent from --docs" in out
    assert retrieval_eval_main([*argv, "--k", ","]) == 2
    assert "--k names no value" in _one_error_line(capsys, "driftmon retrieval eval")
    assert retrieval_eval_main([*argv[:4], "--qrels", f["dir"]]) == 2
    assert "is a directory" in _one_error_line(capsys, "driftmon retrieval eval")
