"""Handing a case along the tree of units: down (交办, city → county → township), up (上报, a
unit that cannot solve the matter gives it back to its parent) and across (转送, to a sibling
unit or an outside body).

Each move is the case's forward (转办) to the target unit's department, with ``handing`` in the
event's data, so the history tells it and the case keeps its one number. Each unit that held
the case has an ``Assignment``: its department, the assignment it was handed down from, its own
deadline and how it went. A hand-down's deadline lies inside its parent's: by default the
parent's remaining working days less ``MARGIN_DAYS`` (the parent needs time to check the
answer), never after the parent's.

The unit holding a case is its department's (``domain.units``: ``341881.human_resources`` is
宁国市's, the taxonomy's own codes are the city's).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.calendar import WorkCalendar
from civicline.domain.cases import AWAITING_REPLY, Case, EventKind
from civicline.domain.errors import IllegalTransition, InvalidInput
from civicline.domain.units import OFFICE, Unit, UnitTree, department_code, split_department_code

MARGIN_DAYS = 1  # working days a parent keeps for itself before its own deadline
MAX_REASON = 2000


class Handing(enum.StrEnum):
    DOWN = "down"  # 交办
    UP = "up"  # 上报
    ACROSS = "across"  # 转送


class AssignmentState(enum.StrEnum):
    HOLDING = "holding"  # the unit has the case and owes the answer
    HANDED_DOWN = "handed_down"  # passed to a unit below; waits for it
    ANSWERED = "answered"  # the unit answered the citizen
    REPORTED_UP = "reported_up"  # given back to the parent (上报)
    TRANSFERRED = "transferred"  # sent across (转送)


@dataclass(slots=True)
class Assignment:
    case_id: int
    unit: str
    department: str
    due_at: datetime
    created_at: datetime
    actor: str
    state: AssignmentState = AssignmentState.HOLDING
    parent_id: int | None = None
    handing: Handing | None = None  # how it came to this unit (None: where the case started)
    reason: str | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None  # answered, reported up or transferred
    escalated_at: datetime | None = None  # the parent was told it is late
    id: int | None = None

    def late(self, now: datetime) -> bool:
        """Past its own deadline without an answer, or answered after it."""
        if self.state == AssignmentState.HOLDING:
            return self.due_at < now
        if self.state == AssignmentState.ANSWERED and self.finished_at is not None:
            return self.due_at < self.finished_at
        return False

    def finish(self, state: AssignmentState, at: datetime) -> None:
        self.state = state
        self.updated_at = at
        if state != AssignmentState.HOLDING:
            self.finished_at = at
        if state in (AssignmentState.HOLDING, AssignmentState.HANDED_DOWN):
            self.finished_at = None


@dataclass(slots=True)
class Move:
    """What one hand-down, report-up or transfer changes: the case (already forwarded) and the
    assignments to save, in this order; ``parents`` maps a position in ``saves`` to the
    position of its parent, whose id is known once that one is saved."""

    handing: Handing
    department: str
    unit: str
    saves: list[Assignment]
    parents: dict[int, int] = field(default_factory=dict)


def unit_of_department(code: str | None, tree: UnitTree) -> Unit:
    """The unit a department belongs to: its code's prefix, the city for the taxonomy's."""
    unit, _kind = split_department_code(code or "")
    return tree.unit(unit) if unit is not None else tree.city


def unit_of_user(user: StaffUser, tree: UnitTree) -> Unit:
    """The unit a user works for: their account's, else their department's, else the city."""
    own = tree.get(user.unit)
    return own if own is not None else unit_of_department(user.department, tree)


def matter_kind(department: str | None, fallback: str | None) -> str | None:
    """The kind of matter a case is (the city department the taxonomy routes it to): its
    department's kind, or ``fallback`` (its category's department) when it sits in an
    office."""
    if department is not None:
        _unit, kind = split_department_code(department)
        if kind != OFFICE:
            return kind
    return fallback


def target_department(unit: Unit, kind: str | None, exists: Callable[[str], bool]) -> str:
    """The department of ``unit`` that takes a matter of ``kind``: the city's own department,
    a county's department of that kind, else the unit's office."""
    if unit.parent is None and kind is not None and exists(kind):
        return kind
    if kind is not None and exists(department_code(unit.code, kind)):
        return department_code(unit.code, kind)
    if exists(department_code(unit.code, OFFICE)):
        return department_code(unit.code, OFFICE)
    raise InvalidInput(f"unit {unit.code} has no department for {kind or 'this matter'}")


def holding(chain: Sequence[Assignment]) -> Assignment | None:
    """The assignment that owes the answer now (the newest holding or answered one)."""
    live = (AssignmentState.HOLDING, AssignmentState.ANSWERED)
    return next((a for a in reversed(chain) if a.state in live), None)


def waited_since(case: Case, since: datetime) -> timedelta:
    """The working time the case waited for the citizen (paused, then resumed) since
    ``since``: an assignment's deadline moves on by it, as the case's own did."""
    return sum(
        (
            timedelta(seconds=int(e.data.get("waited_seconds", 0)))
            for e in case.events
            if e.kind == EventKind.RESUMED and e.at > since
        ),
        timedelta(0),
    )


def whole_working_days(calendar: WorkCalendar, start: datetime, end: datetime) -> int:
    return int(calendar.working_time_between(start, end) / timedelta(days=1))


def child_due(
    parent_due: datetime,
    *,
    now: datetime,
    calendar: WorkCalendar,
    working_days: int | None = None,
) -> datetime:
    """A hand-down's deadline: ``working_days`` from now when given (refused when after the
    parent's), else the parent's remaining working days less the margin; never after the
    parent's."""
    if working_days is not None:
        if working_days < 1:
            raise InvalidInput("a hand-down's deadline is at least one working day")
        if working_days > whole_working_days(calendar, now, parent_due) + 1:
            raise InvalidInput("a hand-down's deadline cannot be after its parent's")
        due = calendar.add_working_days(now, working_days)
        if due > parent_due:
            raise InvalidInput("a hand-down's deadline cannot be after its parent's")
        return due
    days = whole_working_days(calendar, now, parent_due) - MARGIN_DAYS
    if days < 1:
        return parent_due
    return min(calendar.add_working_days(now, days), parent_due)


