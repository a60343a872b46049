"""The deadline scheduler: warn before a case falls due, escalate it once it is overdue.

Run by every worker each minute. Overdue time is counted in working time (a case that falls
due on Friday evening is not a day overdue on Saturday night). Each rung of the ladder (clerk
→ department head → supervising office) is taken once per case: the rung is a row with a
primary key, inserted with ON CONFLICT DO NOTHING, so of several workers running at the same
moment exactly one records the escalation event and the notification. The case row is locked
while it is escalated, so concurrent rungs of one case do not overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from civicline.domain.calendar import WorkCalendar
from civicline.domain.cases import AWAITING_REPLY, AWAITING_TRIAGE, Case, CaseEvent, EventKind
from civicline.domain.governance import (
    DEFAULT_LADDER,
    VISIT_WAIT,
    EscalationStep,
    Notification,
    VisitStatus,
)
from civicline.domain.units import UnitTree
from civicline.handlers.handing import tell_parents
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory
from civicline.storage.governance import NEAR_DUE_LEVEL

log = logging.getLogger(__name__)

SYSTEM = "system:scheduler"
NEAR_DUE = timedelta(hours=4)

TEXTS = {
    "near_due": "案件 {number} 将于 {due} 到期，请及时办理。",
    "clerk": "案件 {number} 已超期（应于 {due} 办结），请立即办理。",
    "department_head": "案件 {number} 超期未办结（应于 {due} 办结），已升级至部门负责人。",
    "supervising_office": "案件 {number} 严重超期（应于 {due} 办结），已升级至督查室。",
}


@dataclass(frozen=True, slots=True)
class Schedule:
    calendar: WorkCalendar
    city_timezone: tzinfo = UTC  # deadlines are shown in city time
    ladder: Sequence[EscalationStep] = DEFAULT_LADDER
    near_due: timedelta = NEAR_DUE
    batch: int = 200
    units: UnitTree | None = None  # names of units in the notices to parent units


@dataclass(slots=True)
class ScheduleRun:
    warned: int = 0
    escalated: int = 0  # rungs taken by this run
    unreachable: int = 0  # return visits nobody answered in time
    parents_told: int = 0  # handed-down assignments past their own deadline


async def run_schedule(
    *, uow_factory: UnitOfWorkFactory, schedule: Schedule, now: datetime
) -> ScheduleRun:
    run = ScheduleRun()
    async with uow_factory() as uow:
        soon = await uow.governance.near_due(
            now=now, until=now + schedule.near_due, limit=schedule.batch
        )
        late = await uow.governance.overdue(
            now=now, below_level=len(schedule.ladder), limit=schedule.batch
        )
    for number in soon:
        async with uow_factory() as uow:
            if await _warn(number, uow, schedule, now):
                run.warned += 1
    for number in late:
        async with uow_factory() as uow:
            run.escalated += await _escalate(number, uow, schedule, now)
    run.unreachable = await _expire_visits(uow_factory, schedule, now)
    run.parents_told = await tell_parents(
        uow_factory=uow_factory,
        now=now,
        city_timezone=schedule.city_timezone,
        tree=schedule.units,
        calendar=schedule.calendar,
        batch=schedule.batch,
    )
    if run.warned or run.escalated or run.unreachable or run.parents_told:
        log.info(
            "deadline scheduler",
            extra={
                "warned": run.warned,
                "escalated": run.escalated,
                "unreachable": run.unreachable,
                "parents_told": run.parents_told,
            },
        )
    return run


async def _expire_visits(uow_factory: UnitOfWorkFactory, schedule: Schedule, now: datetime) -> int:
    """Return visits unanswered after ``VISIT_WAIT``: the citizen counts as unreachable."""
    async with uow_factory() as uow:
        numbers = await uow.governance.unanswered_visits(
            asked_before=now - VISIT_WAIT, limit=schedule.batch
        )
    expired = 0
    for number in numbers:
        async with uow_factory() as uow:
            case = await uow.cases.by_number(number, lock=True)
            if case.visit_status != VisitStatus.ASKED:
                continue
            case.record_visit(None, solved=None, actor=SYSTEM, at=now)
            await uow.cases.save(case)
            await uow.commit()
            expired += 1
    return expired


async def _warn(number: str, uow: UnitOfWork, schedule: Schedule, now: datetime) -> bool:
    case = await uow.cases.by_number(number, lock=True)
    assert case.id is not None
    if not await uow.governance.claim_rung(case.id, NEAR_DUE_LEVEL, at=now):
        return False
    due = case.complete_due_at
    await uow.governance.notify(_notice(case, "near_due", "clerk", now, due, schedule))
    await uow.commit()
    return True


async def _escalate(number: str, uow: UnitOfWork, schedule: Schedule, now: datetime) -> int:
    case = await uow.cases.by_number(number, lock=True)
    assert case.id is not None
    due = _missed_deadline(case, now)
    if due is None or case.paused_since is not None:
        return 0  # answered or paused meanwhile
    overdue_by = schedule.calendar.working_time_between(due, now)
    taken = 0
    for step in schedule.ladder:
        if step.level <= case.escalation_level or step.after > overdue_by:
            continue
        if not await uow.governance.claim_rung(case.id, step.level, at=now):
            continue  # another worker took this rung
        case.escalation_level = max(case.escalation_level, step.level)
        case.record(
            CaseEvent(
                EventKind.ESCALATED,
                at=now,
                actor=SYSTEM,
                reason=f"overdue: escalated to {step.to}",
                data={"level": step.level, "to": step.to, "due": due.isoformat()},
            )
        )
        await uow.governance.notify(_notice(case, step.to, step.to, now, due, schedule))
        taken += 1
    if taken:
        await uow.cases.save(case)
        await uow.commit()
    return taken


def _missed_deadline(case: Case, now: datetime) -> datetime | None:
    if case.status in AWAITING_TRIAGE and case.accept_due_at < now:
        return case.accept_due_at
    if case.status in AWAITING_REPLY and case.complete_due_at < now:
        return case.complete_due_at
    return None


def _notice(
    case: Case,
    kind: str,
    audience: str,
    now: datetime,
    due: datetime,
    schedule: Schedule,
) -> Notification:
    local_due = due.astimezone(schedule.city_timezone)
    return Notification(
        created_at=now,
        kind="near_due" if kind == "near_due" else "escalated",
        audience=audience,
        text=TEXTS[kind].format(number=case.number, due=f"{local_due:%Y-%m-%d %H:%M}"),
        case_id=case.id,
        department=case.department,
    )
