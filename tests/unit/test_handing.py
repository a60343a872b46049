"""Handing a case down (交办), up (上报) and across (转送) the units' tree: targets, deadlines
inside the parent's, the assignments each move leaves and the history it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicline.domain.calendar import WEEKDAYS_ONLY
from civicline.domain.cases import Case, CaseStatus, EventKind
from civicline.domain.errors import IllegalTransition, InvalidInput
from civicline.domain.handing import (
    MARGIN_DAYS,
    Assignment,
    AssignmentState,
    Handing,
    Handover,
    Move,
    child_due,
    hand_down,
    holding,
    report_up,
    transfer,
    unit_of_department,
)
from tests.support.factories import case as make_case
from tests.support.units import SMALL_TREE

TREE = SMALL_TREE
DEPARTMENTS = {
    "human_resources",
    "housing_construction",
    "341881.human_resources",
    "341802.human_resources",
    "341881003.office",
    "341881001.office",
    "341802003.office",
    "341802.office",
    "power_supply",
}
MONDAY = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def handover(now: datetime = MONDAY, actor: str = "staff:boss") -> Handover:
    return Handover(TREE, DEPARTMENTS.__contains__, WEEKDAYS_ONLY, actor, now, "human_resources")


def city_case(due_in_days: int = 15) -> Case:
    case = make_case("261130-00001", 1, due_in_days=due_in_days, department="human_resources")
    case.id = 7
    case.created_at = MONDAY
    case.complete_due_at = WEEKDAYS_ONLY.add_working_days(MONDAY, due_in_days)
    case.status = CaseStatus.ASSIGNED
    return case


def saved(move: Move, chain: list[Assignment], first_id: int) -> list[Assignment]:
    """What the storage does with a move: ids for the new ones, parents linked."""
    ids = first_id
    for position, assignment in enumerate(move.saves):
        if assignment.id is None:
            assignment.id = ids
            ids += 1
            chain.append(assignment)
        if position in move.parents:
            assignment.parent_id = move.saves[move.parents[position]].id
    return chain


def test_the_city_hands_down_to_a_county_department_then_the_county_to_a_township() -> None:
    case = city_case()
    first = hand_down(case, [], "341881", handover(), reason="宁国市的工资问题")
    assert first.department == "341881.human_resources" and first.unit == "341881"
    chain = saved(first, [], 1)
    root, county = chain
    assert (root.unit, root.department, root.state) == (
        "341800",
        "human_resources",
        AssignmentState.HANDED_DOWN,
    )
    assert root.due_at == case.complete_due_at and root.parent_id is None
    assert county.parent_id == root.id and county.handing == Handing.DOWN
    assert county.state == AssignmentState.HOLDING
    # Fifteen working days left at the city: the county gets fifteen less the margin.
    assert county.due_at == WEEKDAYS_ONLY.add_working_days(MONDAY, 15 - MARGIN_DAYS)
    assert case.department == "341881.human_resources"
    assert case.status == CaseStatus.FORWARDED

    later = MONDAY + timedelta(days=1)
    second = hand_down(case, chain, "341881003", handover(later, "staff:ningguo"))
    chain = saved(second, chain, 3)
    township = chain[-1]
    assert township.department == "341881003.office" and township.parent_id == county.id
    assert [a.state for a in chain] == ["handed_down", "handed_down", "holding"]
    assert township.due_at < county.due_at < root.due_at
    assert holding(chain) is township
    assert case.number == "261130-00001"  # one number however often it is handed down
    moves = [e for e in case.events if e.kind == EventKind.TRANSITION]
    assert [e.data["handing"] for e in moves] == ["down", "down"]
    assert [e.data["unit"] for e in moves] == ["341881", "341881003"]
    assert moves[1].data["from_department"] == "341881.human_resources"
    assert moves[1].reason == "交办 河沥溪街道" and moves[1].actor == "staff:ningguo"


def test_a_hand_down_goes_only_below_the_holder() -> None:
    case = city_case()
    chain = saved(hand_down(case, [], "341881", handover()), [], 1)
    before = list(chain)
    for target, problem in [
        ("341802003", "not below"),  # another county's township
        ("341881", "not below"),  # itself
        ("341800", "not below"),  # its parent
        ("999999", "not in the tree"),
    ]:
        with pytest.raises(InvalidInput, match=problem):
            hand_down(case, chain, target, handover())
    assert case.department == "341881.human_resources" and chain == before


def test_a_unit_without_the_matter_s_department_gets_it_at_its_office() -> None:
    case = city_case()
    case.department = "housing_construction"
    move = hand_down(case, [], "341802", handover())
    assert move.department == "341802.office"


def test_a_county_without_the_department_or_an_office_is_refused() -> None:
    case = city_case()
    case.department = "housing_construction"
    with pytest.raises(InvalidInput, match="no department for housing_construction"):
        hand_down(case, [], "341881", handover())
    assert case.department == "housing_construction" and case.status == CaseStatus.ASSIGNED


def test_the_deadline_stays_inside_the_parent_s() -> None:
    parent_due = WEEKDAYS_ONLY.add_working_days(MONDAY, 3)
    assert child_due(parent_due, now=MONDAY, calendar=WEEKDAYS_ONLY) == (
        WEEKDAYS_ONLY.add_working_days(MONDAY, 3 - MARGIN_DAYS)
    )
    assert child_due(parent_due, now=MONDAY, calendar=WEEKDAYS_ONLY, working_days=3) == parent_due
    with pytest.raises(InvalidInput, match="after its parent's"):
        child_due(parent_due, now=MONDAY, calendar=WEEKDAYS_ONLY, working_days=4)
    with pytest.raises(InvalidInput, match="at least one"):
        child_due(parent_due, now=MONDAY, calendar=WEEKDAYS_ONLY, working_days=0)
    # Less than the margin left, or already late: the parent's own deadline, never later.
    soon = MONDAY + timedelta(hours=5)
    assert child_due(soon, now=MONDAY, calendar=WEEKDAYS_ONLY) == soon
    past = MONDAY - timedelta(days=2)
    assert child_due(past, now=MONDAY, calendar=WEEKDAYS_ONLY) == past
    # Working days: a Friday hand-down with three working days left skips the weekend.
    friday = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    due = child_due(WEEKDAYS_ONLY.add_working_days(friday, 3), now=friday, calendar=WEEKDAYS_ONLY)
    assert due == datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # Tuesday


def test_a_hand_down_with_an_explicit_deadline_after_the_parent_s_is_refused() -> None:
    case = city_case(due_in_days=2)
    with pytest.raises(InvalidInput, match="after its parent's"):
        hand_down(case, [], "341881", handover(), working_days=5)
    assert case.status == CaseStatus.ASSIGNED and case.department == "human_resources"


def test_a_township_reports_up_to_the_county_that_handed_it_down() -> None:
    case = city_case()
    chain = saved(hand_down(case, [], "341881", handover()), [], 1)
    chain = saved(hand_down(case, chain, "341881003", handover()), chain, 3)
    with pytest.raises(InvalidInput, match="needs a reason"):
        report_up(case, chain, handover(), reason="  ")
    move = report_up(
        case, chain, handover(actor="staff:hlx"), reason="涉及企业在外地，街道无权处理"
    )
    chain = saved(move, chain, 4)
    _root, county, township = chain
    assert township.state == AssignmentState.REPORTED_UP and township.finished_at == MONDAY
    assert county.state == AssignmentState.HOLDING and county.finished_at is None
    assert case.department == "341881.human_resources" and holding(chain) is county
    last = case.events[-1]
    assert last.data["handing"] == "up" and last.reason == "涉及企业在外地，街道无权处理"


def test_a_case_routed_straight_to_a_township_reports_up_to_its_parent_unit() -> None:
    case = city_case()
    case.department = "341881003.office"
    move = report_up(case, [], handover(), reason="需要市级协调")
    chain = saved(move, [], 1)
    above, mine = chain
    assert (above.unit, above.department) == ("341881", "341881.human_resources")
    assert mine.parent_id == above.id and mine.state == AssignmentState.REPORTED_UP
    assert above.state == AssignmentState.HOLDING and above.handing == Handing.UP
    city = city_case()
    with pytest.raises(InvalidInput, match="nobody to report up to"):
        report_up(city, [], handover(), reason="无")


def test_a_transfer_goes_to_a_sibling_or_an_outside_body_and_keeps_the_deadline() -> None:
    case = city_case()
    chain = saved(hand_down(case, [], "341881", handover()), [], 1)
    chain = saved(hand_down(case, chain, "341881003", handover()), chain, 3)
    township = chain[-1]
    with pytest.raises(InvalidInput, match="not a sibling"):
        transfer(case, chain, handover(), reason="不属本街道", unit="341802003")
    with pytest.raises(InvalidInput, match="either a unit or a department"):
        transfer(case, chain, handover(), reason="不属本街道")
    move = transfer(case, chain, handover(), reason="事发地在西津街道", unit="341881001")
    chain = saved(move, chain, 4)
    across = chain[-1]
    assert township.state == AssignmentState.TRANSFERRED
    assert (across.unit, across.department) == ("341881001", "341881001.office")
    assert across.due_at == township.due_at and across.parent_id == township.parent_id
    assert case.events[-1].data["handing"] == "across"
    outside = transfer(
        case,
        chain,
        handover(),
        reason="供电故障",
        department="power_supply",
        outside=lambda code: code == "power_supply",
    )
    assert outside.department == "power_supply" and case.department == "power_supply"
    with pytest.raises(InvalidInput, match="neither"):
        transfer(case, chain, handover(), reason="x", department="341802.human_resources")


def test_only_a_case_awaiting_its_answer_moves() -> None:
    case = city_case()
    case.status = CaseStatus.CLOSED
    with pytest.raises(IllegalTransition):
        hand_down(case, [], "341881", handover())
    with pytest.raises(IllegalTransition):
        report_up(case, [], handover(), reason="x")


def test_late_is_past_the_own_deadline_unanswered_or_answered_after_it() -> None:
    a = Assignment(7, "341881", "341881.human_resources", MONDAY, MONDAY, "staff:boss")
    assert not a.late(MONDAY) and a.late(MONDAY + timedelta(seconds=1))
    a.finish(AssignmentState.ANSWERED, MONDAY + timedelta(hours=1))
    assert a.late(MONDAY + timedelta(days=9))
    a.finish(AssignmentState.HOLDING, MONDAY)  # reported back up to it
    assert a.finished_at is None
    assert unit_of_department("341881003.office", TREE).code == "341881003"
    assert unit_of_department("human_resources", TREE).code == "341800"
