"""The working calendar: China's holidays and make-up working days in deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from civicline.domain.calendar import WorkCalendar
from civicline.domain.errors import InvalidInput
from civicline.domain.sla import deadlines_for
from civicline.domain.taxonomy import Category
from civicline.storage.calendar_file import load_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = load_calendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_the_shipped_calendar_knows_2026_and_marks_2027_provisional() -> None:
    assert CHINA.official_years == {2026} and CHINA.provisional_years == {2027}
    assert not CHINA.is_working_day(date(2026, 10, 5))  # National Day, a Monday
    assert CHINA.is_working_day(date(2026, 10, 10))  # the make-up Saturday
    assert CHINA.is_working_day(date(2026, 2, 14))  # Spring Festival make-up Saturday
    assert not CHINA.is_working_day(date(2026, 2, 17))  # 正月初一
    assert not CHINA.is_working_day(date(2027, 2, 8))


def test_five_working_days_across_national_day() -> None:
    # Filed Wednesday 30 Sep: 1-7 Oct are off, Sat 10 Oct is worked, Sun 11 Oct is not.
    assert CHINA.add_working_days(at("2026-09-30T10:00"), 5) == at("2026-10-13T10:00")


def test_a_deadline_across_spring_festival() -> None:
    category = Category("x", "x", "x", "d", accept_hours=24, complete_working_days=3)
    deadlines = deadlines_for(category, at("2026-02-13T15:00"), calendar=CHINA)
    # Fri 13 Feb 15:00 + 24 working hours: 9 h on Friday, then Saturday 14 Feb is worked.
    assert deadlines.accept_by == at("2026-02-14T15:00")
    # Working days after Friday: Sat 14, then 15-23 off, Tue 24, Wed 25.
    assert deadlines.complete_by == at("2026-02-25T15:00")


def test_working_time_skips_days_off() -> None:
    friday = at("2026-11-27T16:00")
    assert CHINA.add_working_time(friday, timedelta(hours=24)) == at("2026-11-30T16:00")
    assert CHINA.working_time_between(friday, at("2026-11-30T16:00")) == timedelta(hours=24)
    assert CHINA.working_time_between(at("2026-11-28T09:00"), at("2026-11-29T18:00")) == (
        timedelta(0)
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "years"),
        ({"years": {2026: {"holidays": ["2026-02-30"]}}}, "not a date"),
        ({"years": {2026: {"holidays": ["2027-01-01"]}}}, "outside 2026"),
        ({"years": {2026: {"holidays": ["2026-10-07..2026-10-01"]}}}, "reversed"),
        ({"years": {2026: {"workdays": ["2026-10-12"]}}}, "weekday anyway"),
        (
            {"years": {2026: {"holidays": ["2026-10-10"], "workdays": ["2026-10-10"]}}},
            "both",
        ),
        ({"years": {2026: {"status": "rumoured"}}}, "official or provisional"),
    ],
)
def test_bad_calendars_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        WorkCalendar.from_dict(raw)


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read holiday file"):
        load_calendar(tmp_path / "missing.yml")
