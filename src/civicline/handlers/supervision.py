"""Supervision orders (督办): issue, answer, close or send back, remind, list and report.

Supervisors and admins issue and close orders; the staff of the case's department answer
them (the order follows the case if it is forwarded). Every step is a case event
(``EventKind.SUPERVISED``) with who and when, so the case's history and its dossier tell the
whole story; notices to the department and the supervising office are staff notifications
that carry the order and case numbers and the deadline, never the citizen's words.

``remind`` is run by the scheduler every minute. It takes each reminder with one conditional
UPDATE (``SupervisionRepository.claim_reminder``), so however many workers run it at once an
order gets at most one reminder in any 24 hours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from civicline.domain.accounts import StaffUser
from civicline.domain.calendar import WorkCalendar
from civicline.domain.cases import OPEN, Case, CaseEvent, EventKind
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.governance import Notification
from civicline.domain.supervision import (
    MAX_DUE_WORKING_DAYS,
    REMIND_EVERY,
    REMIND_WITHIN,
    OrderStep,
    SupervisionCounts,
    SupervisionOrder,
    required,
)
from civicline.handlers.access import check_access
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory
from civicline.storage.supervision import OrderFilter

log = logging.getLogger(__name__)

SCHEDULER = "system:scheduler"
NOTICE_KIND = "supervision"
REMINDER_KIND = "supervision_reminder"
DEPARTMENT_AUDIENCE = "clerk"  # the department's clerks, as the first escalation rung
SUPERVISOR_AUDIENCE = "supervising_office"

TEXTS: dict[str, str] = {
    OrderStep.ISSUED: "案件 {number} 收到督办件 #{order}，请于 {due} 前书面回复。",
    OrderStep.ANSWERED: "督办件 #{order}（案件 {number}）已书面回复，请审核。",
    OrderStep.SENT_BACK: "督办件 #{order}（案件 {number}）的回复被退回，请于 {due} 前重新回复。",
    "due": "督办件 #{order}（案件 {number}）将于 {due} 到期，请及时书面回复。",
    "overdue": "督办件 #{order}（案件 {number}）已超期（应于 {due} 回复），请立即书面回复。",
}


@dataclass(frozen=True, slots=True)
class Deadline:
    """When the response is due: ``working_days`` counted on the calendar from now (city
    time, the same time of day), or an explicit moment."""

    working_days: int | None = None
    at: datetime | None = None

    def resolve(self, now: datetime, calendar: WorkCalendar, city_timezone: tzinfo) -> datetime:
        if (self.working_days is None) == (self.at is None):
            raise InvalidInput("give the deadline as due_working_days or as due_at, not both")
        if self.at is not None:
            if self.at.tzinfo is None:
                raise InvalidInput("due_at needs a time zone (e.g. +08:00)")
            return self.at
        assert self.working_days is not None
        if not 1 <= self.working_days <= MAX_DUE_WORKING_DAYS:
            raise InvalidInput(f"due_working_days is from 1 to {MAX_DUE_WORKING_DAYS}")
        return calendar.add_working_days(now.astimezone(city_timezone), self.working_days)


@dataclass(frozen=True, slots=True)
class Clock:
    """What the handlers need to count deadlines and show them in city time."""

    now: datetime
    calendar: WorkCalendar
    city_timezone: tzinfo = UTC


def may_supervise(user: StaffUser) -> bool:
    return user.oversees


def _require_supervisor(user: StaffUser) -> None:
    if not may_supervise(user):
        raise NotAllowed(f"{user.username} may not issue or close supervision orders")


def _event(
    order: SupervisionOrder,
    step: OrderStep,
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
    **data: Any,
) -> CaseEvent:
    return CaseEvent(
        EventKind.SUPERVISED,
        at=at,
        actor=actor,
        reason=reason,
        data={"order": order.id, "step": str(step), **data},
    )


def _notice(
    order: SupervisionOrder, text: str, *, kind: str, audience: str, now: datetime, tz: tzinfo
) -> Notification:
    due = order.due_at.astimezone(tz)
    text = TEXTS[text].format(number=order.case_number, order=order.id, due=f"{due:%Y-%m-%d %H:%M}")
    return Notification(
        created_at=now,
        kind=kind,
        audience=audience,
        text=text,
        case_id=order.case_id,
        department=order.department,
    )


async def issue(
    number: str,
    *,
    instruction: str,
    deadline: Deadline,
    user: StaffUser,
    uow: UnitOfWork,
    clock: Clock,
) -> SupervisionOrder:
    """A supervisor orders the case's department to respond in writing by the deadline."""
    _require_supervisor(user)
    instruction = required(instruction, "a supervision order needs a written instruction")
    due_at = deadline.resolve(clock.now, clock.calendar, clock.city_timezone)
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        assert case.id is not None
        if case.status not in OPEN:
            raise InvalidInput(f"case {number} is {case.status}: reopen it before supervising")
        if case.department is None:
            raise InvalidInput(f"case {number} has no department yet: place it first")
        order = SupervisionOrder.issue(
            case.id, instruction=instruction, due_at=due_at, by=user.actor, at=clock.now
        )
        order = await uow.supervision.add(order)
        order.case_number, order.department = case.number, case.department
        _record(
            case,
            _event(
                order,
                OrderStep.ISSUED,
                actor=user.actor,
                at=clock.now,
                reason=order.instruction,
                due_at=order.due_at.isoformat(),
                department=case.department,
            ),
        )
        await uow.cases.save(case)
        await uow.governance.notify(
            _notice(
                order,
                OrderStep.ISSUED,
                kind=NOTICE_KIND,
                audience=DEPARTMENT_AUDIENCE,
                now=clock.now,
                tz=clock.city_timezone,
            )
        )
        await uow.commit()
    log.info("supervision order issued", extra={"case": number, "order": order.id})
    return order


