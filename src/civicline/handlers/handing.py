"""Hand a case down (交办), up (上报) or across (转送) the units' tree, follow its assignments,
and tell a parent unit when the unit it handed a case to is late (domain.handing).

Who may move a case: the staff of the department holding it, a supervisor or admin of its
unit or of a unit above, and the city's hotline centre. Who may follow its assignments: anyone
who may handle the case, and the departments and supervisors of every unit that held it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.calendar import WorkCalendar
from civicline.domain.cases import AWAITING_REPLY, Case, CaseEvent, EventKind
from civicline.domain.claims import ClaimRule
from civicline.domain.errors import NotAllowed, NotFound
from civicline.domain.governance import Notification
from civicline.domain.handing import (
    Assignment,
    Handing,
    Handover,
    Move,
    hand_down,
    holding,
    report_up,
    transfer,
    unit_of_department,
    unit_of_user,
    waited_since,
)
from civicline.domain.taxonomy import Taxonomy
from civicline.domain.units import Unit, UnitTree
from civicline.handlers.access import check_access
from civicline.handlers.case_actions import hold_claim
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

SYSTEM = "system:scheduler"
PARENT_AUDIENCE = "department_head"  # the parent department's head (and its clerks) read it
LATE_TEXT = "案件 {number} 已交办{unit}，超过交办期限（{due}）未办结，请督办。"


@dataclass(frozen=True, slots=True)
class HandRequest:
    handing: Handing
    reason: str | None = None
    unit: str | None = None  # down: the unit below; across: a sibling unit
    department: str | None = None  # across: a department (a sibling's, its own unit's, outside)
    due_working_days: int | None = None  # down: the child's deadline, else the default


@dataclass(frozen=True, slots=True)
class Link:
    """One assignment as the case view shows it."""

    assignment: Assignment
    unit: Unit | None  # None when the units file no longer lists it
    late: bool


def may_move(user: StaffUser, case: Case, tree: UnitTree) -> bool:
    holder = unit_of_department(case.department, tree)
    if user.role == Role.STAFF:
        return user.department is not None and user.department == case.department
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return unit_of_user(user, tree).contains(holder)
    # The hotline centre's operators: those of the city.
    return user.in_the_centre and unit_of_user(user, tree).parent is None


async def move(
    number: str,
    request: HandRequest,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    tree: UnitTree,
    taxonomy: Taxonomy,
    calendar: WorkCalendar,
    now: datetime,
    claim: ClaimRule = ClaimRule.RESPECT,
) -> tuple[Case, list[Assignment]]:
    """Apply one move; refused ones change nothing. The case leaves its holder: the claim
    on it ends. Returns the case and its assignments, oldest first."""
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        if not may_move(user, case, tree):
            raise NotAllowed(f"{user.username} may not hand case {number} on")
        await hold_claim(uow, case, user, now=now, rule=claim)
        assert case.id is not None
        chain = await uow.assignments.of_case(case.id)
        category = taxonomy.categories.get(case.category or "")
        h = Handover(
            tree,
            taxonomy.departments.__contains__,
            calendar,
            user.actor,
            now,
            category.department if category else None,
        )
        reason = request.reason or ""
        moved: Move
        match request.handing:
            case Handing.DOWN:
                moved = hand_down(
                    case,
                    chain,
                    request.unit or "",
                    h,
                    reason=request.reason,
                    working_days=request.due_working_days,
                )
            case Handing.UP:
                moved = report_up(case, chain, h, reason=reason)
            case Handing.ACROSS:
                outside = taxonomy.departments
                moved = transfer(
                    case,
                    chain,
                    h,
                    reason=reason,
                    unit=request.unit,
                    department=request.department,
                    outside=lambda code: code in outside and outside[code].outside,
                )
        await uow.cases.save(case)
        for position, assignment in enumerate(moved.saves):
            if position in moved.parents:
                assignment.parent_id = moved.saves[moved.parents[position]].id
            await uow.assignments.save(assignment)
        await uow.claims.release(case.id)
        chain = await uow.assignments.of_case(case.id)
        await uow.commit()
    log.info("case handed", extra={"case": number, "handing": str(request.handing)})
    return case, chain


def may_follow(user: StaffUser, case: Case, chain: list[Assignment], tree: UnitTree) -> bool:
    """Anyone who may handle the case, and those of every unit that held it."""
    try:
        check_access(user, case)
        return True
    except NotAllowed:
        pass
    if user.department is not None and any(a.department == user.department for a in chain):
        return True
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        mine = unit_of_user(user, tree)
        return any(tree.contains(mine.code, a.unit) for a in chain)
    return False


async def follow(
    number: str, *, user: StaffUser, uow: UnitOfWork, tree: UnitTree, now: datetime
) -> tuple[Case, list[Link]]:
    """The case and who held it, down the tree: unit, department, due, state, late?"""
    async with uow:
        case = await uow.cases.by_number(number)
        assert case.id is not None
        chain = await uow.assignments.of_case(case.id)
    if not may_follow(user, case, chain, tree):
        raise NotAllowed(f"{user.username} may not follow case {number}")
    return case, [Link(a, tree.get(a.unit), a.late(now)) for a in chain]


async def links_of(case: Case, *, uow: UnitOfWork, tree: UnitTree, now: datetime) -> list[Link]:
    """The assignments of a case the user may already see (checked by the caller), oldest
    first."""
    assert case.id is not None
    async with uow:
        chain = await uow.assignments.of_case(case.id)
    return [Link(a, tree.get(a.unit), a.late(now)) for a in chain]


@dataclass(frozen=True, slots=True)
class HandingView:
    """What a case's page shows of the tree: who held it, and where the user may move it."""

    links: list[Link]
    movable: bool  # the user may move it, and it awaits its answer
    below: list[Unit]  # hand-down targets
    siblings: list[Unit]  # transfer targets
    outside: list[str]  # outside bodies' departments, transfer targets too
    up: Unit | None  # the unit a report up goes to


