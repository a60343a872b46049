"""Cases with their history: the row mapping, numbering and the case repository."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.errors import NotFound
from civicline.domain.governance import Outcome, Satisfaction, VisitStatus
from civicline.domain.messages import Channel, Language
from civicline.storage.board import copied, follow_case
from civicline.storage.case_numbers import next_numbers
from civicline.storage.rows import columns_of, from_row, row_of
from civicline.storage.tables import CaseEventRow, CaseRow
from civicline.storage.units import subtree_departments


def case_from_row(row: CaseRow, events: Sequence[CaseEventRow] = ()) -> Case:
    return from_row(
        Case,
        row,
        channel=Channel(row.channel),
        language=Language(row.language),
        status=CaseStatus(row.status),
        reply_channel=Channel(row.reply_channel) if row.reply_channel else None,
        outcome=Outcome(row.outcome) if row.outcome else None,
        satisfaction=Satisfaction(row.satisfaction) if row.satisfaction else None,
        visit_status=VisitStatus(row.visit_status) if row.visit_status else None,
        location=(
            (row.latitude, row.longitude)
            if row.latitude is not None and row.longitude is not None
            else None
        ),
        events=[
            from_row(
                CaseEvent,
                e,
                kind=EventKind(e.kind),
                from_status=CaseStatus(e.from_status) if e.from_status else None,
                to_status=CaseStatus(e.to_status) if e.to_status else None,
                data=dict(e.data or {}),
            )
            for e in events
        ],
    )


CASE_FIELDS = (
    "category",
    "department",
    "status",
    "urgent",
    "collective",
    "place",
    "subcategory",
    "reply_channel",
    "reply_due_at",
    "accepted_at",
    "declined_at",
    "first_reply_at",
    "closed_at",
    "paused_since",
    "outcome",
    "legal_matter",
    "satisfaction",
    "solved",
    "visit_status",
    "second_review",
    "escalation_level",
    "district",
    "unit",
    "reporters",
    "incident_signature",
    "classified_by",
    "confidence",
    "merged_into",
    "resolution",
    "rating",
    "summary",
    "accept_due_at",
    "complete_due_at",
)


class SqlCases:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The rows this unit of work read or added, kept alive (the session only holds them
        # weakly): saving a case then needs no SELECT of its row again.
        self._rows: dict[int, CaseRow] = {}

    async def next_number(self, day: date) -> str:
        [number] = await next_numbers(self.session, day, 1)
        return number

    async def next_numbers(self, day: date, count: int) -> list[str]:
        return await next_numbers(self.session, day, count)

    async def add(self, case: Case) -> Case:
        row = CaseRow(
            number=case.number,
            citizen_id=case.citizen_id,
            channel=case.channel,
            reply_to=case.reply_to,
            language=case.language,
            created_at=case.created_at,
            updated_at=case.updated_at or case.created_at,
            latitude=case.location[0] if case.location else None,
            longitude=case.location[1] if case.location else None,
            **{name: getattr(case, name) for name in CASE_FIELDS},
        )
        self.session.add(row)
        await self.session.flush()
        case.id = row.id
        self._rows[row.id] = row
        self._write_events(case)
        return case

    async def get(self, case_id: int) -> Case:
        row = await row_of(self.session, CaseRow, case_id, "case")
        self._rows[row.id] = row
        return case_from_row(row)

    async def by_number(
        self, number: str, *, with_history: bool = False, lock: bool = False
    ) -> Case:
        stmt = select(CaseRow).where(CaseRow.number == number)
        if lock:  # what the lock guards is read afresh
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(stmt)
        if row is None:
            raise NotFound("case", number)
        self._rows[row.id] = row
        events: Sequence[CaseEventRow] = ()
        if with_history:
            events = list(
                await self.session.scalars(
                    select(CaseEventRow)
                    .where(CaseEventRow.case_id == row.id)
                    .order_by(CaseEventRow.id)
                )
            )
        return case_from_row(row, events)

    async def save(self, case: Case) -> None:
        row = self._rows.get(case.id or 0) or await self.session.get(CaseRow, case.id)
        if row is None:
            raise NotFound("case", case.number)
        before = copied(row)
        for name in CASE_FIELDS:
            setattr(row, name, getattr(case, name))
        row.updated_at = case.updated_at or row.updated_at
        self._write_events(case)
        if copied(row) != before:  # the public board searches its own copies
            await follow_case(self.session, row)

    def _write_events(self, case: Case) -> None:
        assert case.id is not None
        for event in case.pending_events:
            columns = columns_of(event, CaseEventRow.__table__, skip=("id",))
            self.session.add(CaseEventRow(case_id=case.id, **columns))
        case.pending_events.clear()

    async def queue(
        self,
        *,
        statuses: Iterable[CaseStatus],
        department: str | None,
        limit: int,
        offset: int = 0,
        unit: str | None = None,
    ) -> list[Case]:
        stmt = select(CaseRow).where(CaseRow.status.in_([str(s) for s in statuses]))
        if department is not None:
            stmt = stmt.where(CaseRow.department == department)
        if unit is not None:  # a unit's path: its subtree's departments
            stmt = stmt.where(CaseRow.department.in_(subtree_departments(unit)))
        stmt = stmt.order_by(CaseRow.complete_due_at, CaseRow.id).limit(limit).offset(offset)
        return [case_from_row(r) for r in await self.session.scalars(stmt)]

    async def reports_merged_into(self, number: str) -> list[Case]:
        rows = await self.session.scalars(
            select(CaseRow).where(CaseRow.merged_into == number).order_by(CaseRow.id)
        )
        return [case_from_row(r) for r in rows]

    async def for_citizen(
        self, citizen_id: int, *, statuses: Iterable[CaseStatus], limit: int
    ) -> list[Case]:
        rows = await self.session.scalars(
            select(CaseRow)
            .where(
                CaseRow.citizen_id == citizen_id,
                CaseRow.status.in_([str(s) for s in statuses]),
            )
            .order_by(CaseRow.id.desc())
            .limit(limit)
        )
        return [case_from_row(r) for r in rows]

    async def numbers_by_id(self, case_ids: Iterable[int]) -> dict[int, str]:
        ids = set(case_ids)
        if not ids:
            return {}
        rows = await self.session.execute(
            select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(ids))
        )
        return {row.id: row.number for row in rows}