async def respond(
    order_id: int, response: str, *, user: StaffUser, uow: UnitOfWork, clock: Clock
) -> SupervisionOrder:
    """The department's written response; only its own staff give it."""
    response = required(response, "a response to a supervision order needs text")
    async with uow:
        order, case = await _locked(order_id, uow)
        if user.department is None or user.department != case.department:
            raise NotAllowed(
                f"supervision order {order_id} is for the {case.department} department"
            )
        order.answer(response, by=user.actor, at=clock.now)
        await uow.supervision.save(order)
        late = order.due_at < clock.now
        _record(
            case,
            _event(
                order,
                OrderStep.ANSWERED,
                actor=user.actor,
                at=clock.now,
                reason=response,
                late=late,
            ),
        )
        await uow.cases.save(case)
        await uow.governance.notify(
            _notice(
                order,
                OrderStep.ANSWERED,
                kind=NOTICE_KIND,
                audience=SUPERVISOR_AUDIENCE,
                now=clock.now,
                tz=clock.city_timezone,
            )
        )
        await uow.commit()
    log.info("supervision order answered", extra={"case": case.number, "order": order_id})
    return order


async def close(
    order_id: int,
    *,
    accepted: bool,
    note: str | None,
    new_deadline: Deadline | None,
    user: StaffUser,
    uow: UnitOfWork,
    clock: Clock,
) -> SupervisionOrder:
    """The supervisor accepts the response (the order is closed) or sends it back with a
    note (open again; the deadline stands unless a new one is given)."""
    _require_supervisor(user)
    note = (note or "").strip() or None
    if not accepted:
        note = required(note, "sending a response back needs a note saying why")
    elif new_deadline is not None:
        raise InvalidInput("a new deadline goes with sending the response back only")
    async with uow:
        order, case = await _locked(order_id, uow)
        data: dict[str, Any] = {"accepted": accepted}
        if accepted:
            order.close()
            step = OrderStep.CLOSED
        else:
            due = (
                new_deadline.resolve(clock.now, clock.calendar, clock.city_timezone)
                if new_deadline
                else None
            )
            order.send_back(due_at=due, at=clock.now)
            step = OrderStep.SENT_BACK
            data["due_at"] = order.due_at.isoformat()
        await uow.supervision.save(order)
        _record(case, _event(order, step, actor=user.actor, at=clock.now, reason=note, **data))
        await uow.cases.save(case)
        if not accepted:
            await uow.governance.notify(
                _notice(
                    order,
                    OrderStep.SENT_BACK,
                    kind=NOTICE_KIND,
                    audience=DEPARTMENT_AUDIENCE,
                    now=clock.now,
                    tz=clock.city_timezone,
                )
            )
        await uow.commit()
    log.info("supervision order %s", step, extra={"case": case.number, "order": order_id})
    return order


