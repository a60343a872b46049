"""The working calendar: which days count for deadlines, and time counted on them only.

China moves working days around its statutory holidays: a holiday week is paid back by
working a Saturday or Sunday (调休). So a day is a working day when the calendar says it is a
make-up working day, or it is a weekday that is not a holiday. Deadlines in working hours count
only the hours of working days (a case filed on Friday at 16:00 with 24 working hours to accept
is due Monday at 16:00); deadlines in working days land at the same time of day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from civicline.domain.errors import InvalidInput

DAY = timedelta(days=1)
MAX_SPAN_DAYS = 3660  # ten years: a loop bound, no deadline is that far


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    holidays: frozenset[date] = frozenset()  # statutory days off
    workdays: frozenset[date] = frozenset()  # make-up working days on weekends (调休上班)
    official_years: frozenset[int] = frozenset()  # years as published by the State Council
    provisional_years: frozenset[int] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same time of day, ``days`` working days later (the start day does not count)."""
        current, remaining = start, days
        for _ in range(MAX_SPAN_DAYS):
            if remaining <= 0:
                return current
            current += DAY
            if self.is_working_day(current.date()):
                remaining -= 1
        raise InvalidInput(f"no {days} working days within ten years: check the calendar")

    def add_working_time(self, start: datetime, span: timedelta) -> datetime:
        """``start`` plus ``span`` counted on working days only (local wall-clock time)."""
        current, remaining = start, span
        for _ in range(MAX_SPAN_DAYS):
            midnight = _next_midnight(current)
            if self.is_working_day(current.date()):
                if current + remaining <= midnight:
                    return current + remaining
                remaining -= midnight - current
            current = midnight
        raise InvalidInput("no such span of working time within ten years: check the calendar")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much of [start, end) falls on working days."""
        total, current = timedelta(0), start
        while current < end:
            midnight = min(_next_midnight(current), end)
            if self.is_working_day(current.date()):
                total += midnight - current
            current = midnight
        return total

    def covers(self, year: int) -> bool:
        return year in self.official_years or year in self.provisional_years

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> WorkCalendar:
        """Build from the parsed holiday file: ``years: {2026: {status, holidays, workdays}}``."""
        years = raw.get("years")
        if not isinstance(years, dict) or not years:
            raise InvalidInput("holiday file needs a mapping `years`")
        holidays: set[date] = set()
        workdays: set[date] = set()
        official: set[int] = set()
        provisional: set[int] = set()
        for year, entry in years.items():
            if not isinstance(entry, dict):
                raise InvalidInput(f"year {year}: expected a mapping")
            status = entry.get("status", "official")
            if status not in ("official", "provisional"):
                raise InvalidInput(f"year {year}: status must be official or provisional")
            (official if status == "official" else provisional).add(int(year))
            days_off = _dates(entry.get("holidays", []), int(year), "holidays")
            extra = _dates(entry.get("workdays", []), int(year), "workdays")
            if clash := days_off & extra:
                raise InvalidInput(f"{min(clash)} is both a holiday and a working day")
            if weekdays := {d for d in extra if d.weekday() < 5}:
                raise InvalidInput(f"make-up working day {min(weekdays)} is a weekday anyway")
            holidays |= days_off
            workdays |= extra
        return cls(
            frozenset(holidays), frozenset(workdays), frozenset(official), frozenset(provisional)
        )


WEEKDAYS_ONLY = WorkCalendar()


def _next_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date() + DAY, datetime.min.time(), tzinfo=moment.tzinfo)


def _dates(values: Iterable[Any], year: int, what: str) -> set[date]:
    """Dates and ranges ("2026-10-01..2026-10-07") of one year."""
    days: set[date] = set()
    if not isinstance(values, list):
        raise InvalidInput(f"year {year}: {what} must be a list")
    for value in values:
        text = str(value)
        first, _, last = text.partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise InvalidInput(f"year {year}: {what}: {text!r} is not a date or range") from None
        if end < start or start.year != year or end.year != year:
            raise InvalidInput(f"year {year}: {what}: {text!r} is outside {year} or reversed")
        while start <= end:
            days.add(start)
            start += DAY
    return days
