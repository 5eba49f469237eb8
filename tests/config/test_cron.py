"""The one crontab parser, and the scheduler's triggers built from what it parsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import Cron, parse_cron, parse_schedule
from monitor.scheduler import make_trigger, schedule_period

T0 = datetime(2026, 11, 29, 17, 3, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    "expr,problem",
    [
        pytest.param("99 * * * *", "minute field: 99 is outside 0-59", id="minute-range"),
        pytest.param("a b c d e", "minute field: 'a' is not a number", id="letters"),
        pytest.param("* 24 * * *", "hour field", id="hour-range"),
        pytest.param("* * 0 * *", "day field", id="day-zero"),
        pytest.param("* * * 13 *", "month field", id="month-range"),
        pytest.param("* * * * 8", "weekday field", id="weekday-range"),
        pytest.param("*/0 * * * *", "step '0'", id="step-zero"),
        pytest.param("30-10 * * * *", "runs backwards", id="backwards"),
        pytest.param("* * * *", "5 fields", id="four-fields"),
        pytest.param("1,,2 * * * *", "minute field", id="empty-item"),
    ],
)
def test_bad_crontabs_name_field_and_problem(expr: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace("*", r"\*")):
        parse_cron(expr)


def test_fields_steps_lists_and_names() -> None:
    c = parse_cron("*/15 9-17/4 1,15 jan-mar,DEC mon-fri")
    assert c.minutes == (0, 15, 30, 45)
    assert c.hours == (9, 13, 17)
    assert c.days == (1, 15)
    assert c.months == (1, 2, 3, 12)
    assert c.weekdays == (1, 2, 3, 4, 5)
    assert parse_cron("0 0 * * 7").weekdays == (0,)  # 7 is Sunday too
    assert parse_cron("5/20 * * * *").minutes == (5, 25, 45)


def test_never_firing_schedules_are_refused_and_leap_days_are_not() -> None:
    for text in ("cron:* * 31 2 *", "cron:0 0 30 2 *", "cron:0 0 31 4,6,9,11 *"):
        with pytest.raises(ValueError, match="never fires"):
            parse_schedule(text)
    leap = parse_schedule("cron:0 0 29 2 *")
    assert isinstance(leap, Cron)
    assert leap.next_fire(T0) == datetime(2028, 2, 29, tzinfo=UTC)


def test_day_or_weekday_as_in_vixie_cron() -> None:
    # both restricted: the 13th OR a Friday
    c = parse_cron("0 12 13 * fri")
    assert c.next_fire(T0) == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # a Friday
    assert parse_cron("0 12 13 * *").next_fire(T0) == datetime(2026, 12, 13, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "expr",
    [
        "*/5 * * * *",
        "0 9 * * mon-fri",
        "0 0 * * 0",
        "0 0 * * 1",
        "30 2 1 * *",
        "0 12 13 * fri",
        "0 0 29 2 *",
        "15 */6 * jan,jul *",
    ],
)
def test_scheduler_fires_exactly_when_the_parser_says(expr: str) -> None:
    """APScheduler numbers weekdays from Monday: the trigger must follow our fields."""
    schedule = parse_schedule(f"cron:{expr}")
    assert isinstance(schedule, Cron)
    trigger = make_trigger("drift", schedule, jitter=timedelta(0), start=T0)
    ours, theirs = T0, T0
    for _ in range(6):
        ours_next = schedule.next_fire(ours)
        theirs_next = trigger.get_next_fire_time(None, theirs + timedelta(minutes=1))
        assert ours_next is not None and theirs_next == ours_next, expr
        ours, theirs = ours_next, theirs_next


def test_schedule_period_of_a_cron_schedule() -> None:
    schedule = parse_schedule("cron:*/10 * * * *")
    assert schedule_period("drift", schedule, T0) == timedelta(minutes=10)
