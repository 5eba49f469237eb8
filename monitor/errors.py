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

``monitor.stats`` is a pure leaf with its own ``InsufficientDataError`` (this
module does not import it, so the CLI does not load SciPy); the job runner records
it as a skipped run. Every MonitorError message is one line meant for a user: it never carries query
text or a secret.
"""

from __future__ import annotations

__all__ = [
    "AlertDeliveryError",
    "ConfigError",
    "InputError",
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
