"""The reception register on SQL: visits, the people in them (each ID number stored once, in
``visitors``) and the cases they touched (see domain.visits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.errors import AlreadyStored
from civicline.domain.visits import Earlier, Outcome, Visit, VisitKind, Visitor
from civicline.storage.rows import columns_of, from_row, row_of
from civicline.storage.tables import VisitCaseRow, VisitorRow, VisitPersonRow, VisitRow
from civicline.storage.upsert import is_unique_violation


class SqlVisits:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person(self, visitor: Visitor, *, at: datetime) -> Visitor:
        """The stored person with this ID number (or, without one, this phone), added when
        new; a new phone is kept, the citizen found first stays theirs."""
        key = (
            VisitorRow.id_number == visitor.id_number
            if visitor.id_number
            else (VisitorRow.phone == visitor.phone) & VisitorRow.id_number.is_(None)
        )
        row = await self.session.scalar(select(VisitorRow).where(key).limit(1))
        if row is None:
            row = VisitorRow(
                **columns_of(visitor, VisitorRow.__table__, skip=("id",)), created_at=at
            )
            self.session.add(row)
        else:
            row.phone = visitor.phone or row.phone
            row.citizen_id = row.citizen_id or visitor.citizen_id
        await _flush(self.session, "person")
        return from_row(Visitor, row)

    async def add(self, visit: Visit, register_id: str) -> Visit:
        """Store a visit whose visitors are stored persons (``person``)."""
        values = columns_of(visit, VisitRow.__table__, skip=("id",))
        row = VisitRow(
            **values, register_id=register_id, people=visit.people, collective=visit.collective
        )
        self.session.add(row)
        await _flush(self.session, "visit")
        visit.id = row.id
        for visitor in visit.visitors:
            assert visitor.id is not None
            self.session.add(VisitPersonRow(visit_id=row.id, visitor_id=visitor.id))
        for case_id in visit.case_ids:
            self.session.add(VisitCaseRow(visit_id=row.id, case_id=case_id))
        await self.session.flush()
        return visit

    async def who(self, id_number: str) -> Visitor | None:
        row = await self.session.scalar(select(VisitorRow).where(VisitorRow.id_number == id_number))
        return from_row(Visitor, row) if row is not None else None

    async def by_register_id(self, register_id: str) -> Visit | None:
        found = await self.session.scalar(
            select(VisitRow.id).where(VisitRow.register_id == register_id)
        )
        return await self.get(found) if found is not None else None

    async def get(self, visit_id: int) -> Visit:
        row = await row_of(self.session, VisitRow, visit_id, "visit")
        return (await self._load([row]))[0]

    async def earlier(self, people: Sequence[Visitor]) -> list[Earlier]:
        """Every visit of any of these persons (known by ID number or phone)."""
        ids = [p.id_number for p in people if p.id_number]
        phones = [p.phone for p in people if p.phone]
        rows = await self.session.execute(
            select(VisitRow.unit, VisitRow.received_at)
            .join(VisitPersonRow, VisitPersonRow.visit_id == VisitRow.id)
            .join(VisitorRow, VisitorRow.id == VisitPersonRow.visitor_id)
            .where(or_(VisitorRow.id_number.in_(ids), VisitorRow.phone.in_(phones)))
            .distinct()
        )
        return [Earlier(unit, at) for unit, at in rows]

    async def between(
        self, start: datetime, end: datetime, *, unit: str | None = None, limit: int = 10_000
    ) -> list[Visit]:
        """Visits received in [start, end), oldest first."""
        stmt = select(VisitRow).where(VisitRow.received_at >= start, VisitRow.received_at < end)
        if unit is not None:
            stmt = stmt.where(VisitRow.unit == unit)
        rows = await self.session.scalars(
            stmt.order_by(VisitRow.received_at, VisitRow.id).limit(limit)
        )
        return await self._load(list(rows))

    async def for_case(self, case_id: int) -> list[Visit]:
        rows = await self.session.scalars(
            select(VisitRow)
            .join(VisitCaseRow, VisitCaseRow.visit_id == VisitRow.id)
            .where(VisitCaseRow.case_id == case_id)
            .order_by(VisitRow.id)
        )
        return await self._load(list(rows))

    async def attach_cases(self, visit_id: int, case_ids: Sequence[int]) -> None:
        await self.session.execute(
            delete(VisitCaseRow).where(
                VisitCaseRow.visit_id == visit_id, VisitCaseRow.case_id.in_(case_ids)
            )
        )
        for case_id in case_ids:
            self.session.add(VisitCaseRow(visit_id=visit_id, case_id=case_id))
        await self.session.flush()

    async def _load(self, rows: list[VisitRow]) -> list[Visit]:
        ids = [r.id for r in rows]
        people: dict[int, list[Visitor]] = {i: [] for i in ids}
        cases: dict[int, list[int]] = {i: [] for i in ids}
        for link, person in await self.session.execute(
            select(VisitPersonRow.visit_id, VisitorRow)
            .join(VisitorRow, VisitorRow.id == VisitPersonRow.visitor_id)
            .where(VisitPersonRow.visit_id.in_(ids))
            .order_by(VisitorRow.id)
        ):
            people[link].append(from_row(Visitor, person))
        for visit_id, case_id in await self.session.execute(
            select(VisitCaseRow.visit_id, VisitCaseRow.case_id)
            .where(VisitCaseRow.visit_id.in_(ids))
            .order_by(VisitCaseRow.case_id)
        ):
            cases[visit_id].append(case_id)
        return [
            from_row(
                Visit,
                row,
                kind=VisitKind(row.kind),
                outcome=Outcome(row.outcome),
                visitors=people[row.id],
                case_ids=cases[row.id],
                staff=list(row.staff or []),
                attachments=list(row.attachments or []),
            )
            for row in rows
        ]


async def _flush(session: AsyncSession, what: str) -> None:
    """Flush, telling a unique row written by another request at the same moment
    (``AlreadyStored``: the transaction is spent, the caller starts again)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise AlreadyStored(what) from None
