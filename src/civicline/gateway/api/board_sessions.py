"""Leaders' public Q&A sessions over the staff API (``handlers.qa``):

* ``POST /api/v1/board/sessions`` (supervisors, admins): schedule one: topic, leader, units,
  start, video link; answers its public page ``/board/sessions/{public_id}``.
* ``POST /api/v1/board/sessions/{public_id}/status`` ``{"status": "live" | "ended"}``.
* ``POST /api/v1/board/sessions/{public_id}/questions`` ``{"case_number": …}``: a citizen's
  case, asked beforehand on any channel and consented to publication, is one of the
  session's questions (listed on its page; an answer naming it answers it).
* ``POST /api/v1/board/sessions/{public_id}/answers`` (the units' staff, supervisors):
  ``{"question": …, "answer": …, "case_number": …}`` while live; the page's readers get it at
  once (server-sent events, woken through Redis)."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from civicline.domain.qa import MAX_LEADER, MAX_TEXT, MAX_TOPIC, MAX_URL, QaSession, SessionStatus
from civicline.gateway.bounds import Moment
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import qa

log = logging.getLogger(__name__)
router = APIRouter(prefix="/board/sessions", tags=["board"])

CASE_NUMBER = r"^\d{6}-\d{5,}$"


def channel(public_id: str) -> str:
    """The Redis channel a session's new answers are announced on."""
    return f"board:qa:{public_id}"


class SessionIn(BaseModel):
    topic: str = Field(min_length=1, max_length=MAX_TOPIC)
    leader: str = Field(min_length=1, max_length=MAX_LEADER)
    departments: list[str] = Field(default_factory=list, max_length=50)
    starts_at: Moment  # with its zone, as a string
    video_url: str | None = Field(default=None, max_length=MAX_URL)


class SessionOut(BaseModel):
    public_id: str
    url: str
    topic: str
    leader: str
    departments: list[str]
    starts_at: datetime
    status: SessionStatus
    video_url: str | None

    @classmethod
    def of(cls, s: QaSession) -> SessionOut:
        return cls(
            public_id=s.public_id,
            url=f"/board/sessions/{s.public_id}",
            topic=s.topic,
            leader=s.leader,
            departments=s.departments,
            starts_at=s.starts_at,
            status=s.status,
            video_url=s.video_url,
        )


class StatusIn(BaseModel):
    status: SessionStatus


class AnswerIn(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_TEXT)
    answer: str = Field(min_length=1, max_length=MAX_TEXT)
    case_number: str | None = Field(default=None, pattern=CASE_NUMBER)


class AnswerOut(BaseModel):
    id: int
    question: str
    answer: str
    case_number: str | None
    published_at: datetime


@router.post("", status_code=201, response_model=SessionOut)
async def schedule(body: SessionIn, user: UserDep, services: ServicesDep) -> SessionOut:
    scheduled = await qa.schedule(
        **body.model_dump(),  # the session's fields, by name
        user=user,
        uow=services.uow(),
        taxonomy=services.taxonomy,
        now=services.now(),
    )
    return SessionOut.of(scheduled)


@router.post("/{public_id}/status", response_model=SessionOut)
async def set_status(
    public_id: str, body: StatusIn, user: UserDep, services: ServicesDep
) -> SessionOut:
    changed = await qa.set_status(public_id, body.status, user=user, uow=services.uow())
    await _announce(services, public_id, "status")
    return SessionOut.of(changed)


class QuestionIn(BaseModel):
    case_number: str = Field(pattern=CASE_NUMBER)


@router.post(
    "/{public_id}/questions",
    status_code=201,
    responses={200: {"description": "the case was marked before"}},
)
async def mark_question(
    public_id: str, body: QuestionIn, user: UserDep, services: ServicesDep, response: Response
) -> dict[str, str]:
    """Mark a citizen's case (asked on any channel, consented to publication) as a question
    for the session: listed on its page until it is answered, then followed up as a case."""
    marked = await qa.mark_question(
        public_id, body.case_number, user=user, uow=services.uow(), now=services.now()
    )
    if not marked:
        response.status_code = 200
    return {"case_number": body.case_number}


@router.post("/{public_id}/answers", status_code=201, response_model=AnswerOut)
async def publish(
    public_id: str, body: AnswerIn, user: UserDep, services: ServicesDep
) -> AnswerOut:
    published = await qa.publish_answer(
        public_id,
        question=body.question,
        answer=body.answer,
        case_number=body.case_number,
        user=user,
        uow=services.uow(),
        now=services.now(),
    )
    await _announce(services, public_id, str(published.id))
    assert published.id is not None
    return AnswerOut(
        id=published.id,
        question=published.question,
        answer=published.answer,
        case_number=published.case_number,
        published_at=published.published_at,
    )


async def _announce(services: ServicesDep, public_id: str, what: str) -> None:
    """Wake the session's live readers; without Redis they find it at their next look."""
    try:
        await services.redis.publish(channel(public_id), what)
    except Exception:
        log.warning("Q&A answer not announced: Redis unreachable")
