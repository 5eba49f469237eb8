"""The one crontab parser: 5 fields (minute hour day month weekday), UTC.

Each field is ``*``, a value, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``,
or a comma-separated list of those; months and weekdays also take names
(``jan``..``dec``, ``sun``..``sat``; weekday 0 and 7 are Sunday). As in Vixie cron,
when both day and weekday are restricted a day matches if either does.
``config check`` and the scheduler both use :func:`parse_cron`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["CronFields", "parse_cron"]

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
#: name, lowest, highest, names (value of the first name = lowest)
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("weekday", 0, 7, _DAYS),
)
#: how far ahead next_fire looks (8 years holds at least one 29 February)
HORIZON_DAYS = 8 * 366


@dataclass(frozen=True)
class CronFields:
    """A parsed crontab: the allowed values of each field (weekday 0 = Sunday)."""

    expr: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    day_any: bool
    weekday_any: bool

    def day_matches(self, year: int, month: int, day: int) -> bool:
        """Does the crontab fire on this date (at some minute)?"""
        if month not in self.months:
            return False
        in_days = day in self.days
        in_weekdays = (calendar.weekday(year, month, day) + 1) % 7 in self.weekdays
        if self.day_any or self.weekday_any:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` within 8 years, or None."""
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(HORIZON_DAYS):
            if self.day_matches(day.year, day.month, day.day):
                for hour in self.hours:
                    for minute in self.minutes:
                        t = day.replace(hour=hour, minute=minute)
                        if t >= start:
                            return t
            day += timedelta(days=1)
        return None


def _values(part: str, lo: int, hi: int, names: list[str]) -> set[int]:
    def number(text: str) -> int:
        low = text.lower()
        if low in names:
            return names.index(low) + lo
        if not text.isdigit() or len(text) > 4:
            raise ValueError(f"{text!r} is not a number or name")
        return int(text)

    base, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or len(step_text) > 4 or int(step_text) < 1:
            raise ValueError(f"step {step_text!r} is not a positive number")
        step = int(step_text)
    if base == "*":
        first, last = lo, hi
    elif "-" in base:
        a, _, b = base.partition("-")
        first, last = number(a), number(b)
        if first > last:
            raise ValueError(f"range {base!r} runs backwards")
    else:
        first = number(base)
        last = hi if slash else first
    for v in (first, last):
        if not lo <= v <= hi:
            raise ValueError(f"{v} is outside {lo}-{hi}")
    return set(range(first, last + 1, step))


def parse_cron(expr: str) -> CronFields:
    """Parse a 5-field crontab; ValueError names the field and the problem."""
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(
            f"'cron:{expr.strip()}': a cron schedule has 5 fields (minute hour day month weekday)"
        )
    sets: list[tuple[int, ...]] = []
    for text, (name, lo, hi, names) in zip(parts, _FIELDS, strict=True):
        values: set[int] = set()
        for item in text.split(","):
            try:
                values |= _values(item, lo, hi, names)
            except ValueError as exc:
                raise ValueError(f"'cron:{' '.join(parts)}': {name} field: {exc}") from None
        if name == "weekday":
            values = {v % 7 for v in values}
        sets.append(tuple(sorted(values)))
    return CronFields(
        expr=" ".join(parts),
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=sets[4],
        day_any=parts[2] == "*",
        weekday_any=parts[4] == "*",
    )
