"""Assignments of cases handed along the units' tree (domain.handing), one row each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.handing import Assignment, AssignmentState, Handing
from civicline.storage.tables import CaseAssignmentRow

_FIELDS = (
    "case_id",
    "parent_id",
    "unit",
    "department",
    "due_at",
    "created_at",
    "actor",
    "reason",
    "updated_at",
    "finished_at",
    "escalated_at",
)


def _assignment(row: CaseAssignmentRow) -> Assignment:
    return Assignment(
        **{name: getattr(row, name) for name in _FIELDS},
        state=AssignmentState(row.state),
        handing=Handing(row.handing) if row.handing else None,
        id=row.id,
    )


class SqlAssignments:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_case(self, case_id: int) -> list[Assignment]:
        """The case's assignments, oldest first."""
        rows = await self.session.scalars(
            select(CaseAssignmentRow)
            .where(CaseAssignmentRow.case_id == case_id)
            .order_by(CaseAssignmentRow.id)
        )
        return [_assignment(r) for r in rows]

    async def get(self, assignment_id: int) -> Assignment | None:
        row = await self.session.get(CaseAssignmentRow, assignment_id)
        return None if row is None else _assignment(row)

    async def save(self, assignment: Assignment) -> Assignment:
        """Insert a new one (its id is set) or write back a changed one."""
        values = {name: getattr(assignment, name) for name in _FIELDS}
        values["state"] = str(assignment.state)
        values["handing"] = str(assignment.handing) if assignment.handing else None
        if assignment.id is None:
            row = CaseAssignmentRow(**values)
            self.session.add(row)
            await self.session.flush()
            assignment.id = row.id
        else:
            await self.session.execute(
                update(CaseAssignmentRow)
                .where(CaseAssignmentRow.id == assignment.id)
                .values(**values)
            )
        return assignment

    async def late(self, *, now: datetime, limit: int) -> list[int]:
        """Handed-down assignments still holding past their deadline, whose parent was not
        told yet (``ix_case_assignments_late``)."""
        a = CaseAssignmentRow
        rows = await self.session.scalars(
            select(a.id)
            .where(
                a.state == str(AssignmentState.HOLDING),
                a.parent_id.is_not(None),
                a.escalated_at.is_(None),
                a.due_at < now,
            )
            .order_by(a.due_at)
            .limit(limit)
        )
        return list(rows)

    async def mark_escalated(self, assignment_id: int, *, at: datetime) -> bool:
        """Record that the parent was told; False when another worker did it first."""
        a = CaseAssignmentRow
        result = await self.session.execute(
            update(a)
            .where(a.id == assignment_id, a.escalated_at.is_(None))
            .values(escalated_at=at)
            .returning(a.id)
        )
        return result.first() is not None
