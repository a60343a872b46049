"""Deadlines: to accept, to first reply, to complete, counted on the working calendar.

Accepting is counted in working hours (hours of working days: see ``domain.calendar``), the
first reply and completion in working days. Urgent cases (danger to life or property) get the
taxonomy's ``urgent`` deadlines when shorter, and their hours to accept run round the clock:
an emergency does not wait for Monday.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicline.domain.calendar import WEEKDAYS_ONLY, WorkCalendar
from civicline.domain.letters import ACCEPT_DAYS
from civicline.domain.taxonomy import Category, UrgentDeadlines

DEFAULT_REPLY_WORKING_DAYS = 3


def is_weekday(day: date) -> bool:
    return day.weekday() < 5


def add_working_days(
    start: datetime, days: int, is_working_day: Callable[[date], bool] = is_weekday
) -> datetime:
    """The same time of day, ``days`` working days later (the filing day does not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date()):
            remaining -= 1
    return current


@dataclass(frozen=True, slots=True)
class Deadlines:
    accept_by: datetime
    complete_by: datetime
    reply_by: datetime | None = None  # the first answer to the citizen


def reply_working_days(category: Category) -> int:
    return min(
        category.reply_working_days or DEFAULT_REPLY_WORKING_DAYS, category.complete_working_days
    )


def deadlines_for(
    category: Category,
    received_at: datetime,
    *,
    urgent: UrgentDeadlines | None = None,
    calendar: WorkCalendar = WEEKDAYS_ONLY,
) -> Deadlines:
    """The category's deadlines from ``received_at`` (city time), or the urgent ones when
    those are shorter."""
    working_days = category.complete_working_days
    reply_days = reply_working_days(category)
    if urgent is not None:
        working_days = min(working_days, urgent.complete_working_days)
        reply_days = min(reply_days, working_days)
        accept_by = received_at + timedelta(hours=min(category.accept_hours, urgent.accept_hours))
    else:
        accept_by = calendar.add_working_time(received_at, timedelta(hours=category.accept_hours))
    return Deadlines(
        accept_by=accept_by,
        complete_by=calendar.add_working_days(received_at, working_days),
        reply_by=calendar.add_working_days(received_at, reply_days),
    )


def letter_deadlines(
    category: Category,
    received_at: datetime,
    *,
    urgent: UrgentDeadlines | None = None,
    calendar: WorkCalendar = WEEKDAYS_ONLY,
) -> Deadlines:
    """A letter's deadlines from its receipt (信访工作条例): accept or not within
    ``ACCEPT_DAYS`` days (calendar days, as the regulation counts them), the first answer
    (the acceptance notice) by then too, and completion the category's working days after
    that. An urgent letter keeps the urgent deadlines, counted from its receipt."""
    if urgent is not None:
        return deadlines_for(category, received_at, urgent=urgent, calendar=calendar)
    accept_by = received_at + timedelta(days=ACCEPT_DAYS)
    return Deadlines(
        accept_by=accept_by,
        complete_by=calendar.add_working_days(accept_by, category.complete_working_days),
        reply_by=accept_by,
    )
