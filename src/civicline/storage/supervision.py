"""Storage for supervision orders (督办) and leader ownership (包案): the orders with their
case's number and department, the reminder claim, the report's counts and the backlog."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Integer, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.cases import OPEN
from civicline.domain.errors import NotFound
from civicline.domain.ownership import BacklogEntry, CaseOwner
from civicline.domain.supervision import OrderStatus, SupervisionCounts, SupervisionOrder
from civicline.storage.cases import case_from_row
from civicline.storage.rows import columns_of, from_row, row_of
from civicline.storage.tables import CaseOwnerRow, CaseRow, SupervisionOrderRow
from civicline.storage.units import subtree_departments

OrderFilter = Literal["open", "answered", "closed", "overdue"]

_O = SupervisionOrderRow
# Not taken from a new order: its id and what the response and the reminders set.
_SET_LATER = ("id", "response", "responded_by", "responded_at", "reminders", "reminded_at")


def _order(
    row: SupervisionOrderRow, number: str | None, department: str | None
) -> SupervisionOrder:
    status = OrderStatus(row.status)
    return from_row(SupervisionOrder, row, status=status, case_number=number, department=department)


def _with_case() -> Any:
    return select(_O, CaseRow.number, CaseRow.department).join(CaseRow, CaseRow.id == _O.case_id)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


class SqlSupervision:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, order: SupervisionOrder) -> SupervisionOrder:
        row = _O(**columns_of(order, _O.__table__, skip=_SET_LATER), reminders=0)
        self.session.add(row)
        await self.session.flush()
        order.id = row.id
        return order

    async def get(self, order_id: int, *, lock: bool = False) -> SupervisionOrder:
        stmt = _with_case().where(_O.id == order_id)
        found = (await self.session.execute(stmt.with_for_update(of=_O) if lock else stmt)).first()
        if found is None:
            raise NotFound("supervision order", order_id)
        return _order(*found)

    async def save(self, order: SupervisionOrder) -> None:
        row = await row_of(self.session, _O, order.id, "supervision order")
        row.status = order.status
        row.due_at = order.due_at
        row.response = order.response
        row.responded_by = order.responded_by
        row.responded_at = order.responded_at

    async def for_case(self, case_id: int) -> list[SupervisionOrder]:
        rows = await self.session.execute(_with_case().where(_O.case_id == case_id).order_by(_O.id))
        return [_order(*r) for r in rows]

    async def listing(
        self,
        *,
        status: OrderFilter | None,
        department: str | None,
        now: datetime,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[SupervisionOrder]:
        """Orders by deadline, earliest first; ``overdue`` means open and past the deadline."""
        stmt = _with_case()
        if status == "overdue":
            stmt = stmt.where(_O.status == OrderStatus.OPEN, _O.due_at < now)
        elif status is not None:
            stmt = stmt.where(_O.status == status)
        if department is not None:
            stmt = stmt.where(CaseRow.department == department)
        if unit is not None:  # a unit's path: its subtree's departments
            stmt = stmt.where(CaseRow.department.in_(subtree_departments(unit)))
        stmt = stmt.order_by(_O.due_at, _O.id).limit(limit).offset(offset)
        return [_order(*r) for r in await self.session.execute(stmt)]

    async def reminder_candidates(
        self, *, now: datetime, within: timedelta, every: timedelta, limit: int
    ) -> list[SupervisionOrder]:
        """Open orders due before ``now + within`` not reminded in the last ``every``."""
        stmt = (
            _with_case()
            .where(
                _O.status == OrderStatus.OPEN,
                _O.due_at <= now + within,
                or_(_O.reminded_at.is_(None), _O.reminded_at <= now - every),
            )
            .order_by(_O.due_at, _O.id)
            .limit(limit)
        )
        return [_order(*r) for r in await self.session.execute(stmt)]

    async def claim_reminder(self, order_id: int, *, now: datetime, every: timedelta) -> bool:
        """Count one reminder, if none was given in the last ``every``: a conditional UPDATE,
        so of several schedulers running at once exactly one gets True."""
        result = await self.session.execute(
            update(_O)
            .where(
                _O.id == order_id,
                _O.status == OrderStatus.OPEN,
                or_(_O.reminded_at.is_(None), _O.reminded_at <= now - every),
            )
            .values(reminders=_O.reminders + 1, reminded_at=now)
            .returning(_O.id)
        )
        return result.scalar() is not None

    async def report(
        self, *, since: datetime | None, until: datetime | None, now: datetime
    ) -> list[SupervisionCounts]:
        """Orders issued in [since, until), per department of their case."""
        answered = _O.responded_at.is_not(None)
        is_open = _O.status == OrderStatus.OPEN
        stmt = (
            select(
                CaseRow.department,
                func.count(_O.id),
                _count(and_(answered, _O.responded_at <= _O.due_at)),
                _count(and_(answered, _O.responded_at > _O.due_at)),
                _count(is_open),
                _count(and_(is_open, _O.due_at < now)),
            )
            .join(CaseRow, CaseRow.id == _O.case_id)
            .group_by(CaseRow.department)
            .order_by(CaseRow.department)
        )
        if since is not None:
            stmt = stmt.where(_O.issued_at >= since)
        if until is not None:
            stmt = stmt.where(_O.issued_at < until)
        rows = await self.session.execute(stmt)
        return [SupervisionCounts(*row) for row in rows]


class SqlOwnership:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: int) -> CaseOwner | None:
        row = await self.session.get(CaseOwnerRow, case_id)
        if row is None:
            return None
        return from_row(CaseOwner, row, working_group=list(row.working_group or []))

    async def save(self, owner: CaseOwner) -> None:
        """Insert or update (one owner per case: the case id is the key). Callers hold the
        case row's lock, so two supervisors cannot both insert."""
        row = await self.session.get(CaseOwnerRow, owner.case_id)
        if row is None:
            row = CaseOwnerRow(case_id=owner.case_id)
            self.session.add(row)
        row.leader = owner.leader
        row.supervising_leader = owner.supervising_leader
        row.working_group = list(owner.working_group)
        row.plan = owner.plan
        row.assigned_by = owner.assigned_by
        row.assigned_at = owner.assigned_at
        row.updated_at = owner.updated_at
        await self.session.flush()

    async def backlog(
        self,
        *,
        opened_before: datetime,
        department: str | None,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[BacklogEntry]:
        """Open cases filed at or before ``opened_before``, oldest first, with their leader
        and their count of orders waiting for a response."""
        open_orders = (
            select(func.count(_O.id))
            .where(_O.case_id == CaseRow.id, _O.status == OrderStatus.OPEN)
            .correlate(CaseRow)
            .scalar_subquery()
        )
        stmt = (
            select(CaseRow, CaseOwnerRow.leader, open_orders)
            .outerjoin(CaseOwnerRow, CaseOwnerRow.case_id == CaseRow.id)
            .where(CaseRow.status.in_([str(s) for s in OPEN]), CaseRow.created_at <= opened_before)
        )
        if department is not None:
            stmt = stmt.where(CaseRow.department == department)
        if unit is not None:  # a unit's path: its subtree's departments
            stmt = stmt.where(CaseRow.department.in_(subtree_departments(unit)))
        stmt = stmt.order_by(CaseRow.created_at, CaseRow.id).limit(limit).offset(offset)
        entries = []
        for row, leader, count in await self.session.execute(stmt):
            entries.append(BacklogEntry(case_from_row(row), leader, int(count or 0)))
        return entries
