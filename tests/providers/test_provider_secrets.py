"""The API key never shows up in logs, exceptions, reprs or results."""

from __future__ import annotations

import logging
import traceback

import pytest
from provider_support import KEY, KEY_ENV

from monitor.errors import ConfigError, ProviderError


def _everything_logged(caplog) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)


def _chain_messages(exc: BaseException | None) -> list[str]:
    out: list[str] = []
    while exc is not None:
        out += traceback.format_exception_only(exc)
        exc = exc.__cause__ or exc.__context__
    return out


@pytest.fixture
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "monitor", "monitor.providers"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.parametrize("provider", ["openai", "azure", "tei", "ollama", "cohere", "voyage"])
def test_key_absent_from_logs_and_errors_of_a_failing_call(
    server, make_provider, debug_logs, provider
):
    # the server echoes the credential it got, as some APIs do: in 500 bodies, then a 401
    server.add_fault(
        "status",
        status=500,
        times=-1,
        body='{"error": {"message": "upstream rejected key ' + KEY + '"}}',
    )
    p = make_provider(provider, max_retries=2, breaker_threshold=0)
    with pytest.raises(ProviderError) as first:
        p.embed(["some query text"], "query")
    server.faults.clear()
    server.api_key = "the-right-key"
    with pytest.raises(ProviderError) as info:
        p.embed(["some query text"], "query")
    assert info.value.status_code == 401
    logged = _everything_logged(debug_logs)
    assert "HTTP Request" in logged or "send_request" in logged  # httpx/httpcore did log
    assert "retry" in logged
    rendered = "".join(
        traceback.format_exception(info.value) + traceback.format_exception(first.value)
    )
    for where in (
        logged,
        rendered,
        str(info.value),
        repr(first.value),
        repr(p),
        repr(p.settings),
        str(vars(p.settings)),
    ):
        assert KEY not in where
        assert KEY[8:] not in where
    messages = "".join(_chain_messages(info.value) + _chain_messages(first.value))
    assert "some query text" not in messages  # query text stays out of messages too


def test_key_absent_from_a_successful_result(server, make_provider, debug_logs):
    p = make_provider("openai")
    result = p.embed(["a"], "query")
    assert KEY not in repr(result) and KEY not in _everything_logged(debug_logs)


def test_missing_key_variable_is_a_config_error_naming_it(server):
    from provider_support import model_settings

    from monitor.providers import Runtime, build_provider

    with pytest.raises(ConfigError, match=KEY_ENV):
        build_provider(model_settings("openai", server.url), Runtime(environ={}))


def test_no_key_configured_sends_no_auth_header(server, make_provider):
    server.api_key = None
    make_provider("openai", api_key_env="").embed(["a"], "query")
    assert "authorization" not in server.embed_requests()[0].headers
