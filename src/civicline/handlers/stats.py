"""The rates the 12345 practice is measured by, per department, per channel and per day.

Definitions (each over the cases filed in the period, merged duplicates left out):

* **Timely acceptance rate** (及时受理率) = cases whose acceptance was decided (accepted, 受理,
  or declined as not a complaint, 不予受理) by their acceptance deadline ÷ cases due for
  acceptance: those already decided, plus those whose acceptance deadline has passed.
  A case routed by the NLU at once is accepted when it is filed.
* **Completion rate** (按期办结率) = cases closed (办结) by their completion deadline ÷ cases
  due for completion: those closed, plus those whose completion deadline has passed.
  Declined cases are left out.
* **Rating satisfaction** = cases the citizen rated 4 or 5 ÷ cases rated (1-5): the
  dashboard's figure, not the return visit's 满意率 (``domain.rates``, the rates API).
* **Backlog** = open cases nobody has answered yet (awaiting a reply or triage), whenever
  filed; **overdue** = those of them past their completion deadline.

A rate with nothing due is shown as no figure (not 0 % or 100 %). Counts come from SQL
(``storage.stats``, the same counting as the rates API's, handlers.rates); this module only
divides and labels them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.rates import completion, rate, rate_cell, timely_acceptance
from civicline.storage.base import UnitOfWork
from civicline.storage.stats import BacklogCounts, RateCounts

PERIOD = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Rates:
    key: str | None
    counts: RateCounts

    @property
    def timely_acceptance(self) -> float | None:
        return timely_acceptance(self.counts)

    @property
    def completion(self) -> float | None:
        return completion(self.counts)

    @property
    def satisfaction(self) -> float | None:
        """The ratings of 4 or 5 out of all ratings (1-5), not the return visit's 满意率."""
        return rate(self.counts.satisfied, self.counts.rated)


@dataclass(frozen=True, slots=True)
class Dashboard:
    since: datetime
    now: datetime
    department: str | None  # figures limited to one department (a clerk's own)
    total: Rates
    by_department: list[Rates]
    by_channel: list[Rates]
    by_day: list[Rates]  # every day of the period, oldest first (days without cases: zeros)
    backlog_by_department: list[BacklogCounts]
    backlog_by_channel: list[BacklogCounts]

    @property
    def backlog(self) -> int:
        return sum(b.backlog for b in self.backlog_by_department)

    @property
    def overdue(self) -> int:
        return sum(b.overdue for b in self.backlog_by_department)


def _sum(key: str | None, rows: list[RateCounts]) -> RateCounts:
    return RateCounts(
        key,
        *(
            sum(getattr(r, name) for r in rows)
            for name in (
                "cases",
                "accept_due",
                "accepted_in_time",
                "complete_due",
                "completed_in_time",
                "rated",
                "satisfied",
            )
        ),
    )


def _days(since: date, until: date) -> list[str]:
    days, day = [], since
    while day <= until:
        days.append(day.strftime("%y%m%d"))
        day += timedelta(days=1)
    return days


async def dashboard(
    *,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
    city_today: date,
    period: timedelta = PERIOD,
) -> Dashboard:
    """The figures for the last ``period``; clerks get their own department's only."""
    department = None if user.sees_all_departments else user.department
    since = now - period
    async with uow:
        by_department = await uow.stats.rates(
            "department", since=since, now=now, department=department
        )
        by_channel = await uow.stats.rates("channel", since=since, now=now, department=department)
        by_day = await uow.stats.rates("day", since=since, now=now, department=department)
        backlog_departments = await uow.stats.backlog("department", now=now, department=department)
        backlog_channels = await uow.stats.backlog("channel", now=now, department=department)
    found = {r.key: r for r in by_day}
    first_day = city_today - timedelta(days=period.days - 1)
    every_day = [
        found.get(day) or RateCounts(day, 0, 0, 0, 0, 0, 0, 0)
        for day in _days(first_day, city_today)
    ]
    return Dashboard(
        since=since,
        now=now,
        department=department,
        total=Rates(None, _sum(None, by_department)),
        by_department=[Rates(r.key, r) for r in by_department],
        by_channel=[Rates(r.key, r) for r in by_channel],
        by_day=[Rates(r.key, r) for r in every_day],
        backlog_by_department=backlog_departments,
        backlog_by_channel=backlog_channels,
    )


def dashboard_csv_rows(board: Dashboard) -> list[list[str]]:
    """The dashboard's figures as CSV rows (a header first): one row per group."""
    header = [
        "scope",
        "key",
        "cases",
        "accept_due",
        "accepted_in_time",
        "timely_acceptance_rate",
        "complete_due",
        "completed_in_time",
        "completion_rate",
        "rated",
        "satisfied",
        "satisfaction_rate",
    ]

    rows = [header]
    for scope, group in (
        ("total", [board.total]),
        ("department", board.by_department),
        ("channel", board.by_channel),
        ("day", board.by_day),
    ):
        for r in group:
            c = r.counts
            rows.append(
                [
                    scope,
                    day_label(r.key) if scope == "day" else (r.key or ""),
                    str(c.cases),
                    str(c.accept_due),
                    str(c.accepted_in_time),
                    rate_cell(r.timely_acceptance),
                    str(c.complete_due),
                    str(c.completed_in_time),
                    rate_cell(r.completion),
                    str(c.rated),
                    str(c.satisfied),
                    rate_cell(r.satisfaction),
                ]
            )
    rows.append(["backlog_scope", "key", "backlog", "overdue"])
    for scope, backlog in (
        ("department", board.backlog_by_department),
        ("channel", board.backlog_by_channel),
    ):
        rows += [[scope, b.key or "", str(b.backlog), str(b.overdue)] for b in backlog]
    return rows


def day_label(key: str | None) -> str:
    """YYMMDD (the case-number date) as YYYY-MM-DD."""
    if not key or len(key) != 6:
        return key or ""
    return f"20{key[:2]}-{key[2:4]}-{key[4:]}"
