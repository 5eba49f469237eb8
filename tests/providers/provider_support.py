"""Shared pieces of the provider tests: the test key, fake time, and model settings."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config import Duration, ModelSettings

_DURATIONS = {f.name for f in dataclasses.fields(ModelSettings) if f.type in ("Duration", Duration)}

KEY = "sk-test-7f3a9c1e5b2d4f6a8c0e"
KEY_ENV = "DRIFTMON_TEST_PROVIDER_KEY"

BASE_PATH = {
    "openai": "/v1",
    "azure": "",
    "tei": "",
    "ollama": "",
    "cohere": "",
    "voyage": "/voyage/v1",
}


class FakeTime:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.start = datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    # a monitor.clock.Clock, for Retry-After given as an HTTP date
    def clock_now(self) -> datetime:
        return self.start + timedelta(seconds=self.now - 1000.0)


class FakeClock:
    def __init__(self, t: FakeTime) -> None:
        self._t = t

    def now(self) -> datetime:
        return self._t.clock_now()


def model_settings(provider: str, base_url: str, **overrides: Any) -> ModelSettings:
    values: dict[str, Any] = {
        "name": "m1",
        "provider": provider,
        "model": "fake-embed",
        "base_url": base_url + BASE_PATH.get(provider, ""),
        "api_key_env": KEY_ENV,
        "dimensions": 8,
        "timeout": "5s",
        "batch_size": 4,
        "max_concurrency": 2,
    }
    values.update(overrides)
    # durations are written as in the config file and typed as the loader types them
    typed = {
        k: Duration.parse(v) if k in _DURATIONS and isinstance(v, str) else v
        for k, v in values.items()
    }
    return ModelSettings(**typed)


def replace(settings: ModelSettings, **kw: Any) -> ModelSettings:
    return dataclasses.replace(settings, **kw)
