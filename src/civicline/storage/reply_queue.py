"""The console's queue pages: the reply queue and the triage queue with filters and search.

Without a search, a page is a walk along a partial index (``ix_cases_reply_queue`` for one
department, ``ix_cases_awaiting_reply_by_deadline`` for all, ``ix_cases_triage``) in deadline
order: no sort, and closed cases never enter those indexes. Filters on channel, category and
urgency are checked on the rows the walk meets. A text search scans the open cases only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE, Case
from civicline.domain.claims import QueueFilter, QueueKind
from civicline.storage.cases import case_from_row
from civicline.storage.tables import CaseRow
from civicline.storage.units import subtree_departments


@dataclass(frozen=True, slots=True)
class QueuePage:
    cases: list[Case]
    total: int  # cases matching the filter
    overdue: int  # of those, past their deadline


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlQueueView:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _where(self, query: QueueFilter) -> list[Any]:
        statuses = AWAITING_REPLY if query.kind == QueueKind.REPLY else AWAITING_TRIAGE
        where: list[Any] = [CaseRow.status.in_(sorted(str(s) for s in statuses))]
        if query.department is not None:
            where.append(CaseRow.department == query.department)
        if query.unit is not None:
            where.append(CaseRow.department.in_(subtree_departments(query.unit)))
        if query.channel:
            where.append(CaseRow.channel == query.channel)
        if query.category:
            where.append(CaseRow.category == query.category)
        if query.urgent:
            # Written as the partial index ix_cases_urgent_queue states it, so it is used.
            where.append(or_(CaseRow.urgent, CaseRow.collective))
        if query.number:
            where.append(CaseRow.number.like(query.number.replace("_", "") + "%"))
        if query.text:
            where.append(CaseRow.summary.like(_like(query.text), escape="\\"))
        if query.phone:
            where.append(
                or_(
                    CaseRow.reply_to.like(_like(query.phone), escape="\\"),
                    CaseRow.summary.like(_like(query.phone), escape="\\"),
                )
            )
        return where

    def _deadline(self, query: QueueFilter) -> Any:
        return CaseRow.complete_due_at if query.kind == QueueKind.REPLY else CaseRow.accept_due_at

    async def page(self, query: QueueFilter, *, now: datetime) -> QueuePage:
        where = self._where(query)
        deadline = self._deadline(query)
        if query.overdue:
            where.append(deadline < now)
        page = select(CaseRow).where(*where).order_by(deadline, CaseRow.id)
        page = page.limit(query.limit).offset(query.offset)
        total = func.count()
        late = func.count().filter(deadline < now)
        if query.text or query.phone:
            # A search reads every open case's text: count in the same pass (a window over
            # the matches) instead of a second scan.
            rows = (await self.session.execute(page.add_columns(total.over(), late.over()))).all()
            if rows or not query.offset:
                cases = [case_from_row(row[0]) for row in rows]
                counts = (rows[0][1], rows[0][2]) if rows else (0, 0)
                return QueuePage(cases=cases, total=int(counts[0]), overdue=int(counts[1]))
        cases = [case_from_row(r) for r in await self.session.scalars(page)]
        counted = (await self.session.execute(select(total, late).where(*where))).one()
        return QueuePage(cases=cases, total=int(counted[0]), overdue=int(counted[1] or 0))
