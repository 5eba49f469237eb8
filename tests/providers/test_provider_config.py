"""Provider settings in the config: new keys, their checks, and build_provider for each kind."""

from __future__ import annotations

import dataclasses

import pytest

from monitor.config import ModelSettings, describe_settings, load_settings
from monitor.errors import ConfigError
from monitor.providers import (
    PROVIDERS,
    AzureOpenAIEmbedder,
    CohereEmbedder,
    HashEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    Runtime,
    TEIEmbedder,
    VoyageEmbedder,
    build_provider,
)

BASE = '[[models]]\nname = "m"\nprovider = "{provider}"\nbase_url = "http://127.0.0.1:9"\n'


def load(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_new_model_keys_load(tmp_path):
    s = load(
        tmp_path,
        BASE.format(provider="openai")
        + """
requests_per_second = 5.5
tokens_per_minute = 100000
max_input_tokens = 512
truncate = "start"
max_batch_tokens = 4000
max_retries = 1
backoff_base = "250ms"
backoff_max = "4s"
retry_after_max = "30s"
breaker_threshold = 3
breaker_reset = "1m"
connect_timeout = "2s"
encoding_format = "float"
request_dimensions = false
chars_per_token = 3.0
""",
    ).models[0]
    assert (s.requests_per_second, s.tokens_per_minute, s.max_input_tokens) == (5.5, 100000, 512)
    assert (s.truncate, str(s.breaker_reset), s.encoding_format) == ("start", "1m", "float")
    assert s.breaker_reset.total_seconds() == 60


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param('truncate = "middle"', "models[0].truncate", id="bad-rule"),
        pytest.param("max_input_tokens = 0", "models[0].max_input_tokens", id="zero-tokens"),
        pytest.param("requests_per_second = -1.0", "models[0].requests_per_second", id="neg-rps"),
        pytest.param("max_retries = -1", "models[0].max_retries", id="neg-retries"),
        pytest.param('backoff_base = "soon"', "models[0].backoff_base", id="bad-duration"),
        pytest.param('timeout = "0s"', "models[0].timeout", id="zero-timeout"),
        pytest.param("chars_per_token = 0.0", "models[0].chars_per_token", id="zero-cpt"),
    ],
)
def test_bad_values_name_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, BASE.format(provider="openai") + extra + "\n")
    assert message in str(info.value)


@pytest.mark.parametrize("provider", ["azure", "cohere", "voyage"])
def test_hosted_apis_need_a_key_variable(tmp_path, provider):
    with pytest.raises(ConfigError, match=r"models\[0\].api_key_env: required"):
        load(tmp_path, BASE.format(provider=provider))


def test_azure_needs_an_api_version(tmp_path):
    with pytest.raises(ConfigError, match="api_version"):
        load(tmp_path, BASE.format(provider="azure") + 'api_key_env = "K"\napi_version = ""\n')


def test_every_model_setting_is_documented():
    rows = {key: help_ for key, _, _, help_ in describe_settings()}
    for f in dataclasses.fields(ModelSettings):
        assert rows[f"models[].{f.name}"], f.name


@pytest.mark.parametrize(
    ("provider", "cls"),
    [
        pytest.param("openai", OpenAIEmbedder, id="openai"),
        pytest.param("azure", AzureOpenAIEmbedder, id="azure"),
        pytest.param("tei", TEIEmbedder, id="tei"),
        pytest.param("ollama", OllamaEmbedder, id="ollama"),
        pytest.param("cohere", CohereEmbedder, id="cohere"),
        pytest.param("voyage", VoyageEmbedder, id="voyage"),
    ],
)
def test_build_provider_picks_the_wire_format(provider, cls):
    s = ModelSettings(name="m", provider=provider, base_url="http://127.0.0.1:9", api_key_env="K")
    p = build_provider(s, Runtime(environ={"K": "secret"}))
    try:
        assert type(p) is cls and PROVIDERS[provider] is cls
        assert p.dimension == 256
        assert "secret" not in repr(p)
    finally:
        p.close()


def test_build_provider_hash_and_unknown():
    p = build_provider(ModelSettings(name="h", dimensions=32))
    assert isinstance(p, HashEmbedder) and p.dimension == 32
    with pytest.raises(ConfigError, match="unknown provider"):
        build_provider(ModelSettings(name="x", provider="grpc"))  # type: ignore[arg-type]


def test_http_provider_without_base_url_is_a_config_error():
    with pytest.raises(ConfigError, match="base_url"):
        build_provider(ModelSettings(name="m", provider="openai"), Runtime(environ={}))


def test_provider_is_a_context_manager_and_reopens(server):
    from provider_support import KEY, KEY_ENV, model_settings

    with build_provider(model_settings("openai", server.url), Runtime(environ={KEY_ENV: KEY})) as p:
        p.embed(["a"], "query")
        p.close()
        assert p.embed(["b"], "query").failed == frozenset()  # starts afresh after close
