"""Storage for governance: escalation rungs (once each), staff notifications, the cases the
scheduler must look at."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE
from civicline.domain.governance import Notification, VisitStatus
from civicline.storage.rows import columns_of, from_row
from civicline.storage.tables import CaseRow, EscalationRow, NotificationRow, SurgeAlertRow
from civicline.storage.units import subtree_departments

HORIZON = timedelta(days=30)  # how far back a missed deadline is still escalated
NEAR_DUE_LEVEL = 0  # the "due soon" warning takes rung 0, so it too is given once


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(EscalationRow)


def _in(statuses: frozenset[str]) -> list[str]:
    return [str(s) for s in statuses]


class SqlGovernance:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def overdue(
        self, *, now: datetime, below_level: int, limit: int, horizon: timedelta = HORIZON
    ) -> list[str]:
        """Numbers of cases past a deadline they still owe (acceptance or completion), not
        waiting for the citizen, below the ladder's top rung; most overdue first. Deadlines
        missed longer than ``horizon`` ago are left out: a live case reached the top rung long
        before, so those are history (an import of past calls), not news for anyone."""
        oldest = now - horizon
        rows = await self.session.scalars(
            select(CaseRow.number)
            .where(
                CaseRow.paused_since.is_(None),
                CaseRow.escalation_level < below_level,
                or_(
                    and_(
                        CaseRow.status.in_(_in(AWAITING_REPLY)),
                        CaseRow.complete_due_at < now,
                        CaseRow.complete_due_at >= oldest,
                    ),
                    and_(
                        CaseRow.status.in_(_in(AWAITING_TRIAGE)),
                        CaseRow.accept_due_at < now,
                        CaseRow.accept_due_at >= oldest,
                    ),
                ),
            )
            .order_by(CaseRow.complete_due_at, CaseRow.id)
            .limit(limit)
        )
        return list(rows)

    async def near_due(self, *, now: datetime, until: datetime, limit: int) -> list[str]:
        """Cases owing an answer that fall due before ``until`` and were not warned yet."""
        warned = (
            select(EscalationRow.case_id)
            .where(EscalationRow.case_id == CaseRow.id, EscalationRow.level == NEAR_DUE_LEVEL)
            .exists()
        )
        rows = await self.session.scalars(
            select(CaseRow.number)
            .where(
                CaseRow.status.in_(_in(AWAITING_REPLY)),
                CaseRow.paused_since.is_(None),
                CaseRow.complete_due_at >= now,
                CaseRow.complete_due_at < until,
                ~warned,
            )
            .order_by(CaseRow.complete_due_at, CaseRow.id)
            .limit(limit)
        )
        return list(rows)

    async def claim_rung(self, case_id: int, level: int, *, at: datetime) -> bool:
        """Take rung ``level`` for the case: True for exactly one caller, however many try."""
        result = await self.session.execute(
            _insert(self.session)
            .values(case_id=case_id, level=level, at=at)
            .on_conflict_do_nothing(index_elements=["case_id", "level"])
            .returning(EscalationRow.level)
        )
        return result.scalar() is not None

    async def notify(self, notification: Notification) -> Notification:
        row = NotificationRow(
            **columns_of(notification, NotificationRow.__table__, skip=("id", "read_at"))
        )
        self.session.add(row)
        await self.session.flush()
        return _notification(row)

    async def notifications(
        self,
        *,
        audiences: list[str],
        department: str | None,
        limit: int,
        unread_only: bool,
        unit: str | None = None,
    ) -> list[Notification]:
        """Newest first; ``department`` None means every department's (those of the subtree
        of the unit whose path is ``unit``, when given)."""
        query = select(NotificationRow).where(NotificationRow.audience.in_(audiences))
        if department is not None:
            query = query.where(NotificationRow.department == department)
        if unit is not None:
            query = query.where(NotificationRow.department.in_(subtree_departments(unit)))
        if unread_only:
            query = query.where(NotificationRow.read_at.is_(None))
        rows = await self.session.scalars(query.order_by(NotificationRow.id.desc()).limit(limit))
        return [_notification(r) for r in rows]

    async def mark_read(self, ids: list[int], *, at: datetime) -> None:
        if ids:
            await self.session.execute(
                update(NotificationRow)
                .where(NotificationRow.id.in_(ids), NotificationRow.read_at.is_(None))
                .values(read_at=at)
            )

    async def report_counts(
        self, *, recent_since: datetime, usual_since: datetime, now: datetime
    ) -> list[tuple[str, str, int, int]]:
        """(category, district, reports since ``recent_since``, reports from ``usual_since``
        up to ``recent_since``) for every pair with a recent report; merged reports count:
        a surge is about how many people report."""
        recent = func.sum(case((CaseRow.created_at >= recent_since, 1), else_=0))
        rows = await self.session.execute(
            select(CaseRow.category, CaseRow.district, recent, func.count())
            .where(
                CaseRow.created_at >= usual_since,
                CaseRow.created_at <= now,
                CaseRow.category.is_not(None),
                CaseRow.district.is_not(None),
            )
            .group_by(CaseRow.category, CaseRow.district)
            .having(recent > 0)
        )
        return [(c, d, int(r), int(total) - int(r)) for c, d, r, total in rows]

    async def claim_surge(
        self,
        category: str,
        district: str,
        bucket: datetime,
        *,
        at: datetime,
        count: int,
        usual: float,
    ) -> bool:
        """Record the surge alert for this hour: True for exactly one caller."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = await self.session.execute(
            insert(SurgeAlertRow)
            .values(
                category=category, district=district, bucket=bucket, at=at, count=count, usual=usual
            )
            .on_conflict_do_nothing(index_elements=["category", "district", "bucket"])
            .returning(SurgeAlertRow.category)
        )
        return result.scalar() is not None

    async def unanswered_visits(self, *, asked_before: datetime, limit: int) -> list[str]:
        rows = await self.session.scalars(
            select(CaseRow.number)
            .where(CaseRow.visit_status == VisitStatus.ASKED, CaseRow.closed_at < asked_before)
            .order_by(CaseRow.closed_at)
            .limit(limit)
        )
        return list(rows)


def _notification(row: NotificationRow) -> Notification:
    return from_row(Notification, row)
