"""Notices for staff over the API: near-due warnings and escalations, and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from civicline.gateway.bounds import StoredId
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import followup

router = APIRouter(tags=["follow-up"])


class ReadIn(BaseModel):
    ids: list[StoredId] = Field(max_length=500)


class NoticeOut(BaseModel):
    id: int
    created_at: datetime
    kind: str
    audience: str
    department: str | None
    text: str
    read: bool


@router.get("/notifications", response_model=list[NoticeOut])
async def notifications(
    user: UserDep,
    services: ServicesDep,
    unread: bool = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[NoticeOut]:
    """Near-due warnings and escalations for the user's department (all, for supervisors)."""
    found = await followup.notices(user, services.uow(), unread_only=unread, limit=limit)
    return [
        NoticeOut(
            id=n.id or 0,
            created_at=n.created_at,
            kind=n.kind,
            audience=n.audience,
            department=n.department,
            text=n.text,
            read=n.read_at is not None,
        )
        for n in found
    ]


@router.post("/notifications/read", status_code=204)
async def mark_read(body: ReadIn, user: UserDep, services: ServicesDep) -> None:
    await followup.mark_read(body.ids, user=user, uow=services.uow(), now=services.now())
