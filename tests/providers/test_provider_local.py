"""The optional local (sentence-transformers) provider: clear errors; the path with a fake model."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from monitor.config import ModelSettings
from monitor.errors import ConfigError, ProviderError, ProviderResponseError
from monitor.providers import LocalEmbedder, build_provider


class FakeModel:
    def __init__(self, dim: int = 4, *, fail: bool = False, nan: bool = False) -> None:
        self.dim = dim
        self.fail = fail
        self.nan = nan
        self.seen: list[list[str]] = []

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, **kw):
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        self.seen.append(list(texts))
        out = np.array([[len(t), 1.0, 0.0, 2.0][: self.dim] for t in texts], dtype=np.float32)
        if self.nan:
            out[0, 0] = np.nan
        return out


def local_settings(folder, **kw) -> ModelSettings:
    return ModelSettings(name="loc", provider="local", model=str(folder), dimensions=4, **kw)


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="local model folder .* does not exist"):
        build_provider(local_settings(tmp_path / "nope"))


def test_missing_package_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(ConfigError, match=r"pip install '\.\[local\]' from a clone"):
        build_provider(local_settings(tmp_path))


def test_embeds_with_prefix_and_normalisation(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    model = FakeModel()
    p = build_provider(
        local_settings(tmp_path, query_prefix="q: "), local_loader=lambda folder: model
    )
    result = p.embed(["ab", "", "abcd"], "query")
    assert model.seen == [["q: ab", "q: abcd"]]
    assert result.failed == frozenset({1})
    np.testing.assert_allclose(np.linalg.norm(result.vectors[[0, 2]], axis=1), 1.0, rtol=1e-6)
    assert result.identity["model"] == tmp_path.name
    assert len(result.identity["folder_digest"]) == 24
    assert "LocalEmbedder" in repr(p) and p.dimension == 4
    p.close()


def test_folder_digest_changes_with_the_files(tmp_path):
    (tmp_path / "config.json").write_text('{"v": 1}')
    first = LocalEmbedder(local_settings(tmp_path), loader=lambda f: FakeModel())
    (tmp_path / "config.json").write_text('{"v": 2}')
    second = LocalEmbedder(local_settings(tmp_path), loader=lambda f: FakeModel())
    assert (
        first.embed(["a"]).identity["folder_digest"]
        != second.embed(["a"]).identity["folder_digest"]
    )


def test_dimension_mismatch_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="makes 3-dimensional vectors, not 4"):
        LocalEmbedder(local_settings(tmp_path), loader=lambda f: FakeModel(dim=3))


def test_loader_failure_is_a_config_error(tmp_path):
    def broken(folder):
        raise OSError("no modules.json")

    with pytest.raises(ConfigError, match="cannot load the model"):
        LocalEmbedder(local_settings(tmp_path), loader=broken)


def test_encode_failure_and_bad_output(tmp_path):
    p = LocalEmbedder(local_settings(tmp_path), loader=lambda f: FakeModel(fail=True))
    with pytest.raises(ProviderError, match="local model failed"):
        p.embed(["a"], "document")
    q = LocalEmbedder(local_settings(tmp_path), loader=lambda f: FakeModel(nan=True))
    with pytest.raises(ProviderResponseError, match="NaN"):
        q.embed(["a"], "document")
    with pytest.raises(ValueError, match="kind"):
        q.embed(["a"], "other")  # type: ignore[arg-type]


def test_real_sentence_transformers_if_installed(tmp_path):
    pytest.importorskip(
        "sentence_transformers", reason="the optional 'local' extra is not installed"
    )
    with pytest.raises(ConfigError):
        build_provider(local_settings(tmp_path))  # an empty folder is not a model
