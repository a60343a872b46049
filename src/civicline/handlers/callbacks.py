"""Call-back tasks (回访): answers to hotline callers who did not agree to SMS.

Such an answer is an outbox row on channel ``hotline`` that no sender touches. Staff phone
the caller, read the answer, and mark the task done: ``delivered`` when they reached the
caller, ``failed`` when they could not (the outcome is the row's last error). Either way the
case history records who called and how it went.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import Case, CaseEvent, EventKind
from civicline.domain.errors import InvalidInput, NotAllowed, NotFound
from civicline.domain.messages import Channel, DeliveryStatus, OutboundMessage
from civicline.handlers.access import check_access
from civicline.storage.base import UnitOfWork

# Who places call-backs: the hotline's operators and those above them.
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class CallbackTask:
    outbound: OutboundMessage
    case: Case


def may_call_back(user: StaffUser) -> bool:
    return user.takes_calls


async def open_tasks(user: StaffUser, uow: UnitOfWork, *, limit: int) -> list[CallbackTask]:
    """Call-backs to place, oldest first: all of them for the hotline, a department's own for
    its staff (who see the task, not the number)."""
    async with uow:
        tasks = []
        for outbound in await uow.outbox.callbacks(limit=limit * 4 if limit < 50 else limit):
            if outbound.case_id is None:
                continue
            case = await uow.cases.get(outbound.case_id)
            if user.may_handle(case.department):
                tasks.append(CallbackTask(outbound, case))
            if len(tasks) == limit:
                break
        return tasks


async def complete(
    outbound_id: int,
    *,
    reached: bool,
    note: str,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
) -> CallbackTask:
    """Mark a call-back done; a second completion of the same task is refused."""
    if not may_call_back(user):
        raise NotAllowed(f"{user.username} does not place call-backs")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is longer than {MAX_NOTE} characters")
    if not reached and not note:
        raise InvalidInput("say why the caller could not be reached")
    async with uow:
        outbound = await uow.outbox.get(outbound_id, lock=True)
        if outbound.channel != Channel.HOTLINE or outbound.case_id is None:
            raise NotFound("call-back task", outbound_id)
        if outbound.status != DeliveryStatus.QUEUED:
            raise InvalidInput(f"call-back {outbound_id} is already {outbound.status}")
        case = await uow.cases.get(outbound.case_id)
        check_access(user, case)
        outbound.status = DeliveryStatus.DELIVERED if reached else DeliveryStatus.FAILED
        outbound.attempts += 1
        outbound.last_error = None if reached else f"not reached: {note}"
        outbound.updated_at = now
        await uow.outbox.save(outbound)
        case.record(
            CaseEvent(
                kind=EventKind.REPLY,
                at=now,
                actor=f"staff:{user.username}",
                reason=note or None,
                data={"call_back": outbound_id, "reached": reached},
            )
        )
        await uow.cases.save(case)
        await uow.commit()
        return CallbackTask(outbound, case)
