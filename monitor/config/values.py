"""Typed setting values: Duration, Schedule = Interval | Cron, Reference = Rolling | Pinned."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config.cron import CronFields, parse_cron

__all__ = [
    "MAX_DURATION",
    "Cron",
    "Duration",
    "Interval",
    "Pinned",
    "Reference",
    "Rolling",
    "Schedule",
    "doc",
    "parse_duration",
    "parse_reference",
    "parse_schedule",
]

_DURATION = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,20})?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: the longest duration any setting accepts (100 years); longer ones are typos
MAX_DURATION = timedelta(days=36525)


@dataclass(frozen=True)
class Duration:
    """A length of time as written in the config (``"90s"``) and as a timedelta."""

    delta: timedelta
    text: str

    @classmethod
    def parse(cls, text: str) -> Duration:
        """``"90s"``, ``"5m"``, ``"1h"``, ``"7d"``, ``"500ms"``; ValueError names the problem."""
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a duration like '30s', '5m', '1h' or '7d'")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        if seconds > MAX_DURATION.total_seconds():
            raise ValueError(f"{text!r} is longer than 100 years")
        return cls(timedelta(seconds=seconds), text.strip())

    def total_seconds(self) -> float:
        return self.delta.total_seconds()

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> timedelta:
    """Parse ``"90s"``, ``"5m"``, ``"1h"``, ``"7d"`` into a timedelta."""
    return Duration.parse(text).delta


@dataclass(frozen=True)
class Interval:
    """A job that runs every ``every``."""

    every: Duration

    def __str__(self) -> str:
        return str(self.every)


@dataclass(frozen=True)
class Cron:
    """A job that runs on a 5-field crontab (UTC)."""

    fields: CronFields

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time after ``after`` within 8 years, or None."""
        return self.fields.next_fire(after)

    def __str__(self) -> str:
        return f"cron:{self.fields.expr}"


Schedule = Interval | Cron


def parse_schedule(text: str) -> Schedule:
    """``"5m"`` -> Interval; ``"cron:*/5 * * * *"`` -> Cron (checked to fire at all)."""
    if text.startswith("cron:"):
        fields = parse_cron(text[len("cron:") :])
        if fields.next_fire(datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise ValueError(f"{text!r} never fires (no such day in 8 years)")
        return Cron(fields)
    return Interval(Duration.parse(text))


@dataclass(frozen=True)
class Rolling:
    """The reference is the ``span`` before the current window."""

    span: Duration

    def __str__(self) -> str:
        return f"rolling:{self.span}"


@dataclass(frozen=True)
class Pinned:
    """The reference is the fixed range [start, end) (aware UTC)."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"pinned:{self.start.isoformat()}/{self.end.isoformat()}"


Reference = Rolling | Pinned


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_reference(text: str) -> Reference:
    """``rolling:7d`` -> Rolling; ``pinned:A/B`` (ISO 8601) -> Pinned."""
    kind, _, arg = text.partition(":")
    if kind == "rolling":
        return Rolling(Duration.parse(arg))
    if kind == "pinned":
        start, sep, end = arg.partition("/")
        if not sep:
            raise ValueError(f"expected 'pinned:<start>/<end>', got {text!r}")
        try:
            a, b = _utc(start), _utc(end)
        except (ValueError, OverflowError):
            raise ValueError(f"expected ISO 8601 times in {text!r}") from None
        if b <= a:
            raise ValueError(f"the pinned range {text!r} ends before it starts")
        return Pinned(a, b)
    raise ValueError(f"expected 'rolling:<duration>' or 'pinned:<start>/<end>', got {text!r}")


def doc(
    help_text: str,
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = None,
    lo: float | None = None,
    hi: float | None = None,
    above: float | None = None,
    zero_ok: bool = False,
) -> Any:
    """A settings field with its help text and the range :mod:`checks` enforces.

    ``lo``/``hi`` bound a number (or each number of a list) inclusively, ``above``
    exclusively; a Duration must be above zero unless ``zero_ok``.
    """
    meta = {"help": help_text, "lo": lo, "hi": hi, "above": above, "zero_ok": zero_ok}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)
