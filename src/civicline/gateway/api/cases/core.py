"""Cases over the staff API: the reply queue, one case, replies and lifecycle actions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor

from civicline.bots.dialogue import FOLLOWUP_TEXTS
from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE, Case, CaseStatus
from civicline.domain.governance import Outcome
from civicline.domain.messages import InboundMessage, OutboundMessage
from civicline.gateway.api.cases.chain import AssignmentOut, assignment_out
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import Flag, Offset
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import case_actions, followup, handing
from civicline.nlu.masking import mask
from civicline.storage.queue import queue_deliveries

log = logging.getLogger(__name__)
router = APIRouter(tags=["staff"])

CASE_NUMBER = r"^\d{6}-\d{5,}$"
# A case's other sub-resources: the action route leaves them alone, so it matches no request
# another route matches, whatever the order (an unknown action: 422; a POST to a sub-resource
# that takes only GET: 405).
OTHER_POSTS = (
    "replies",
    "pause",
    "resume",
    "visit",
    "supervision",
    "ownership",
    "unmerge",
    "publication",
    "hand-down",
    "report-up",
    "transfer",
)
OTHER_GETS = ("suggestions", "dossier", "assignments")


class ActionSegment(Convertor[str]):
    regex = f"(?!(?:{'|'.join(OTHER_POSTS + OTHER_GETS)})$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("case_action", ActionSegment())


class CaseSummary(BaseModel):
    number: str
    status: CaseStatus
    channel: str
    category: str | None
    subcategory: str | None
    department: str | None
    urgent: bool
    collective: bool
    place: str | None
    district: str | None = None
    reporters: int = 1  # citizens who reported this incident (merged reports included)
    classified_by: str | None
    confidence: float | None
    created_at: datetime
    accept_due_at: datetime
    complete_due_at: datetime
    summary: str

    @classmethod
    def of(cls, case: Case) -> CaseSummary:
        return cls(
            number=case.number,
            status=case.status,
            channel=case.channel,
            category=case.category,
            subcategory=case.subcategory,
            department=case.department,
            urgent=case.urgent,
            collective=case.collective,
            place=case.place,
            district=case.district,
            reporters=case.reporters,
            classified_by=case.classified_by,
            confidence=case.confidence,
            created_at=case.created_at,
            accept_due_at=case.accept_due_at,
            complete_due_at=case.complete_due_at,
            summary=case.summary,
        )


class EventOut(BaseModel):
    kind: str
    at: datetime
    actor: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    data: dict[str, Any]


class ThreadMessage(BaseModel):
    id: int
    direction: Literal["inbound", "outbound"]
    text: str
    at: datetime
    author: str
    status: str
    attempts: int = 0
    last_error: str | None = None
    attachments: list[str] = Field(default_factory=list)


class CaseDetail(CaseSummary):
    resolution: str | None
    merged_into: str | None
    contact: str | None = Field(
        default=None,
        description="where answers go (a phone, a chat id): operators, supervisors and admins only",
    )
    messages: list[ThreadMessage]
    history: list[EventOut]
    assignments: list[AssignmentOut] = Field(
        default_factory=list,
        description="who held it down the units' tree, oldest first (empty: never handed down)",
    )


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=case_actions.MAX_REPLY_LENGTH)


class ReplyOut(BaseModel):
    outbound_id: int
    status: str


class ActionIn(BaseModel):
    """The fields of ``case_actions.ActionRequest`` but the action (in the path)."""

    reason: str | None = Field(default=None, max_length=2000)
    department: str | None = Field(default=None, max_length=64)
    into: str | None = Field(default=None, pattern=CASE_NUMBER)
    outcome: Outcome | None = Field(
        default=None, description="close: which of the five outcomes (五个到位) applied"
    )
    legal_matter: Flag = Field(
        default=False, description="close: a matter for the courts (涉法涉诉); the citizen is told"
    )


def _inbound(m: InboundMessage) -> ThreadMessage:
    assert m.id is not None
    return ThreadMessage(
        id=m.id,
        direction="inbound",
        text=m.text,
        at=m.received_at,
        author="citizen",
        status=m.status,
        attachments=m.attachments,
    )


def _outbound(m: OutboundMessage) -> ThreadMessage:
    assert m.id is not None
    return ThreadMessage(
        id=m.id,
        direction="outbound",
        text=m.text,
        at=m.created_at,
        author=m.author,
        status=m.status,
        attempts=m.attempts,
        last_error=m.last_error,
    )


@router.get("", response_model=list[CaseSummary])
async def reply_queue(
    user: UserDep,
    services: ServicesDep,
    queue: Literal["reply", "triage"] = "reply",
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    department: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[CaseSummary]:
    """The reply queue (or the triage queue), earliest deadline first."""
    if department is not None:
        services.taxonomy.department(department)
    department, unit = user.narrowed(department)  # 403 for a department out of reach
    statuses = status or (AWAITING_REPLY if queue == "reply" else AWAITING_TRIAGE)
    async with services.uow() as uow:
        cases = await uow.cases.queue(
            statuses=statuses, department=department, limit=limit, offset=offset, unit=unit
        )
    summaries = [CaseSummary.of(c) for c in cases]
    if not user.sees_contact_details:
        for summary in summaries:
            summary.summary = mask(summary.summary)
    return summaries


@router.get("/{number}", response_model=CaseDetail)
async def get_case(number: str, user: UserDep, services: ServicesDep) -> CaseDetail:
    thread = await case_actions.case_thread(number, user=user, uow=services.uow())
    messages = [_inbound(m) for m in thread.inbound] + [_outbound(m) for m in thread.outbound]
    messages.sort(key=lambda m: m.at)
    case = thread.case
    reveal = user.sees_contact_details
    summary = CaseSummary.of(case)
    if not reveal:  # staff answer the complaint; they never need the citizen's numbers
        summary.summary = mask(summary.summary)
        for message in messages:
            message.text = mask(message.text)
    return CaseDetail(
        **summary.model_dump(),
        resolution=case.resolution,
        merged_into=case.merged_into,
        contact=case.reply_to if reveal else None,
        messages=messages,
        history=[
            EventOut(
                kind=e.kind,
                at=e.at,
                actor=e.actor,
                from_status=e.from_status,
                to_status=e.to_status,
                reason=e.reason,
                data=e.data,
            )
            for e in case.events
        ],
        assignments=[assignment_out(link) for link in await _links(case, services)],
    )


async def _links(case: Case, services: Services) -> list[handing.Link]:
    tree = services.taxonomy.units
    if tree is None:
        return []
    return await handing.links_of(case, uow=services.uow(), tree=tree, now=services.now())


@router.post("/{number}/replies", status_code=202, response_model=ReplyOut)
async def post_reply(number: str, body: ReplyIn, user: UserDep, services: ServicesDep) -> ReplyOut:
    """Queue an answer; it goes out on the channel the case came from."""
    reply = await case_actions.reply_to_all(
        number, body.text, user=user, uow=services.uow(), now=services.now()
    )
    await queue_deliveries(services.queue, reply.ids())
    outbound = reply.outbound
    assert outbound.id is not None
    return ReplyOut(outbound_id=outbound.id, status=outbound.status)


@router.post("/{number}/{action:case_action}", response_model=CaseSummary)
async def case_action(
    number: str, action: case_actions.Action, body: ActionIn, user: UserDep, services: ServicesDep
) -> CaseSummary:
    """accept, assign, forward, return (退单), reject, merge, close or reopen the case.

    Closing records the outcome (五个到位), tells the citizen which legal channel handles a
    matter for the courts (涉法涉诉), and starts the return visit (回访) on their channel."""
    case = await case_actions.act(
        number,
        case_actions.ActionRequest(action, **body.model_dump()),
        user=user,
        uow=services.uow(),
        taxonomy=services.taxonomy,
        now=services.now(),
    )
    if action == case_actions.Action.CLOSE:
        sent = await followup.after_close(
            case.number, uow_factory=services.uow, now=services.now(), texts=FOLLOWUP_TEXTS
        )
        await queue_deliveries(services.queue, sent)
    return CaseSummary.of(case)
