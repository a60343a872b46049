"""The figures behind the dashboard, the rates API and /metrics, counted in SQL with GROUP BY
over the cases table's own columns (what each figure means: handlers.rates; the rates
themselves: domain.rates).

* **Periods.** A case belongs to the period it was filed in: the first six digits of its
  number are its city-time filing date (``YYMMDD``), so day and month keys are substrings and
  no time-zone arithmetic differs between SQLite and PostgreSQL. Weeks are summed from days
  by the caller.
* **Groups.** A case counts in the group of its current department, category, channel and
  outcome (``None``: none yet). ``total`` is every case of the period.
* **Due means due by ``now``**: a deadline still ahead neither helps nor hurts a rate.
* **Merged cases** (duplicates) count only as ``merged``. **Declined cases** (不予受理) count
  for acceptance only.
* **Columns, not history.** Migrations 0007 and 0018 put the times the rates need on the case
  (``accepted_at``, ``declined_at``, ``first_reply_at``, ``closed_at``, the visit's answer).
  The history is read only where no column says it: the times of cases that reached a
  decision before the columns were added and were not backfilled. That is a correlated
  look-up on ``ix_case_events_case`` that runs only for those rows.
* **Two levels.** One scan of the period's cases (``ix_cases_created_at``) counts per
  smallest group (period x every dimension asked for); each group asked for is then summed
  from those few rows, all in one statement. Repeat complaints look back along
  ``ix_cases_repeat`` (citizen, category, filing time).
* **The summary (PostgreSQL).** Triggers (migrations 0017, 0018) keep each settled case's
  counts in ``case_rate_cells`` (filing day x the four dimensions): closed or declined, with
  every time its counts read stored on it. They keep the look-back in ``cases.is_repeat``. A
  report sums the cells of the days wholly inside its range and counts the rest: the
  unsettled cases one by one (``ix_cases_unsettled``), the merged ones from the index that
  holds what they need (``ix_cases_merged_filed``: a merged case counts only as merged), and
  the settled cases of the days its ends cut through. ``exact`` (and SQLite, always) counts
  every case.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE, CaseStatus
from civicline.domain.governance import Satisfaction, VisitStatus
from civicline.storage.tables import (
    MERGED,
    RATE_COUNTS,
    UNSETTLED,
    CaseEventRow,
    CaseRateCellRow,
    CaseRow,
)

BacklogGroup = Literal["department", "channel"]
# ``unit`` lines are summed from ``department`` rows by handlers.unit_rates, not counted here.
ReportGroup = Literal["total", "department", "category", "channel", "outcome", "unit"]
ReportPeriod = Literal["day", "month", "all"]

REPORT_GROUPS: tuple[ReportGroup, ...] = ("total", "department", "category", "channel", "outcome")
# A repeat complaint: the same citizen, the same category, within this many days before.
REPEAT_WINDOW_DAYS = 30

S = CaseStatus
# Acceptance is decided by accepting (受理) or declining (不予受理) the case.
_DECIDED = (S.ACCEPTED, S.REJECTED)


@dataclass(frozen=True, slots=True)
class BacklogCounts:
    key: str | None
    backlog: int
    overdue: int


@dataclass(frozen=True, slots=True)
class ReportRow:
    """Counts for one group in one period. ``period`` is ``YYMMDD``, ``YYMM`` or ``""`` (the
    whole range); ``key`` the department, category, channel or outcome (``None`` for none,
    and for the ``total`` group)."""

    group: ReportGroup
    key: str | None
    period: str
    cases: int = 0  # filed, not merged
    merged: int = 0
    rejected: int = 0
    accept_due: int = 0
    accepted_in_time: int = 0
    complete_due: int = 0
    completed_in_time: int = 0
    closed: int = 0
    reply_due: int = 0
    replied_in_time: int = 0
    visits: int = 0
    visits_answered: int = 0
    visits_unreachable: int = 0
    satisfied: int = 0
    basic: int = 0
    dissatisfied: int = 0
    unsolved: int = 0
    repeats: int = 0
    legal_matters: int = 0
    rated: int = 0  # a 1-5 rating, from the citizen or the return visit
    rated_satisfied: int = 0  # rated 4 or 5


COUNTS: tuple[str, ...] = tuple(f.name for f in fields(ReportRow))[3:]
assert COUNTS == RATE_COUNTS, "case_rate_cells holds ReportRow's counts, in its order"


class days_before(FunctionElement[datetime]):
    """``moment`` less a whole number of days, in each dialect's own arithmetic."""

    type = DateTime()
    inherit_cache = True
    name = "days_before"