async def handing_view(
    case: Case,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    tree: UnitTree,
    taxonomy: Taxonomy,
    now: datetime,
) -> HandingView:
    """For a case the user may already see (``case_screen`` checked it)."""
    links = await links_of(case, uow=uow, tree=tree, now=now)
    chain = [link.assignment for link in links]
    try:
        holder = unit_of_department(case.department, tree) if case.department else None
    except NotFound:  # a department of a unit the file no longer lists
        holder = None
    if holder is None or case.status not in AWAITING_REPLY or not may_move(user, case, tree):
        return HandingView(links, False, [], [], [], None)
    mine = holding(chain)
    parent = next((a for a in chain if mine and a.id == mine.parent_id), None)
    up = tree.get(parent.unit) if parent else tree.get(holder.parent)
    siblings = (
        [u for u in tree.children(holder.parent) if u.code != holder.code] if holder.parent else []
    )
    outside = [code for code, d in taxonomy.departments.items() if d.outside]
    return HandingView(links, True, tree.subtree(holder.code)[1:], siblings, outside, up)


async def tell_parents(
    *,
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    city_timezone: tzinfo = UTC,
    tree: UnitTree | None = None,
    calendar: WorkCalendar | None = None,
    batch: int = 200,
) -> int:
    """Each handed-down assignment past its own deadline, once: an escalation event on the
    case and a notification to the department that handed it down. Of several workers, one
    marks the assignment (an UPDATE … WHERE escalated_at IS NULL) and tells. A case no longer
    awaiting its answer is marked and nobody is told; a paused one waits, and once resumed its
    deadline first moves on by the working time waited (with ``calendar``)."""
    async with uow_factory() as uow:
        late = await uow.assignments.late(now=now, limit=batch)
    told = 0
    for assignment_id in late:
        async with uow_factory() as uow:
            child = await uow.assignments.get(assignment_id)
            if child is None or child.parent_id is None:
                continue
            parent = await uow.assignments.get(child.parent_id)
            case = await uow.cases.get(child.case_id)
            case = await uow.cases.by_number(case.number, lock=True, with_history=True)
            if parent is None or case.paused_since is not None:
                continue  # waiting for the citizen: looked at again once resumed
            waited = waited_since(case, child.updated_at or child.created_at)
            if calendar is not None and waited:
                child.due_at = calendar.add_working_time(child.due_at, waited)
                child.updated_at = now
                await uow.assignments.save(child)
                if child.due_at >= now:
                    await uow.commit()
                    continue  # its deadline moved on by the wait, as the case's did
            if not await uow.assignments.mark_escalated(child.id or 0, at=now):
                continue
            if case.status not in AWAITING_REPLY:
                await uow.commit()  # closed, merged or answered meanwhile: nobody to tell
                continue
            unit = tree.get(child.unit) if tree is not None else None
            name = unit.name_zh if unit is not None else child.unit
            case.record(
                CaseEvent(
                    EventKind.ESCALATED,
                    at=now,
                    actor=SYSTEM,
                    reason=f"handed down to {child.unit}, overdue: {parent.unit} is told",
                    data={
                        "assignment": child.id,
                        "unit": child.unit,
                        "to": parent.department,
                        "due": child.due_at.isoformat(),
                    },
                )
            )
            await uow.cases.save(case)
            await uow.governance.notify(
                Notification(
                    created_at=now,
                    kind="escalated",
                    audience=PARENT_AUDIENCE,
                    text=LATE_TEXT.format(
                        number=case.number,
                        unit=name,
                        due=f"{child.due_at.astimezone(city_timezone):%Y-%m-%d %H:%M}",
                    ),
                    case_id=case.id,
                    department=parent.department,
                )
            )
            await uow.commit()
            told += 1
    return told
