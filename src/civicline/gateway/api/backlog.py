"""The backlog (积案): ``GET /api/v1/backlog``, cases open for long, oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from civicline.domain.ownership import BacklogEntry
from civicline.gateway.bounds import Offset
from civicline.gateway.deps import ServicesDep, UserDep, known_department
from civicline.handlers import ownership

router = APIRouter(tags=["supervision"])


class BacklogOut(BaseModel):
    number: str
    status: str
    category: str | None
    department: str | None
    created_at: datetime
    complete_due_at: datetime
    age_days: int
    overdue: bool
    leader: str | None
    open_orders: int

    @classmethod
    def of(cls, entry: BacklogEntry, now: datetime) -> BacklogOut:
        c = entry.case
        return cls(
            number=c.number,
            status=c.status,
            category=c.category,
            department=c.department,
            created_at=c.created_at,
            complete_due_at=c.complete_due_at,
            age_days=entry.age_days(now),
            overdue=entry.overdue(now),
            leader=entry.leader,
            open_orders=entry.open_orders,
        )


@router.get("/backlog", response_model=list[BacklogOut])
async def backlog(
    user: UserDep,
    services: ServicesDep,
    min_age_days: Annotated[int | None, Query(ge=0, le=ownership.MAX_BACKLOG_DAYS)] = None,
    department: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[BacklogOut]:
    """Cases open for at least ``min_age_days`` calendar days (default: the setting
    ``CIVICLINE_BACKLOG_MIN_AGE_DAYS``), oldest first."""
    known_department(services, department)
    now = services.now()
    entries = await ownership.backlog(
        min_age_days=(
            services.settings.backlog_min_age_days if min_age_days is None else min_age_days
        ),
        department=department,
        user=user,
        uow=services.uow(),
        now=now,
        limit=limit,
        offset=offset,
    )
    return [BacklogOut.of(e, now) for e in entries]
