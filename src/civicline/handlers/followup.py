"""Following a case up: what a close sends the citizen (the legal channel, the return visit's
question), waiting for the citizen, staff notices, return visits by phone.

Pausing stops every deadline while staff wait for the citizen (details, a site visit the
citizen must attend); the citizen's next message, or staff, resume it and the deadlines move on
by the working time spent waiting. A return visit (回访) may also be made by phone: an
operator records the answer, but never on a case they handled themselves (nobody grades their
own work).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from civicline.domain.accounts import StaffUser
from civicline.domain.calendar import WorkCalendar
from civicline.domain.cases import Case, CaseStatus, EventKind
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.governance import VISIT_ANSWERS, Notification, VisitStatus
from civicline.domain.messages import Channel, Choice
from civicline.handlers.access import check_access
from civicline.handlers.cases import to_citizen
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

# Which notices a user reads: staff their department's, the centre's everything.
DEPARTMENT_AUDIENCES = ["clerk", "department_head"]
CENTRE_AUDIENCES = [*DEPARTMENT_AUDIENCES, "supervising_office"]


class FollowupTexts(Protocol):
    """What a close sends the citizen, in their language (the bot's words)."""

    def legal_channel(self, case: Case) -> str: ...

    def rate_request(self, case: Case) -> tuple[str, list[Choice]]: ...


def awaits_visit(case: Case) -> bool:
    """Closed, and its return visit not answered yet (asked, or not asked at all)."""
    return case.status == CaseStatus.CLOSED and case.visit_status in (None, VisitStatus.ASKED)


async def after_close(
    number: str, *, uow_factory: UnitOfWorkFactory, now: datetime, texts: FollowupTexts
) -> list[int]:
    """What a close sends the citizen: which legal channel handles a matter for the courts
    (涉法涉诉), then the return visit's question. The ids of the messages to deliver."""
    sent = []
    async with uow_factory() as uow:
        case = await uow.cases.by_number(number)
        if case.legal_matter and case.answer_channel != Channel.OPEN311:
            notice = await uow.outbox.add(to_citizen(case, texts.legal_channel(case), now=now))
            await uow.commit()
            assert notice.id is not None
            sent.append(notice.id)
    visit = await ask_for_rating(number, uow_factory=uow_factory, now=now, texts=texts)
    return sent + ([visit] if visit is not None else [])


async def ask_for_rating(
    number: str, *, uow_factory: UnitOfWorkFactory, now: datetime, texts: FollowupTexts
) -> int | None:
    """The return visit (回访): after a case closes, ask the citizen on their channel whether
    they are satisfied and the problem is solved: in words, and with buttons where the channel
    has them. Unanswered, they count as unreachable after ``VISIT_WAIT`` (the scheduler)."""
    async with uow_factory() as uow:
        case = await uow.cases.by_number(number, lock=True)
        if not awaits_visit(case) or case.visit_status is not None:
            return None
        if case.answer_channel == Channel.OPEN311:  # an Open311 app has no way to answer
            return None
        text, choices = texts.rate_request(case)
        reply = await uow.outbox.add(to_citizen(case, text, now=now, choices=choices))
        case.visit_status = VisitStatus.ASKED
        await uow.cases.save(case)
        await uow.commit()
        return reply.id


def _actor(user: StaffUser) -> str:
    return f"staff:{user.username}"


async def pause(
    number: str, *, reason: str, user: StaffUser, uow: UnitOfWork, now: datetime
) -> Case:
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        case.pause(actor=_actor(user), at=now, reason=reason)
        await uow.cases.save(case)
        await uow.commit()
        return case


async def resume(
    number: str, *, user: StaffUser, uow: UnitOfWork, calendar: WorkCalendar, now: datetime
) -> Case:
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        if case.paused_since is None:
            raise InvalidInput(f"case {number} is not waiting for the citizen")
        case.resume(actor=_actor(user), at=now, calendar=calendar)
        await uow.cases.save(case)
        await uow.commit()
        return case


async def phone_visit(
    number: str,
    *,
    answer: int | None,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
) -> tuple[Case, bool]:
    """Record a return visit made by phone: ``answer`` 1-4 (see VISIT_ANSWERS), or None when
    the citizen could not be reached. Returns the case and whether it was reopened."""
    if not user.takes_calls:  # who may record a return visit made by phone
        raise NotAllowed(f"{user.username} does not make return visits")
    if answer is not None and answer not in VISIT_ANSWERS:
        raise InvalidInput("the answer is 1 satisfied, 2 basically, 3 dissatisfied, 4 unsolved")
    async with uow:
        case = await uow.cases.by_number(number, with_history=True, lock=True)
        check_access(user, case)
        worked = [e for e in case.events if e.kind != EventKind.VISITED]
        if any(event.actor == _actor(user) for event in worked):
            raise NotAllowed(f"{user.username} worked on case {number}: someone else visits")
        if case.visit_status not in (None, VisitStatus.ASKED):
            raise InvalidInput(f"case {number} already had its return visit")
        if answer is None:
            reopened = case.record_visit(None, solved=None, actor=_actor(user), at=now)
        else:
            satisfaction, solved = VISIT_ANSWERS[answer]
            reopened = case.record_visit(satisfaction, solved=solved, actor=_actor(user), at=now)
        await uow.cases.save(case)
        await uow.commit()
        return case, reopened


async def notices(
    user: StaffUser, uow: UnitOfWork, *, unread_only: bool, limit: int
) -> list[Notification]:
    department, unit = user.narrowed(None)  # a county's centre: its subtree's notices
    if department is None and unit is None and not user.sees_all_departments:
        return []
    async with uow:
        return await uow.governance.notifications(
            audiences=CENTRE_AUDIENCES if user.in_the_centre else DEPARTMENT_AUDIENCES,
            department=department,
            limit=limit,
            unread_only=unread_only,
            unit=unit,
        )


async def mark_read(ids: list[int], *, user: StaffUser, uow: UnitOfWork, now: datetime) -> None:
    """Mark notices read (only those the user may read)."""
    visible = {n.id for n in await notices(user, uow, unread_only=True, limit=500)}
    async with uow:
        await uow.governance.mark_read([i for i in ids if i in visible], at=now)
        await uow.commit()
