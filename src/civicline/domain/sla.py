"""Deadlines: hours to accept, working days to complete.

Working days skip Saturdays and Sundays; the holiday calendar (statutory holidays and
make-up working days) comes with the governance work and plugs in as ``is_working_day``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicline.domain.taxonomy import Category, UrgentDeadlines


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


def deadlines_for(
    category: Category, received_at: datetime, *, urgent: UrgentDeadlines | None = None
) -> Deadlines:
    """The category's deadlines, or the urgent ones when those are shorter."""
    accept_hours = category.accept_hours
    working_days = category.complete_working_days
    if urgent is not None:
        accept_hours = min(accept_hours, urgent.accept_hours)
        working_days = min(working_days, urgent.complete_working_days)
    return Deadlines(
        accept_by=received_at + timedelta(hours=accept_hours),
        complete_by=add_working_days(received_at, working_days),
    )
