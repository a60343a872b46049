"""Following a case up over the staff API: wait for the citizen (pause, resume), return visits."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from civicline.domain.cases import Case
from civicline.gateway.bounds import Flag, Whole
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import followup

router = APIRouter(tags=["follow-up"])


class PauseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="what the citizen must do")


class VisitIn(BaseModel):
    reached: Flag
    answer: Whole | None = Field(
        default=None, ge=1, le=4, description="1 satisfied, 2 basically, 3 dissatisfied, 4 unsolved"
    )


class Deadlines(BaseModel):
    number: str
    status: str
    paused_since: datetime | None
    accept_due_at: datetime
    reply_due_at: datetime | None
    complete_due_at: datetime
    visit_status: str | None = None
    satisfaction: str | None = None
    reopened: bool = False

    @classmethod
    def of(cls, case: Case, *, reopened: bool = False) -> Deadlines:
        deadlines = cls.model_validate(case, from_attributes=True)  # the case's own fields
        deadlines.reopened = reopened
        return deadlines


@router.post("/{number}/pause", response_model=Deadlines)
async def pause(number: str, body: PauseIn, user: UserDep, services: ServicesDep) -> Deadlines:
    """Wait for the citizen: the deadlines stop until the citizen writes or staff resume."""
    case = await followup.pause(
        number, reason=body.reason, user=user, uow=services.uow(), now=services.now()
    )
    return Deadlines.of(case)


@router.post("/{number}/resume", response_model=Deadlines)
async def resume(number: str, user: UserDep, services: ServicesDep) -> Deadlines:
    case = await followup.resume(
        number, user=user, uow=services.uow(), calendar=services.calendar, now=services.now()
    )
    return Deadlines.of(case)


@router.post("/{number}/visit", response_model=Deadlines)
async def phone_visit(
    number: str, body: VisitIn, user: UserDep, services: ServicesDep
) -> Deadlines:
    """A return visit (回访) made by phone. Not by anyone who worked on the case."""
    answer = body.answer if body.reached else None
    if body.reached and answer is None:
        raise HTTPException(422, "a reached citizen's answer is needed (1-4)")
    case, reopened = await followup.phone_visit(
        number, answer=answer, user=user, uow=services.uow(), now=services.now()
    )
    return Deadlines.of(case, reopened=reopened)
