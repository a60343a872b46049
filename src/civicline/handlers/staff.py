"""What staff do to a case: reply, assign, forward, return, close and the rest.

Each action is one unit of work; staff of a department touch only their department's cases.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from civicline.domain.cases import REPLYABLE, Case, CaseEvent, EventKind
from civicline.domain.errors import DomainError, IllegalTransition, InvalidInput
from civicline.domain.messages import InboundMessage, OutboundMessage
from civicline.domain.staff import StaffUser
from civicline.domain.taxonomy import Taxonomy
from civicline.storage.base import UnitOfWork

MAX_REPLY_LENGTH = 4000


class NotAllowed(DomainError):
    """The user's role or department does not allow this on that case."""


class Action(enum.StrEnum):
    ACCEPT = "accept"
    ASSIGN = "assign"
    FORWARD = "forward"
    RETURN = "return"
    REJECT = "reject"
    MERGE = "merge"
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action: Action
    reason: str | None = None
    department: str | None = None
    into: str | None = None  # for merge: the case number that stays


def _actor(user: StaffUser) -> str:
    return f"staff:{user.username}"


def _check_access(user: StaffUser, case: Case) -> None:
    if not user.may_handle(case.department):
        raise NotAllowed(f"{user.username} may not handle case {case.number}")


@dataclass(frozen=True, slots=True)
class CaseThread:
    case: Case
    inbound: list[InboundMessage]
    outbound: list[OutboundMessage]


async def case_thread(number: str, *, user: StaffUser, uow: UnitOfWork) -> CaseThread:
    """The case with its history and every message in and out."""
    async with uow:
        case = await uow.cases.by_number(number, with_history=True)
        _check_access(user, case)
        assert case.id is not None
        return CaseThread(
            case=case,
            inbound=await uow.inbox.for_case(case.id),
            outbound=await uow.outbox.for_case(case.id),
        )


async def post_reply(
    number: str, text: str, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> OutboundMessage:
    """Queue a staff answer to the citizen, on the channel the case came from."""
    text = text.strip()
    if not text:
        raise InvalidInput("a reply needs text")
    if len(text) > MAX_REPLY_LENGTH:
        raise InvalidInput(f"a reply holds at most {MAX_REPLY_LENGTH} characters")
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        _check_access(user, case)
        if case.status not in REPLYABLE:
            raise IllegalTransition(case.number, case.status, "answered")
        outbound = await uow.outbox.add(
            OutboundMessage(
                channel=case.answer_channel,
                recipient_address=case.reply_to,
                text=text,
                created_at=now,
                updated_at=now,
                case_id=case.id,
                citizen_id=case.citizen_id,
                author=_actor(user),
            )
        )
        case.mark_answered(actor=_actor(user), at=now)
        case.record(
            CaseEvent(
                kind=EventKind.REPLY, at=now, actor=_actor(user), data={"outbound_id": outbound.id}
            )
        )
        await uow.cases.save(case)
        await uow.commit()
        return outbound


async def act(
    number: str,
    request: ActionRequest,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    taxonomy: Taxonomy,
    now: datetime,
) -> Case:
    """Apply one lifecycle action; illegal ones raise and change nothing."""
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        _check_access(user, case)
        actor = _actor(user)
        reason = request.reason or ""
        match request.action:
            case Action.ACCEPT:
                case.accept(actor=actor, at=now, reason=request.reason)
            case Action.ASSIGN:
                case.assign(
                    _department(request, taxonomy), actor=actor, at=now, reason=request.reason
                )
            case Action.FORWARD:
                case.forward(_department(request, taxonomy), actor=actor, at=now, reason=reason)
            case Action.RETURN:
                case.return_misrouted(actor=actor, at=now, reason=reason)
            case Action.REJECT:
                case.reject(actor=actor, at=now, reason=reason)
            case Action.MERGE:
                if not request.into:
                    raise InvalidInput("merge needs the number of the case to merge into")
                target = await uow.cases.by_number(request.into)
                if target.merged_into:
                    raise InvalidInput(f"case {target.number} is itself merged")
                case.merge_into(target.number, actor=actor, at=now, reason=request.reason)
            case Action.CLOSE:
                case.close(actor=actor, at=now, resolution=reason)
            case Action.REOPEN:
                case.reopen(actor=actor, at=now, reason=reason)
        await uow.cases.save(case)
        await uow.commit()
        return case


def _department(request: ActionRequest, taxonomy: Taxonomy) -> str:
    if not request.department:
        raise InvalidInput(f"{request.action} needs a department")
    if request.department not in taxonomy.departments:
        raise InvalidInput(f"unknown department {request.department}")
    return request.department