async def _locked(order_id: int, uow: UnitOfWork) -> tuple[SupervisionOrder, Case]:
    """The order and its case, both locked: the case first, as ``remind`` does."""
    found = await uow.supervision.get(order_id)
    assert found.case_number is not None
    case = await uow.cases.by_number(found.case_number, lock=True)
    return await uow.supervision.get(order_id, lock=True), case


def _record(case: Case, event: CaseEvent) -> None:
    case.record(event)
    case.updated_at = event.at


async def for_case(number: str, *, user: StaffUser, uow: UnitOfWork) -> list[SupervisionOrder]:
    """The case's orders, oldest first; the case's access rule."""
    async with uow:
        case = await uow.cases.by_number(number)
        check_access(user, case)
        assert case.id is not None
        return await uow.supervision.for_case(case.id)


async def listing(
    *,
    status: OrderFilter | None,
    department: str | None,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
    limit: int = 50,
    offset: int = 0,
) -> list[SupervisionOrder]:
    """Orders by deadline; department staff see their own department's only."""
    department, unit = user.narrowed(department)
    async with uow:
        return await uow.supervision.listing(
            status=status, department=department, now=now, limit=limit, offset=offset, unit=unit
        )


async def report(
    *,
    since: datetime | None,
    until: datetime | None,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
) -> list[SupervisionCounts]:
    """Per department, the orders issued in [since, until): answered on time, late, still
    open and (of those) overdue now. Department staff get their own department's row."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must come after since")
    async with uow:
        rows = await uow.supervision.report(since=since, until=until, now=now)
    if user.sees_all_departments:
        return rows
    return [r for r in rows if user.may_handle(r.department)]


async def remind(
    *,
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    city_timezone: tzinfo = UTC,
    batch: int = 200,
) -> int:
    """Remind departments of open orders due within a day, and again once overdue; each
    order at most once in any 24 hours. The number of reminders sent."""
    async with uow_factory() as uow:
        candidates = await uow.supervision.reminder_candidates(
            now=now, within=REMIND_WITHIN, every=REMIND_EVERY, limit=batch
        )
    sent = 0
    for candidate in candidates:
        assert candidate.id is not None and candidate.case_number is not None
        async with uow_factory() as uow:
            case = await uow.cases.by_number(candidate.case_number, lock=True)
            if not await uow.supervision.claim_reminder(candidate.id, now=now, every=REMIND_EVERY):
                continue  # answered meanwhile, or another worker reminded it
            order = await uow.supervision.get(candidate.id)
            overdue = order.overdue(now)
            case.record(
                _event(
                    order,
                    OrderStep.REMINDED,
                    actor=SCHEDULER,
                    at=now,
                    overdue=overdue,
                    reminders=order.reminders,
                )
            )
            await uow.cases.save(case)
            await uow.governance.notify(
                _notice(
                    order,
                    "overdue" if overdue else "due",
                    kind=REMINDER_KIND,
                    audience=DEPARTMENT_AUDIENCE,
                    now=now,
                    tz=city_timezone,
                )
            )
            await uow.commit()
            sent += 1
    if sent:
        log.info("supervision reminders", extra={"sent": sent})
    return sent
