"""The console's dashboard: the rates of the cases filed in the last 30 days per department,
channel and day, the backlog, and its CSV export.

A supervisor's figures are those of their unit's subtree, with a line for the unit's own
departments and each child (``handlers.unit_rates``), each child a link one level down.

The rates are ``domain.rates``'s, counted by the same SQL as the rates API's
(``storage.stats``, described in ``handlers.rates``): timely acceptance, on-time completion and
satisfaction (满意率: 满意 + 基本满意 over the answered return visits, both shown). A rate
with nothing due is no figure (not 0 % or 100 %). **Backlog** = open cases nobody has answered
yet (awaiting a reply or triage), whenever filed; **overdue** = those of them past their
completion deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

from civicline.domain.accounts import StaffUser
from civicline.handlers.rates import RateLine, csv_rows
from civicline.handlers.unit_rates import Units, UnitScope, roll_up, unit_for, unit_scope
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
    unit: UnitScope | None = None  # a supervisor's unit: its subtree's figures, drilled down
    by_unit: list[RateLine] = field(default_factory=list)  # the unit's own, then each child

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
    unit: str | None = None,
    units: Units | None = None,
) -> Dashboard:
    """The figures for the last ``period``; clerks get their own department's only. With a
    units tree, a supervisor's or admin's are those of ``unit``'s subtree (their own unit's by
    default), with a line per child to drill down."""
    department = None if user.sees_all_departments else user.department
    scope = None
    if units is not None and user.oversees:
        scope = unit_scope(units.tree, units.departments, unit_for(user, unit, units.tree))
    elif units is not None and user.unit_bound and user.unit is not None:
        scope = unit_scope(units.tree, units.departments, user.unit)  # a county's operator
    inside = None if scope is None else scope.departments
    since = now - period
    async with uow:
        report = partial(uow.stats.report, since=since, until=now, now=now, department=department)
        groups = await report(DASHBOARD_GROUPS, period="all", departments=inside)
        days = await report(("total",), period="day", departments=inside)
        backlog_departments = await uow.stats.backlog(
            "department", now=now, department=department, departments=inside
        )
        backlog_channels = await uow.stats.backlog(
            "channel", now=now, department=department, departments=inside
        )
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
        unit=scope,
        by_unit=[]
        if scope is None
        else [RateLine(r.group, r.key, label, r) for r in roll_up(groups, scope)],
    )


def dashboard_csv_rows(board: Dashboard) -> list[list[str]]:
    """The dashboard's figures as the rates API's CSV (``handlers.rates.csv_rows``: the
    whole period's total, departments and channels, then each day's total), then the backlog
    per department and channel under a header of its own."""
    rows = csv_rows(
        [board.total, *board.by_unit, *board.by_department, *board.by_channel, *board.by_day]
    )
    rows.append(["backlog_group", "key", "backlog", "overdue"])
    for group, backlog in (
        ("department", board.backlog_by_department),
        ("channel", board.backlog_by_channel),
    ):
        rows += [[group, b.key or "", str(b.backlog), str(b.overdue)] for b in backlog]
    return rows
