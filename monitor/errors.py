"""The one exception tree of driftmon.

    MonitorError
    ├── ConfigError            a setting is missing, unknown or of the wrong type
    ├── InputError             a user-supplied file (queries, canary set) is unusable
    ├── ProviderError          an embedding endpoint failed
    │   ├── ProviderTimeout
    │   ├── ProviderHTTPError
    │   └── ProviderResponseError
    ├── StorageError           the database is unreachable or fails
    │   └── SchemaMismatch     the database revision differs from the code's
    └── AlertDeliveryError     a webhook did not accept a delivery

``InsufficientDataError`` comes from the pure ``monitor.stats`` leaf (it cannot
import this module) and is re-exported here; jobs record it as a skipped run.
Every MonitorError message is one line meant for a user: it never carries query
text or a secret.
"""

from __future__ import annotations

import importlib

__all__ = [
    "AlertDeliveryError",
    "ConfigError",
    "InputError",
    "InsufficientDataError",  # noqa: F822 (module __getattr__: scipy only when asked)
    "MonitorError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderResponseError",
    "ProviderTimeout",
    "SchemaMismatch",
    "StorageError",
]


class MonitorError(Exception):
    """Base of every error driftmon raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid; the message names the key."""


class InputError(MonitorError):
    """A user-supplied input file cannot be used; the message names the file."""


class ProviderError(MonitorError):
    """An embedding provider failed."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ProviderTimeout(ProviderError):
    """The provider did not answer in time."""


class ProviderHTTPError(ProviderError):
    """The provider answered with an error status."""


class ProviderResponseError(ProviderError):
    """The provider's answer is malformed (count, dimension, NaN...)."""


class StorageError(MonitorError):
    """The database failed or cannot be reached."""


class SchemaMismatch(StorageError):
    """The database schema revision is not the one this code expects."""


class AlertDeliveryError(MonitorError):
    """A sink did not accept an alert delivery."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status_code = status_code


def __getattr__(name: str) -> type[Exception]:
    """Import ``InsufficientDataError`` (and so scipy) only when it is asked for."""
    if name == "InsufficientDataError":
        error: type[Exception] = importlib.import_module("monitor.stats").InsufficientDataError
        return error
    raise AttributeError(f"module 'monitor.errors' has no attribute {name!r}")
