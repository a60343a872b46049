"""The rates a 12345 hotline is judged by: per department, category, channel and outcome, by
day, week or month (``GET /api/v1/stats/rates``), and this month's figures for ``/metrics``.

Which cases count: those **filed** in the period, in the city's time (a case's number starts
with its filing date), each in the group of its current department, category, channel and
outcome. Deadlines are judged **as of** the moment of the report: a deadline still ahead
neither helps nor hurts a rate, so a month's figures settle as its cases fall due. **Merged**
cases (duplicates, 合并) are counted apart (``merged``) and in no rate: their citizen's matter
is handled in the case they joined. **Declined** cases (不予受理, ``rejected``) count for
acceptance only.

* **Timely acceptance** (及时受理率) = ``accepted_in_time / accept_due``. Due: cases whose
  acceptance was decided (accepted, 受理, or declined) plus those still undecided past their
  acceptance deadline. In time: decided at or before ``accept_due_at``.
* **On-time completion** (按期办结率) = ``completed_in_time / complete_due``. Due: cases closed
  (办结) plus open cases past ``complete_due_at``. In time: closed, ``closed_at`` at or before
  ``complete_due_at``. A case reopened after its close is open again until it is closed
  again, and then its latest close counts.
* **Reply rate** (按时答复率) = ``replied_in_time / reply_due``. Due: cases with a first-reply
  deadline that were answered or are past it. In time: ``first_reply_at`` at or before
  ``reply_due_at``.
* **Return-visit rate** (回访率) = ``visits_answered / visits``: of the cases whose latest close
  got a return visit (回访: asked, answered or unreachable), those the citizen answered. The
  **unreachable rate** = ``visits_unreachable / visits``; visits still waiting (three days)
  count in ``visits`` only.
* **Satisfaction** (满意率) = ``(satisfied + basic) / visits_answered``: satisfied and basically
  satisfied answers over all answers. ``dissatisfied`` (and ``unsolved``) count against the
  case's current department, the one that handled it last.
* **Repeat complaints** (重复投诉率) = ``repeats / cases``: cases whose citizen had filed
  another case of the same category in the ``REPEAT_WINDOW_DAYS`` (30) days before (that
  earlier case in any state, merged ones too). Cases in triage, without a category, never
  count as repeats.

``rated`` and ``rated_satisfied`` count the 1-5 ratings (4 or 5: satisfied), from the citizen
or the return visit; they are counts, in no rate. The rates are defined once in
``domain.rates``; counting happens in SQL (storage.stats); this module scopes and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.rates import RATE_NAMES, rate_cell, rates_of
from civicline.handlers.unit_rates import Units, UnitScope, roll_up, unit_for, unit_scope
from civicline.storage.base import UnitOfWork
from civicline.storage.stats import (
    COUNTS,
    REPEAT_WINDOW_DAYS,
    REPORT_GROUPS,
    BacklogCounts,
    ReportGroup,
    ReportRow,
)

Period = Literal["day", "week", "month", "all"]
MAX_DAYS = 732  # two years in one report


@dataclass(frozen=True, slots=True)
class RateLine:
    """One group in one period: its counts and the rates they make."""

    group: ReportGroup
    key: str | None
    period: str  # 2026-11-27, 2026-W48, 2026-11, or 2026-11-01/2026-11-30
    counts: ReportRow

    @property
    def rates(self) -> dict[str, float | None]:
        return rates_of(self.counts)

    def count_values(self) -> dict[str, int]:
        return {name: getattr(self.counts, name) for name in COUNTS}


@dataclass(frozen=True, slots=True)
class RatesReport:
    since: date  # first filing day, city time
    until: date  # last filing day, inclusive
    as_of: datetime  # deadlines judged at this moment
    period: Period
    groups: tuple[ReportGroup, ...]
    department: str | None  # one department's cases only (a clerk's own)
    lines: list[RateLine]
    repeat_window_days: int = REPEAT_WINDOW_DAYS
    unit: UnitScope | None = None  # one unit's subtree, its children's lines in group ``unit``


def city_midnight(day: date, city: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), city).astimezone(UTC)


def scope_for(user: StaffUser, department: str | None) -> str | None:
    """Supervisors and admins see every department of their unit's subtree (or the one asked
    for); a department's staff see their own; nobody else reads the rates."""
    if user.oversees:
        if department is not None and not user.may_handle(department):
            raise NotAllowed(f"{user.username} reads the rates of their unit's departments only")
        return department
    if user.role == Role.STAFF and user.department:
        if department not in (None, user.department):
            raise NotAllowed("staff see their own department's rates only")
        return user.department
    raise NotAllowed(f"{user.username} may not read the rates")


