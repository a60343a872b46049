"""The case state machine: every transition is an event with who, when, from/to and why."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from civicline.domain.cases import (
    AWAITING_REPLY,
    AWAITING_TRIAGE,
    OPEN,
    REPLYABLE,
    TRANSITIONS,
    Case,
    CaseEvent,
    CaseStatus,
    EventKind,
)
from civicline.domain.errors import IllegalTransition, InvalidInput
from civicline.domain.messages import Channel, Language

S = CaseStatus
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
FINISHED = {S.CLOSED, S.MERGED, S.REJECTED}


def make_case(status: CaseStatus = S.RECEIVED, department: str | None = None) -> Case:
    return Case(
        number="261127-00042",
        citizen_id=1,
        channel=Channel.WEBCHAT,
        reply_to="conv-1",
        summary="路灯坏了",
        language=Language.ZH,
        created_at=T0,
        accept_due_at=T0 + timedelta(hours=24),
        complete_due_at=T0 + timedelta(days=7),
        status=status,
        department=department,
    )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def moves(case: Case) -> list[tuple[S | None, S | None]]:
    return [(e.from_status, e.to_status) for e in case.events]


def test_main_path_records_one_event_per_transition() -> None:
    case = make_case()
    case.accept(actor="operator:li", at=at(1), reason="valid complaint")
    case.assign("transport", actor="operator:li", at=at(2))
    case.transition(S.IN_PROGRESS, actor="staff:wang", at=at(3))
    case.mark_answered(actor="staff:wang", at=at(4))
    case.close(actor="staff:wang", at=at(5), resolution="lamp repaired")

    assert case.status == S.CLOSED
    assert case.department == "transport"
    assert case.resolution == "lamp repaired"
    assert case.updated_at == at(5)
    assert moves(case) == [
        (S.RECEIVED, S.ACCEPTED),
        (S.ACCEPTED, S.ASSIGNED),
        (S.ASSIGNED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.ANSWERED),
        (S.ANSWERED, S.CLOSED),
    ]
    assert [e.actor for e in case.events] == ["operator:li"] * 2 + ["staff:wang"] * 3
    assert [e.at for e in case.events] == [at(i) for i in range(1, 6)]
    assert all(e.kind == EventKind.TRANSITION for e in case.events)
    assert case.events[0].reason == "valid complaint"
    assert case.events[1].data == {"department": "transport"}
    assert case.events[-1].reason == "lamp repaired"


def test_mark_answered_twice_adds_no_second_event() -> None:
    case = make_case(S.IN_PROGRESS, "transport")
    case.mark_answered(actor="staff:wang", at=at(1))
    case.mark_answered(actor="staff:wang", at=at(2))
    assert moves(case) == [(S.IN_PROGRESS, S.ANSWERED)]


def test_assign_from_received_accepts_first() -> None:
    case = make_case()
    case.assign("transport", actor="nlu", at=at(1), reason="confident")
    assert case.status == S.ASSIGNED
    assert moves(case) == [(S.RECEIVED, S.ACCEPTED), (S.ACCEPTED, S.ASSIGNED)]
    assert all(e.actor == "nlu" for e in case.events)


def test_forward_changes_department_and_records_both() -> None:
    case = make_case(S.ASSIGNED, "transport")
    case.forward("housing_construction", actor="staff:wang", at=at(1), reason="road works")
    assert case.status == S.FORWARDED
    assert case.department == "housing_construction"
    (event,) = case.events
    assert (event.from_status, event.to_status) == (S.ASSIGNED, S.FORWARDED)
    assert event.reason == "road works"
    assert event.data == {"from_department": "transport", "department": "housing_construction"}


@pytest.mark.parametrize("reason", ["", "   "])
def test_forward_needs_a_reason(reason: str) -> None:
    case = make_case(S.ASSIGNED, "transport")
    with pytest.raises(InvalidInput):
        case.forward("commerce", actor="staff:wang", at=at(1), reason=reason)
    assert (case.status, case.department, case.events) == (S.ASSIGNED, "transport", [])


def test_forward_to_the_same_department_is_refused() -> None:
    case = make_case(S.ASSIGNED, "transport")
    with pytest.raises(InvalidInput):
        case.forward("transport", actor="staff:wang", at=at(1), reason="oops")
    assert case.status == S.ASSIGNED
    assert case.events == []


def test_return_clears_department_and_needs_a_reason() -> None:
    case = make_case(S.IN_PROGRESS, "transport")
    with pytest.raises(InvalidInput):
        case.return_misrouted(actor="staff:wang", at=at(1), reason=" ")
    assert case.department == "transport"

    case.return_misrouted(actor="staff:wang", at=at(2), reason="not ours")
    assert case.status == S.RETURNED
    assert case.department is None
    assert case.status in AWAITING_TRIAGE
    (event,) = case.events
    assert event.reason == "not ours"
    assert event.data == {"from_department": "transport"}


def test_returned_case_can_be_assigned_again() -> None:
    case = make_case(S.RETURNED)
    case.assign("commerce", actor="operator:li", at=at(1))
    assert (case.status, case.department) == (S.ASSIGNED, "commerce")
    assert moves(case) == [(S.RETURNED, S.ASSIGNED)]


def test_merge_records_the_target_case() -> None:
    case = make_case(S.ASSIGNED, "transport")
    case.merge_into("261127-00007", actor="staff:wang", at=at(1), reason="duplicate")
    assert case.status == S.MERGED
    assert case.merged_into == "261127-00007"
    assert case.events[-1].data == {"into": "261127-00007"}


def test_a_case_cannot_be_merged_into_itself() -> None:
    case = make_case()
    with pytest.raises(InvalidInput):
        case.merge_into(case.number, actor="staff:wang", at=at(1))
    assert (case.status, case.merged_into, case.events) == (S.RECEIVED, None, [])


@pytest.mark.parametrize("target", list(S))
def test_merged_is_terminal(target: CaseStatus) -> None:
    case = make_case(S.MERGED)
    with pytest.raises(IllegalTransition):
        case.transition(target, actor="staff:wang", at=at(1), reason="why not")


def test_merged_case_refuses_business_actions() -> None:
    case = make_case(S.MERGED, "transport")
    actions = [
        lambda: case.accept(actor="a", at=at(1)),
        lambda: case.assign("commerce", actor="a", at=at(1)),
        lambda: case.forward("commerce", actor="a", at=at(1), reason="r"),
        lambda: case.return_misrouted(actor="a", at=at(1), reason="r"),
        lambda: case.mark_answered(actor="a", at=at(1)),
        lambda: case.reject(actor="a", at=at(1), reason="r"),
        lambda: case.reopen(actor="a", at=at(1), reason="r"),
        lambda: case.merge_into("261127-00001", actor="a", at=at(1)),
    ]
    for action in actions:
        with pytest.raises(IllegalTransition):
            action()
    assert case.events == []


def test_an_unmerge_brings_back_the_state_before_the_merge() -> None:
    case = make_case(S.IN_PROGRESS, "transport")
    case.merge_into("261127-00007", actor="system:incidents", at=at(1), counted=True)
    with pytest.raises(InvalidInput):
        case.unmerge(actor="staff:wang", at=at(2), reason=" ")
    merge = case.unmerge(actor="staff:wang", at=at(2), reason="another lift")
    assert merge.data == {"into": "261127-00007", "counted": True}
    assert (case.status, case.merged_into, case.updated_at) == (S.IN_PROGRESS, None, at(2))
    assert moves(case) == [(S.IN_PROGRESS, S.MERGED), (S.MERGED, S.IN_PROGRESS)]
    assert case.events[-1].data == {"unmerged_from": "261127-00007"}
    with pytest.raises(InvalidInput):  # not merged any more
        case.unmerge(actor="staff:wang", at=at(3), reason="again")


def test_an_unmerge_needs_the_merge_in_the_history() -> None:
    case = make_case(S.MERGED, "transport")
    case.merged_into = "261127-00007"
    with pytest.raises(InvalidInput):
        case.unmerge(actor="staff:wang", at=at(1), reason="loaded without history")


def test_reject_needs_a_reason_and_reopen_brings_it_back() -> None:
    case = make_case()
    with pytest.raises(InvalidInput):
        case.reject(actor="operator:li", at=at(1), reason="")
    case.reject(actor="operator:li", at=at(2), reason="advertising spam")
    assert case.status == S.REJECTED
    assert case.events[-1].reason == "advertising spam"

    with pytest.raises(InvalidInput):
        case.reopen(actor="supervisor:zhao", at=at(3), reason="")
    case.reopen(actor="supervisor:zhao", at=at(4), reason="it was a real complaint")
    assert case.status == S.REOPENED
    assert moves(case) == [(S.RECEIVED, S.REJECTED), (S.REJECTED, S.REOPENED)]


def test_closed_case_can_be_reopened() -> None:
    case = make_case(S.ANSWERED, "transport")
    case.close(actor="staff:wang", at=at(1), resolution="fixed")
    case.reopen(actor="supervisor:zhao", at=at(2), reason="citizen says still broken")
    assert case.status == S.REOPENED
    assert case.status in AWAITING_REPLY


@pytest.mark.parametrize("resolution", ["", "  \n"])
def test_closing_needs_a_resolution(resolution: str) -> None:
    case = make_case(S.ANSWERED, "transport")
    with pytest.raises(InvalidInput):
        case.close(actor="staff:wang", at=at(1), resolution=resolution)
    assert (case.status, case.resolution, case.events) == (S.ANSWERED, None, [])


def test_closing_before_an_answer_is_illegal() -> None:
    case = make_case(S.IN_PROGRESS, "transport")
    with pytest.raises(IllegalTransition):
        case.close(actor="staff:wang", at=at(1), resolution="done")
    assert case.resolution is None


def test_transitions_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(
    ("source", "target"),
    list(itertools.product(S, S)),
    ids=lambda s: str(s),
)
def test_every_pair_of_statuses(source: CaseStatus, target: CaseStatus) -> None:
    case = make_case(source, "transport")
    if target in TRANSITIONS[source]:
        event = case.transition(target, actor="staff:wang", at=at(1), reason="r")
        assert case.status == target
        assert case.events == [event]
        assert (event.from_status, event.to_status) == (source, target)
        assert (event.actor, event.at, event.reason) == ("staff:wang", at(1), "r")
    else:
        with pytest.raises(IllegalTransition) as info:
            case.transition(target, actor="staff:wang", at=at(1), reason="r")
        assert (info.value.current, info.value.target) == (source, target)
        assert case.status == source
        assert case.events == []
        assert case.pending_events == []
        assert case.updated_at is None


def test_pending_events_collect_until_cleared() -> None:
    case = make_case()
    case.assign("transport", actor="nlu", at=at(1))
    assert case.pending_events == case.events
    assert len(case.pending_events) == 2

    case.pending_events.clear()
    note = CaseEvent(kind=EventKind.MESSAGE, at=at(2), actor="citizen", data={"text_id": 9})
    case.record(note)
    case.transition(S.IN_PROGRESS, actor="staff:wang", at=at(3))

    assert len(case.events) == 4
    assert case.pending_events == case.events[2:]
    assert case.pending_events[0] is note


def test_reply_and_triage_queues_are_disjoint() -> None:
    assert not AWAITING_REPLY & AWAITING_TRIAGE
    assert not REPLYABLE & AWAITING_TRIAGE


@pytest.mark.parametrize("name", ["AWAITING_REPLY", "AWAITING_TRIAGE", "OPEN", "REPLYABLE"])
def test_no_queue_holds_a_finished_case(name: str) -> None:
    queue = {
        "AWAITING_REPLY": AWAITING_REPLY,
        "AWAITING_TRIAGE": AWAITING_TRIAGE,
        "OPEN": OPEN,
        "REPLYABLE": REPLYABLE,
    }[name]
    assert not queue & FINISHED


def test_every_status_is_either_open_or_finished() -> None:
    assert set(S) == OPEN | FINISHED


def test_finished_statuses_only_leave_by_reopening_or_never() -> None:
    for status in FINISHED:
        assert TRANSITIONS[status] <= {S.REOPENED}


def sources_of(target: CaseStatus) -> set[CaseStatus]:
    return {source for source, targets in TRANSITIONS.items() if target in targets}


def test_only_an_answered_case_can_be_closed() -> None:
    assert sources_of(S.CLOSED) == {S.ANSWERED}


def test_rejection_is_a_triage_decision() -> None:
    assert sources_of(S.REJECTED) == AWAITING_TRIAGE


def test_only_a_finished_case_can_be_reopened() -> None:
    assert sources_of(S.REOPENED) == {S.CLOSED, S.REJECTED}


def test_every_status_is_reachable_and_every_open_case_can_finish() -> None:
    def reachable(start: CaseStatus) -> set[CaseStatus]:
        seen, frontier = {start}, {start}
        while frontier:
            frontier = {t for s in frontier for t in TRANSITIONS[s]} - seen
            seen |= frontier
        return seen

    assert reachable(S.RECEIVED) == set(S)
    for status in OPEN:
        assert reachable(status) & FINISHED, status


def test_declining_a_case_never_accepted_stores_when_for_the_rates() -> None:
    case = make_case()
    case.reject(actor="staff:li", at=at(5), reason="不属于受理范围")
    assert case.declined_at == at(5) and case.accepted_at is None
    case.transition(S.REOPENED, actor="staff:li", at=at(9))
    case.transition(S.RETURNED, actor="staff:li", at=at(10))
    case.reject(actor="staff:li", at=at(20), reason="不属于受理范围")
    assert case.declined_at == at(5)  # the first decision stands, as in the history


def test_declining_an_accepted_case_keeps_its_acceptance_as_the_decision() -> None:
    case = make_case()
    case.accept(actor="nlu", at=at(1))
    case.reject(actor="staff:li", at=at(30), reason="不属于受理范围")
    assert case.accepted_at == at(1) and case.declined_at is None
