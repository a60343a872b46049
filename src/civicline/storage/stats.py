"""The figures the dashboard shows, computed in SQL with GROUP BY (definitions: handlers.stats).

Each case counts once, in the group of its current department, its channel, or the day it
was filed (the first six digits of its number: the city-time date, so no time-zone arithmetic
differs between SQLite and PostgreSQL). Merged cases (duplicates) count nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE, CaseStatus
from civicline.storage.tables import CaseEventRow, CaseRow

RateGroup = Literal["department", "channel", "day"]
BacklogGroup = Literal["department", "channel"]

# Acceptance is decided by accepting (受理) or declining (不予受理) the case.
_DECIDED = (CaseStatus.ACCEPTED, CaseStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class RateCounts:
    """Counts for one group; ``key`` is a department code, a channel or a day (YYMMDD)."""

    key: str | None
    cases: int
    accept_due: int
    accepted_in_time: int
    complete_due: int
    completed_in_time: int
    rated: int
    satisfied: int


@dataclass(frozen=True, slots=True)
class BacklogCounts:
    key: str | None
    backlog: int
    overdue: int


def _first_event(statuses: tuple[CaseStatus, ...]) -> Any:
    return (
        select(func.min(CaseEventRow.at))
        .where(
            CaseEventRow.case_id == CaseRow.id,
            CaseEventRow.to_status.in_([str(s) for s in statuses]),
        )
        .correlate(CaseRow)
        .scalar_subquery()
    )


class SqlStats:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rates(
        self,
        group: RateGroup,
        *,
        since: datetime,
        now: datetime,
        department: str | None = None,
    ) -> list[RateCounts]:
        """Counts behind the three rates, for cases filed from ``since`` to ``now``."""
        key = {
            "department": CaseRow.department,
            "channel": CaseRow.channel,
            "day": func.substr(CaseRow.number, 1, 6),
        }[group]
        cases = select(
            key.label("key"),
            CaseRow.status,
            CaseRow.rating,
            CaseRow.accept_due_at,
            CaseRow.complete_due_at,
            _first_event(_DECIDED).label("decided_at"),
            _first_event((CaseStatus.CLOSED,)).label("closed_at"),
        ).where(
            CaseRow.created_at >= since,
            CaseRow.created_at <= now,
            CaseRow.status != CaseStatus.MERGED,
        )
        if department is not None:
            cases = cases.where(CaseRow.department == department)
        c = cases.subquery()
        completing = c.c.status != CaseStatus.REJECTED
        rows = await self.session.execute(
            select(
                c.c.key,
                func.count(),
                func.count().filter((c.c.decided_at.is_not(None)) | (c.c.accept_due_at <= now)),
                func.count().filter(c.c.decided_at <= c.c.accept_due_at),
                func.count().filter(
                    completing & ((c.c.closed_at.is_not(None)) | (c.c.complete_due_at <= now))
                ),
                func.count().filter(completing & (c.c.closed_at <= c.c.complete_due_at)),
                func.count().filter(c.c.rating.is_not(None)),
                func.count().filter(c.c.rating >= 4),
            )
            .group_by(c.c.key)
            .order_by(c.c.key)
        )
        return [RateCounts(*(row[0], *(int(n or 0) for n in row[1:]))) for row in rows]

    async def backlog(
        self, group: BacklogGroup, *, now: datetime, department: str | None = None
    ) -> list[BacklogCounts]:
        """Open cases nobody has answered yet (awaiting a reply or triage), and how many of
        them are past their completion deadline. Whenever filed."""
        key = CaseRow.department if group == "department" else CaseRow.channel
        statuses = sorted(str(s) for s in AWAITING_REPLY | AWAITING_TRIAGE)
        stmt = select(key, func.count(), func.count().filter(CaseRow.complete_due_at < now)).where(
            CaseRow.status.in_(statuses)
        )
        if department is not None:
            stmt = stmt.where(CaseRow.department == department)
        rows = await self.session.execute(stmt.group_by(key).order_by(key))
        return [BacklogCounts(row[0], int(row[1]), int(row[2] or 0)) for row in rows]
