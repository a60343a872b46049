"""Call-backs (hotline answers to phone back): ``GET /api/v1/callbacks`` lists those still to
place, ``POST /api/v1/callbacks/{outbound_id}`` records the call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from civicline.domain.accounts import StaffUser
from civicline.gateway.bounds import Flag, RowId
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import callbacks

router = APIRouter(tags=["hotline"])


class CallbackOut(BaseModel):
    outbound_id: int
    case_number: str
    department: str | None
    created_at: datetime
    answer: str
    caller: str | None = Field(description="only for roles that place call-backs")
    status: str
    outcome: str | None = None


class CallbackDone(BaseModel):
    reached: Flag
    note: str = Field(default="", max_length=callbacks.MAX_NOTE)


@router.get("/callbacks", response_model=list[CallbackOut])
async def callback_tasks(
    user: UserDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CallbackOut]:
    """Call-backs still to place, oldest first. Staff see their department's tasks without
    the caller's number; operators, supervisors and admins see the number to call."""
    tasks = await callbacks.open_tasks(user, services.uow(), limit=limit)
    return [_callback_out(task, user) for task in tasks]


@router.post("/callbacks/{outbound_id}", response_model=CallbackOut)
async def callback_done(
    outbound_id: RowId, body: CallbackDone, user: UserDep, services: ServicesDep
) -> CallbackOut:
    """The caller was phoned: reached (the answer was given) or not (say why)."""
    task = await callbacks.complete(
        outbound_id,
        reached=body.reached,
        note=body.note,
        user=user,
        uow=services.uow(),
        now=services.now(),
    )
    return _callback_out(task, user)


def _callback_out(task: callbacks.CallbackTask, user: StaffUser) -> CallbackOut:
    assert task.outbound.id is not None
    return CallbackOut(
        outbound_id=task.outbound.id,
        case_number=task.case.number,
        department=task.case.department,
        created_at=task.outbound.created_at,
        answer=task.outbound.text,
        caller=task.outbound.recipient_address if callbacks.may_call_back(user) else None,
        status=task.outbound.status,
        outcome=task.outbound.last_error,
    )