@dataclass(frozen=True, slots=True)
class Handover:
    """Everything a move needs to know besides the case and its assignments."""

    tree: UnitTree
    exists: Callable[[str], bool]  # is this a known department?
    calendar: WorkCalendar
    actor: str
    now: datetime
    category_kind: str | None = None  # the department the taxonomy routes the category to


def _root(case: Case, unit: Unit, h: Handover) -> Assignment:
    assert case.id is not None and case.department is not None
    return Assignment(
        case_id=case.id,
        unit=unit.code,
        department=case.department,
        due_at=case.complete_due_at,
        created_at=h.now,
        actor=h.actor,
    )


def _next(
    mine: Assignment,
    unit: Unit,
    department: str,
    due: datetime,
    handing: Handing,
    reason: str,
    h: Handover,
) -> Assignment:
    """The assignment a move gives ``unit``: under ``mine`` when handed down, beside it when
    sent across (the same parent), above it (linked when saved) when reported up."""
    parent = {Handing.DOWN: mine.id, Handing.ACROSS: mine.parent_id, Handing.UP: None}[handing]
    return Assignment(
        case_id=mine.case_id,
        unit=unit.code,
        department=department,
        due_at=due,
        created_at=h.now,
        actor=h.actor,
        parent_id=parent,
        handing=handing,
        reason=reason,
    )


def _movable(case: Case, what: str) -> None:
    if case.status not in AWAITING_REPLY or case.department is None:
        raise IllegalTransition(case.number, case.status, what)


def _current(case: Case, chain: Sequence[Assignment], h: Handover) -> tuple[Unit, Assignment]:
    """The holder's unit and its assignment (a new root one when the case was never handed)."""
    unit = unit_of_department(case.department, h.tree)
    mine = holding(chain)
    if mine is None or mine.department != case.department:
        mine = _root(case, unit, h)
    return unit, mine


def _forward(
    case: Case,
    department: str,
    handing: Handing,
    unit: Unit,
    due: datetime,
    reason: str,
    h: Handover,
) -> None:
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(f"a reason holds at most {MAX_REASON} characters")
    case.forward(
        department,
        actor=h.actor,
        at=h.now,
        reason=text,
        data={"handing": str(handing), "unit": unit.code, "due": due.isoformat()},
    )


