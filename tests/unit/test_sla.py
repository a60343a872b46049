"""Deadlines: hours to accept, working days to complete."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicline.domain.sla import add_working_days, deadlines_for
from civicline.domain.taxonomy import Category, UrgentDeadlines

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-23 is a Monday.
MONDAY = datetime(2026, 11, 23, 14, 30)
FRIDAY = MONDAY + timedelta(days=4)
SATURDAY = MONDAY + timedelta(days=5)
SUNDAY = MONDAY + timedelta(days=6)
NEXT_MONDAY = MONDAY + timedelta(days=7)


def category(accept_hours: int = 24, days: int = 5) -> Category:
    return Category("transport", "交通运输", "Transport", "transport", accept_hours, days)


def test_calendar_fixture_is_right() -> None:
    assert [d.strftime("%a") for d in (MONDAY, FRIDAY, SATURDAY, SUNDAY)] == [
        "Mon",
        "Fri",
        "Sat",
        "Sun",
    ]


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (MONDAY, 1, MONDAY + timedelta(days=1)),
        (MONDAY, 4, FRIDAY),
        (MONDAY, 5, NEXT_MONDAY),
        (FRIDAY, 1, NEXT_MONDAY),
        (SATURDAY, 1, NEXT_MONDAY),
        (SUNDAY, 1, NEXT_MONDAY),
        (FRIDAY, 6, NEXT_MONDAY + timedelta(days=7)),
        (MONDAY, 10, MONDAY + timedelta(days=14)),
    ],
)
def test_working_days_skip_weekends_and_keep_the_time(
    start: datetime, days: int, expected: datetime
) -> None:
    assert add_working_days(start, days) == expected


def test_zero_days_is_the_start() -> None:
    assert add_working_days(SATURDAY, 0) == SATURDAY


def test_custom_calendar_skips_a_holiday() -> None:
    holiday = date(2026, 11, 30)  # the Monday after FRIDAY

    def is_working_day(day: date) -> bool:
        return day.weekday() < 5 and day != holiday

    assert add_working_days(FRIDAY, 1, is_working_day) == NEXT_MONDAY + timedelta(days=1)


def test_custom_calendar_counts_a_make_up_saturday() -> None:
    make_up_day = SATURDAY.date()

    def is_working_day(day: date) -> bool:
        return day.weekday() < 5 or day == make_up_day

    assert add_working_days(FRIDAY, 1, is_working_day) == SATURDAY


def test_deadlines_use_accept_hours_and_working_days() -> None:
    deadlines = deadlines_for(category(accept_hours=48, days=1), FRIDAY)
    # Working hours: the weekend does not count, so 48 hours from Friday end on Tuesday.
    assert deadlines.accept_by == FRIDAY + timedelta(days=4)
    assert deadlines.complete_by == NEXT_MONDAY
    assert deadlines.reply_by == NEXT_MONDAY  # never later than completion


def test_urgent_hours_to_accept_run_round_the_clock() -> None:
    urgent = UrgentDeadlines(accept_hours=1, complete_working_days=1)
    deadlines = deadlines_for(category(accept_hours=48, days=5), FRIDAY, urgent=urgent)
    assert deadlines.accept_by == FRIDAY + timedelta(hours=1)
    assert deadlines.complete_by == NEXT_MONDAY


def test_timezone_aware_datetimes_stay_aware() -> None:
    start = FRIDAY.replace(tzinfo=SHANGHAI)
    deadlines = deadlines_for(category(days=1), start)
    assert deadlines.accept_by.tzinfo is SHANGHAI
    assert deadlines.complete_by.tzinfo is SHANGHAI
    assert deadlines.complete_by == NEXT_MONDAY.replace(tzinfo=SHANGHAI)


def test_weekend_is_judged_in_the_datetimes_own_zone() -> None:
    # Saturday 06:00 in Shanghai is still Friday 22:00 in UTC: callers must pass city time.
    local = datetime(2026, 11, 28, 6, 0, tzinfo=SHANGHAI)
    as_utc = local.astimezone(UTC)
    assert add_working_days(local, 1) == datetime(2026, 11, 30, 6, 0, tzinfo=SHANGHAI)
    assert add_working_days(as_utc, 1) == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