@compiles(days_before)
def _days_before(element: days_before, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({moment} - make_interval(days => {days}))"


@compiles(days_before, "sqlite")
def _days_before_sqlite(element: days_before, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' text; strftime answers in the same shape
    # (to the millisecond), so the two compare as text.
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"strftime('%Y-%m-%d %H:%M:%f', {moment}, '-{days} days')"


def _event_time(statuses: tuple[CaseStatus, ...], *, last: bool = False) -> Any:
    at = func.max(CaseEventRow.at) if last else func.min(CaseEventRow.at)
    return (
        select(at)
        .where(
            CaseEventRow.case_id == CaseRow.id,
            CaseEventRow.to_status.in_([str(s) for s in statuses]),
        )
        .correlate(CaseRow)
        .scalar_subquery()
    )


def _conditions(
    now: datetime, repeat_days: int, *, stored_repeat: bool = False
) -> dict[str, ColumnElement[bool]]:
    """When each case counts, by name (the names of ``ReportRow``'s counts). With
    ``stored_repeat`` a repeat complaint is the flag PostgreSQL's triggers keep, not a look-back.
    """
    c = CaseRow
    live = c.status != S.MERGED
    # The decision on acceptance: the columns (accepted, or declined without being accepted),
    # else (stored before 0007, or declined before 0018) the history. Cases still in triage
    # (received) have none.
    decided_at = case(
        (c.accepted_at.is_not(None), c.accepted_at),
        (c.declined_at.is_not(None), c.declined_at),
        (c.status.not_in([S.RECEIVED, S.MERGED]), _event_time(_DECIDED)),
    )
    closed = c.status == S.CLOSED
    closed_at = case(
        (c.closed_at.is_not(None), c.closed_at),
        (closed, _event_time((S.CLOSED,), last=True)),
    )
    owed = live & (c.status != S.REJECTED)  # a declined case owes no reply, no completion
    answered = live & (c.visit_status == VisitStatus.ANSWERED)
    earlier = aliased(CaseRow, name="earlier")
    repeat: ColumnElement[bool] = (
        c.is_repeat.is_(True)
        if stored_repeat
        else exists(
            select(earlier.id).where(
                earlier.citizen_id == c.citizen_id,
                earlier.category == c.category,
                earlier.created_at < c.created_at,
                earlier.created_at >= days_before(c.created_at, literal_column(str(repeat_days))),
            )
        )
    )
    return {
        "cases": live,
        "merged": c.status == S.MERGED,
        "rejected": c.status == S.REJECTED,
        "accept_due": live & (decided_at.is_not(None) | (c.accept_due_at <= now)),
        "accepted_in_time": live & (decided_at <= c.accept_due_at),
        "complete_due": owed & (closed | (c.complete_due_at <= now)),
        "completed_in_time": owed & closed & (closed_at <= c.complete_due_at),
        "closed": live & closed,
        "reply_due": owed
        & c.reply_due_at.is_not(None)
        & (c.first_reply_at.is_not(None) | (c.reply_due_at <= now)),
        "replied_in_time": owed & (c.first_reply_at <= c.reply_due_at),
        "visits": live & c.visit_status.is_not(None),
        "visits_answered": answered,
        "visits_unreachable": live & (c.visit_status == VisitStatus.UNREACHABLE),
        "satisfied": answered & (c.satisfaction == Satisfaction.SATISFIED),
        "basic": answered & (c.satisfaction == Satisfaction.BASIC),
        "dissatisfied": answered & (c.satisfaction == Satisfaction.DISSATISFIED),
        "unsolved": answered & c.solved.is_(False),
        "repeats": live & c.category.is_not(None) & repeat,
        "legal_matters": live & closed & c.legal_matter.is_(True),
        "rated": live & c.rating.is_not(None),
        "rated_satisfied": live & (c.rating >= 4),
    }


def _period_key(period: ReportPeriod) -> ColumnElement[str] | None:
    if period == "day":
        return func.substr(CaseRow.number, 1, 6)
    if period == "month":
        return func.substr(CaseRow.number, 1, 4)
    return None


_DIMENSIONS: dict[str, Any] = {
    "department": CaseRow.department,
    "category": CaseRow.category,
    "channel": CaseRow.channel,
    "outcome": CaseRow.outcome,
}


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a report counts: its groups' columns, period and range, and department(s)."""

    groups: list[ReportGroup]
    period: ReportPeriod
    since: datetime
    until: datetime
    department: str | None
    departments: Collection[str] | None

    @property
    def period_key(self) -> ColumnElement[str] | None:
        return _period_key(self.period)

    def counted(self, conditions: dict[str, ColumnElement[bool]], *where: Any) -> Select[Any]:
        """The range's cases counted one by one per smallest group (period x dimensions)."""
        counts = [func.count().filter(cond).label(name) for name, cond in conditions.items()]
        return self._grouped(counts, *where)

    def merged(self) -> Select[Any]:
        """The range's merged cases per smallest group: a merged case counts only as merged,
        so the index that holds the group's columns answers (``ix_cases_merged_filed``)."""
        counts = [
            (func.count() if name == "merged" else literal_column("0")).label(name)
            for name in COUNTS
        ]
        return self._grouped(counts, text(f"({MERGED})"))

    def _grouped(self, counts: Sequence[ColumnElement[Any]], *where: Any) -> Select[Any]:
        c = CaseRow
        keys = [_DIMENSIONS[g].label(g) for g in _DIMENSIONS if g in self.groups]
        period_key = self.period_key
        smallest = [*keys, *([period_key.label("period")] if period_key is not None else [])]
        base = select(*smallest, *counts).where(
            c.created_at >= self.since, c.created_at < self.until, *where
        )
        base = self._in_scope(base, c.department)
        return base.group_by(*smallest) if smallest else base

    def summed(self, days: list[str]) -> Select[Any]:
        """The stored counts of the settled cases of ``days``, per smallest group."""
        r = CaseRateCellRow
        stored = {"department": r.department, "category": r.category, "outcome": r.outcome}
        keys = [
            (func.nullif(stored[g], "") if g in stored else r.channel).label(g)
            for g in _DIMENSIONS
            if g in self.groups
        ]
        if self.period == "day":
            keys.append(r.day.label("period"))
        elif self.period == "month":
            keys.append(func.substr(r.day, 1, 4).label("period"))
        sums = (func.sum(getattr(r, name)).label(name) for name in COUNTS)
        base = self._in_scope(select(*keys, *sums).where(r.day.in_(days)), r.department)
        return base.group_by(*keys) if keys else base

    def _in_scope(self, stmt: Select[Any], department: Any) -> Select[Any]:
        if self.department is not None:
            stmt = stmt.where(department == self.department)
        if self.departments is not None:
            stmt = stmt.where(department.in_(sorted(self.departments)))
        return stmt


class SqlStats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def report(
        self,
        groups: tuple[ReportGroup, ...] | list[ReportGroup],
        *,
        period: ReportPeriod,
        since: datetime,
        until: datetime,
        now: datetime,
        department: str | None = None,
        departments: Collection[str] | None = None,
        repeat_days: int = REPEAT_WINDOW_DAYS,
        exact: bool = False,
    ) -> list[ReportRow]:
        """Counts per group and period for the cases filed from ``since`` (inclusive) to
        ``until`` (exclusive), deadlines judged at ``now``; one department's cases only when
        ``department`` is given, those of ``departments`` (a unit's subtree) when they are.
        Groups and periods without a case are left out.

        On PostgreSQL the settled cases' counts come from ``case_rate_cells`` and only the
        others are counted case by case; ``exact`` counts every case (the reference)."""
        groups = [g for g in groups if g != "unit"]
        if not groups:
            return []
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        scope = _Scope(groups, period, since, until, department, departments)
        if postgresql and not exact and repeat_days == REPEAT_WINDOW_DAYS:
            parts = await self._summed_cells(scope, now)
        else:
            parts = [scope.counted(_conditions(now, repeat_days))]
        cells = (union_all(*parts) if len(parts) > 1 else parts[0]).cte("cells")
        period_out = cells.c.period if scope.period_key is not None else literal_column("''")
        sums = [func.sum(cells.c[name]).label(name) for name in COUNTS]
        selects = []
        for group in groups:
            key = cells.c[group] if group != "total" else cast(null(), String)
            part = select(
                literal_column(f"'{group}'").label("grp"), key.label("key"),
                period_out.label("period"), *sums,
            )  # fmt: skip
            by = [
                *([key] if group != "total" else []),
                *([period_out] if scope.period_key is not None else []),
            ]
            selects.append(part.group_by(*by) if by else part)
        if postgresql:
            # The planner prices the per-case look-ups high enough to JIT-compile the query,
            # which costs more than the whole scan (165 ms against 60 ms at 9,000 cases); a
            # month's cases sort in memory with more than the default 4 MB.
            await self.session.execute(text("SET LOCAL jit = off"))
            await self.session.execute(text("SET LOCAL work_mem = '32MB'"))
        rows = await self.session.execute(union_all(*selects) if len(selects) > 1 else selects[0])
        found = []
        for row in rows:
            counts = [int(n or 0) for n in row[3:]]
            if any(counts[:2]):  # cases or merged: the group had a filing
                found.append(ReportRow(row[0], row[1], row[2] or "", *counts))
        order = {g: i for i, g in enumerate(REPORT_GROUPS)}
        found.sort(key=lambda r: (order[r.group], r.key is None, r.key or "", r.period))
        return found

    async def _summed_cells(self, scope: _Scope, now: datetime) -> list[Select[Any]]:
        """The cells of the filing days whose settled cases all lie in the range, the
        unsettled cases counted one by one, and the settled cases of the days the range's
        ends cut through (a case's number carries its city filing day, so its filing time
        lies within a day of it: the days looked at reach two days past the range)."""
        r = CaseRateCellRow
        first, last = (
            f"{(moment.astimezone(UTC) + timedelta(days=shift)):%y%m%d}"
            for moment, shift in ((scope.since, -2), (scope.until, 2))
        )
        spans = await self.session.execute(
            select(r.day, func.min(r.first_at), func.max(r.last_at))
            .where(r.day.between(first, last))
            .group_by(r.day)
        )
        inside, cut = [], []
        for day, first_at, last_at in spans:
            if first_at >= scope.since and last_at < scope.until:
                inside.append(day)
            elif last_at >= scope.since and first_at < scope.until:
                cut.append(day)
        counted = _conditions(now, REPEAT_WINDOW_DAYS, stored_repeat=True)
        parts = [scope.counted(counted, text(f"({UNSETTLED})")), scope.merged()]
        if inside:
            parts.append(scope.summed(inside))
        if cut:
            cut_days = func.substr(CaseRow.number, 1, 6).in_(sorted(cut))
            settled = text(f"NOT ({MERGED} OR {UNSETTLED})")
            parts.append(scope.counted(counted, settled, cut_days))
        return parts

    async def backlog(
        self,
        group: BacklogGroup,
        *,
        now: datetime,
        department: str | None = None,
        departments: Collection[str] | None = None,
    ) -> list[BacklogCounts]:
        """Open cases nobody has answered yet (awaiting a reply or triage), and how many of
        them are past their completion deadline. Whenever filed.

        Counted as two queries, each stating one of the partial indexes' predicates
        (``ix_cases_reply_queue``, ``ix_cases_triage``) so that PostgreSQL reads only the open
        cases, however many closed ones pile up."""
        key = CaseRow.department if group == "department" else CaseRow.channel
        totals: dict[str | None, list[int]] = {}
        for statuses in (AWAITING_REPLY, AWAITING_TRIAGE):
            stmt = select(
                key, func.count(), func.count().filter(CaseRow.complete_due_at < now)
            ).where(CaseRow.status.in_(sorted(str(s) for s in statuses)))
            if department is not None:
                stmt = stmt.where(CaseRow.department == department)
            if departments is not None:
                stmt = stmt.where(CaseRow.department.in_(sorted(departments)))
            for row in await self.session.execute(stmt.group_by(key)):
                counts = totals.setdefault(row[0], [0, 0])
                counts[0] += int(row[1])
                counts[1] += int(row[2] or 0)
        return [
            BacklogCounts(k, *totals[k]) for k in sorted(totals, key=lambda k: (k is None, k or ""))
        ]

    async def closed(self, *, since: datetime, until: datetime) -> dict[str, int]:
        """Cases closed (办结) from ``since`` to ``until``, whenever filed, per channel (a case
        reopened and closed again counts at its latest close)."""
        rows = await self.session.execute(
            select(CaseRow.channel, func.count())
            .where(
                and_(CaseRow.closed_at >= since, CaseRow.closed_at < until),
                CaseRow.status == S.CLOSED,
            )
            .group_by(CaseRow.channel)
        )
        return {row[0]: int(row[1]) for row in rows}