def hand_down(
    case: Case,
    chain: Sequence[Assignment],
    target: str,
    h: Handover,
    *,
    reason: str | None = None,
    working_days: int | None = None,
) -> Move:
    """交办: give the case to a unit below its holder, with a deadline inside the holder's."""
    _movable(case, "handed down")
    unit, mine = _current(case, chain, h)
    below = h.tree.get(target)
    if below is None:
        raise InvalidInput(f"unit {target} is not in the tree")
    if below.code == unit.code or not unit.contains(below):
        raise InvalidInput(f"unit {target} is not below {unit.code}, which holds the case")
    kind = matter_kind(case.department, h.category_kind)
    department = target_department(below, kind, h.exists)
    due = child_due(mine.due_at, now=h.now, calendar=h.calendar, working_days=working_days)
    text = reason or f"交办 {below.name_zh}"
    _forward(case, department, Handing.DOWN, below, due, text, h)
    mine.finish(AssignmentState.HANDED_DOWN, h.now)
    child = _next(mine, below, department, due, Handing.DOWN, text, h)
    return Move(Handing.DOWN, department, below.code, [mine, child], {1: 0})


def report_up(case: Case, chain: Sequence[Assignment], h: Handover, *, reason: str) -> Move:
    """上报: the holder cannot solve the matter and gives it back to the unit that handed it
    down (or, when nobody did, to its parent unit), with a reason."""
    if not reason.strip():
        raise InvalidInput("a report up (上报) needs a reason")
    _movable(case, "reported up")
    unit, mine = _current(case, chain, h)
    parent = next((a for a in chain if mine.parent_id is not None and a.id == mine.parent_id), None)
    if parent is not None:
        up = h.tree.unit(parent.unit)
        department, due = parent.department, parent.due_at
    else:
        if unit.parent is None:
            raise InvalidInput("the city has nobody to report up to")
        up = h.tree.unit(unit.parent)
        department = target_department(up, matter_kind(case.department, h.category_kind), h.exists)
        due = case.complete_due_at
    _forward(case, department, Handing.UP, up, due, reason, h)
    mine.finish(AssignmentState.REPORTED_UP, h.now)
    if parent is not None:
        parent.finish(AssignmentState.HOLDING, h.now)
        return Move(Handing.UP, department, up.code, [mine, parent])
    above = _next(mine, up, department, due, Handing.UP, reason.strip(), h)
    return Move(Handing.UP, department, up.code, [above, mine], {1: 0})


def transfer(
    case: Case,
    chain: Sequence[Assignment],
    h: Handover,
    *,
    reason: str,
    unit: str | None = None,
    department: str | None = None,
    outside: Callable[[str], bool] = lambda _code: False,
) -> Move:
    """转送: send the case across, to a sibling unit (its department for the matter) or to a
    department of a sibling, of the holder's own unit, or an outside body; it keeps the
    holder's deadline and parent."""
    if not reason.strip():
        raise InvalidInput("a transfer (转送) needs a reason")
    if (unit is None) == (department is None):
        raise InvalidInput("a transfer names either a unit or a department")
    _movable(case, "transferred")
    here, mine = _current(case, chain, h)
    if department is not None:
        if not h.exists(department):
            raise InvalidInput(f"unknown department {department}")
        if outside(department):
            there = here
        else:
            there = unit_of_department(department, h.tree)
            if there.code != here.code and there.parent != here.parent:
                raise InvalidInput(f"{department} is neither {here.code}'s nor a sibling's")
    else:
        assert unit is not None
        found = h.tree.get(unit)
        if found is None:
            raise InvalidInput(f"unit {unit} is not in the tree")
        if found.code == here.code or found.parent != here.parent:
            raise InvalidInput(f"unit {unit} is not a sibling of {here.code}")
        there = found
        department = target_department(
            there, matter_kind(case.department, h.category_kind), h.exists
        )
    if department == case.department:
        raise InvalidInput(f"case {case.number} is already with {department}")
    _forward(case, department, Handing.ACROSS, there, mine.due_at, reason, h)
    mine.finish(AssignmentState.TRANSFERRED, h.now)
    across = _next(mine, there, department, mine.due_at, Handing.ACROSS, reason.strip(), h)
    return Move(Handing.ACROSS, department, there.code, [mine, across])
