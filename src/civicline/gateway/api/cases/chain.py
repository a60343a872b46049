"""A handed case's assignments as the API shows them (``handlers.handing.Link``): in the case's
detail and in ``/assignments``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from civicline.domain.handing import AssignmentState, Handing
from civicline.handlers.handing import Link


class AssignmentOut(BaseModel):
    id: int
    unit: str
    unit_name: str | None = Field(description="the unit's Chinese name, when the tree lists it")
    department: str
    parent_id: int | None
    handing: Handing | None = Field(description="how it came to the unit; null: it began there")
    state: AssignmentState
    due_at: datetime
    late: bool = Field(description="past its own deadline unanswered, or answered after it")
    created_at: datetime
    finished_at: datetime | None
    reason: str | None


def assignment_out(link: Link) -> AssignmentOut:
    a = link.assignment
    assert a.id is not None
    return AssignmentOut(
        id=a.id,
        unit=a.unit,
        unit_name=link.unit.name_zh if link.unit else None,
        department=a.department,
        parent_id=a.parent_id,
        handing=a.handing,
        state=a.state,
        due_at=a.due_at,
        late=link.late,
        created_at=a.created_at,
        finished_at=a.finished_at,
        reason=a.reason,
    )
