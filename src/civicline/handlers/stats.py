"""The console's dashboard: the rates of the cases filed in the last 30 days per department,
channel and day, the backlog, and its CSV export.

The rates are ``domain.rates``'s, counted by the same SQL as the rates API's
(``storage.stats``, described in ``handlers.rates``): timely acceptance, on-time completion and
satisfaction (满意率: 满意 + 基本满意 over the answered return visits, both shown). A rate
with nothing due is no figure (not 0 % or 100 %). **Backlog** = open cases nobody has answered
yet (awaiting a reply or triage), whenever filed; **overdue** = those of them past their
completion deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.handlers.rates import RateLine, csv_rows
from civicline.storage.base import UnitOfWork
from civicline.storage.stats import BacklogCounts, ReportGroup, ReportRow

PERIOD = timedelta(days=30)
DASHBOARD_GROUPS: tuple[ReportGroup, ...] = ("total", "department", "channel")


@dataclass(frozen=True, slots=True)
class Dashboard:
    since: datetime
    now: datetime
    department: str | None  # figures limited to one department (a clerk's own)
    total: RateLine
    by_department: list[RateLine]
    by_channel: list[RateLine]
    by_day: list[RateLine]  # every day of the period, oldest first (days without cases: zeros)
    backlog_by_department: list[BacklogCounts]
    backlog_by_channel: list[BacklogCounts]

    @property
    def backlog(self) -> int:
        return sum(b.backlog for b in self.backlog_by_department)

    @property
    def overdue(self) -> int:
        return sum(b.overdue for b in self.backlog_by_department)


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


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
        groups = await uow.stats.report(
            DASHBOARD_GROUPS, period="all", since=since, until=now, now=now, department=department
        )
        days = await uow.stats.report(
            ("total",), period="day", since=since, until=now, now=now, department=department
        )
        backlog_departments = await uow.stats.backlog("department", now=now, department=department)
        backlog_channels = await uow.stats.backlog("channel", now=now, department=department)
    first_day = city_today - timedelta(days=period.days - 1)
    label = f"{first_day.isoformat()}/{city_today.isoformat()}"
    lines = [RateLine(r.group, r.key, label, r) for r in groups if r.cases]
    found = {r.period: r for r in days}
    by_day = []
    for day in _days(first_day, city_today):
        counts = found.get(f"{day:%y%m%d}") or ReportRow("total", None, f"{day:%y%m%d}")
        by_day.append(RateLine("total", None, day.isoformat(), counts))
    return Dashboard(
        since=since,
        now=now,
        department=department,
        total=next(
            (line for line in lines if line.group == "total"),
            RateLine("total", None, label, ReportRow("total", None, "")),
        ),
        by_department=[line for line in lines if line.group == "department"],
        by_channel=[line for line in lines if line.group == "channel"],
        by_day=by_day,
        backlog_by_department=backlog_departments,
        backlog_by_channel=backlog_channels,
    )


def dashboard_csv_rows(board: Dashboard) -> list[list[str]]:
    """The dashboard's figures as the rates API's CSV (``handlers.rates.csv_rows``: the
    whole period's total, departments and channels, then each day's total), then the backlog
    per department and channel under a header of its own."""
    rows = csv_rows([board.total, *board.by_department, *board.by_channel, *board.by_day])
    rows.append(["backlog_group", "key", "backlog", "overdue"])
    for group, backlog in (
        ("department", board.backlog_by_department),
        ("channel", board.backlog_by_channel),
    ):
        rows += [[group, b.key or "", str(b.backlog), str(b.overdue)] for b in backlog]
    return rows
