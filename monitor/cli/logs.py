"""Log configuration of the ``driftmon`` process (text or JSON lines on stderr)."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

__all__ = ["setup_logging"]

_TAGS = ("job", "run_id")


def _rfc3339(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``ts`` is RFC 3339 in UTC with milliseconds."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _rfc3339(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _TAGS:
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


class TextFormatter(logging.Formatter):
    """``ts level logger: message [job=… run_id=…]``, the time in UTC."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_rfc3339(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        tags = " ".join(f"{k}={getattr(record, k)}" for k in _TAGS if hasattr(record, k))
        return f"{line} [{tags}]" if tags else line


def setup_logging(level: str, fmt: str = "text") -> None:
    """Log to stderr at ``level``; libraries that log URLs are held at WARNING."""
    quiet = {"level": "WARNING"}
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"job": {"()": "monitor.logctx.JobLogFilter"}},
            "formatters": {"main": {"()": JsonFormatter if fmt == "json" else TextFormatter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stderr",
                    "filters": ["job"],
                    "formatter": "main",
                }
            },
            "root": {"level": level.upper(), "handlers": ["stderr"]},
            "loggers": {name: quiet for name in ("httpx", "httpcore", "apscheduler", "alembic")},
        }
    )