async def rates_report(
    *,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
    city: ZoneInfo,
    groups: Sequence[ReportGroup] = REPORT_GROUPS,
    period: Period = "month",
    since: date | None = None,
    until: date | None = None,
    department: str | None = None,
    unit: str | None = None,
    units: Units | None = None,
    exact: bool = False,
) -> RatesReport:
    """The rates of the cases filed from ``since`` to ``until`` (city dates, both included;
    default: this month so far). With ``unit`` (or the group ``unit``): those of the unit's
    subtree, and a line for the unit's own departments and for each child (handlers.unit_rates).
    ``exact`` counts every case directly instead of from the daily summary (the reference).
    """
    scope = scope_for(user, department)
    chosen = tuple(g for g in (*REPORT_GROUPS, "unit") if g in groups)
    by_unit = None
    # A supervisor of a unit below the city reads that unit's subtree, asked or not.
    if unit is not None or "unit" in chosen or user.unit_bound:
        if units is None:
            raise InvalidInput("no units tree: rates by unit are not available")
        by_unit = unit_scope(units.tree, units.departments, unit_for(user, unit, units.tree))
        chosen = (*chosen, "unit") if "unit" not in chosen else chosen
    until = until or now.astimezone(city).date()
    since = since or until.replace(day=1)
    if since > until:
        raise InvalidInput("since is after until")
    if (until - since).days >= MAX_DAYS:
        raise InvalidInput(f"a report spans at most {MAX_DAYS} days")
    counted = chosen if by_unit is None or "department" in chosen else (*chosen, "department")
    async with uow:
        rows = await uow.stats.report(
            counted,
            period="day" if period == "week" else period,
            since=city_midnight(since, city),
            until=city_midnight(until + timedelta(days=1), city),
            now=now,
            department=scope,
            departments=None if by_unit is None else by_unit.departments,
            exact=exact,
        )
    if by_unit is not None:
        kept = [r for r in rows if r.group in chosen]
        rows = [
            *(r for r in kept if r.group == "total"),
            *roll_up(rows, by_unit),
            *(r for r in kept if r.group not in ("total", "unit")),
        ]
    if period == "week":
        rows = _weeks(rows)
    lines = [RateLine(r.group, r.key, _label(r.period, period, since, until), r) for r in rows]
    return RatesReport(since, until, now, period, chosen, scope, lines, unit=by_unit)


def _day(key: str) -> date:
    return date(2000 + int(key[:2]), int(key[2:4]), int(key[4:6]))


def _label(key: str, period: Period, since: date, until: date) -> str:
    if period == "all":
        return f"{since.isoformat()}/{until.isoformat()}"
    if period == "month":
        return f"20{key[:2]}-{key[2:4]}"
    if period == "week":
        return key
    return _day(key).isoformat()


def _weeks(rows: list[ReportRow]) -> list[ReportRow]:
    """Sum days into ISO weeks (Monday to Sunday), labelled 2026-W48."""
    summed: dict[tuple[ReportGroup, str | None, str], list[int]] = {}
    for row in rows:
        year, week, _ = _day(row.period).isocalendar()
        counts = summed.setdefault((row.group, row.key, f"{year}-W{week:02d}"), [0] * len(COUNTS))
        for i, name in enumerate(COUNTS):
            counts[i] += getattr(row, name)
    return [ReportRow(g, k, p, *counts) for (g, k, p), counts in summed.items()]


def csv_rows(lines: Sequence[RateLine]) -> list[list[str]]:
    """The one CSV of rates (the rates API's and the dashboard's): a header, then one row per
    line: its group, key and period, its counts, then its rates (4 places)."""
    header = ["group", "key", "period", *COUNTS, *(f"{name}_rate" for name in RATE_NAMES)]
    rows = [header]
    for line in lines:
        rates = line.rates
        rows.append(
            [
                line.group,
                line.key or "",
                line.period,
                *(str(n) for n in line.count_values().values()),
                *(rate_cell(rates[name]) for name in RATE_NAMES),
            ]
        )
    return rows


@dataclass(frozen=True, slots=True)
class CurrentFigures:
    """What /metrics exposes: no case, citizen or text, only counts and rates."""

    month: str  # 2026-11
    backlog: list[BacklogCounts]  # open cases awaiting a reply or triage, per department
    filed: dict[str, int]  # cases filed this month per channel (merged left out)
    closed: dict[str, int]  # cases closed this month per channel, whenever filed
    city: RateLine | None  # this month's rates, every department
    departments: list[RateLine]


async def current_figures(*, uow: UnitOfWork, now: datetime, city: ZoneInfo) -> CurrentFigures:
    """The backlog now, and this month's (city time) filings, closes and rates."""
    first = now.astimezone(city).date().replace(day=1)
    since = city_midnight(first, city)
    until = city_midnight((first + timedelta(days=32)).replace(day=1), city)
    async with uow:
        backlog = await uow.stats.backlog("department", now=now)
        rows = await uow.stats.report(
            ("total", "department", "channel"), period="all", since=since, until=until, now=now
        )
        closed = await uow.stats.closed(since=since, until=until)
    label = f"{first:%Y-%m}"
    lines = [RateLine(r.group, r.key, label, r) for r in rows]
    return CurrentFigures(
        month=label,
        backlog=backlog,
        filed={line.key or "": line.counts.cases for line in lines if line.group == "channel"},
        closed=closed,
        city=next((line for line in lines if line.group == "total"), None),
        departments=[line for line in lines if line.group == "department"],
    )
