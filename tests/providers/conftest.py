"""Fixtures of the provider tests: the fake server, fake time, and a provider factory."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_embed_server import FakeEmbeddingServer
from provider_support import KEY, KEY_ENV, FakeClock, FakeTime, model_settings

from monitor.providers import Runtime, build_provider


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DRIFTMON_"):
            monkeypatch.delenv(name)


@pytest.fixture
def server() -> Iterator[FakeEmbeddingServer]:
    srv = FakeEmbeddingServer(dim=8, api_key=KEY)
    yield srv
    srv.close()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_provider(server: FakeEmbeddingServer, fake_time: FakeTime) -> Iterator[Callable[..., Any]]:
    created: list[Any] = []

    def make(provider: str = "openai", *, base_url: str | None = None, **overrides: Any) -> Any:
        settings = model_settings(provider, base_url or server.url, **overrides)
        runtime = Runtime(
            sleep=fake_time.sleep,
            monotonic=fake_time.monotonic,
            clock=FakeClock(fake_time),
            rng=random.Random(7),
            environ={KEY_ENV: KEY},
        )
        p = build_provider(settings, runtime)
        created.append(p)
        return p

    yield make
    for p in created:
        p.close()
