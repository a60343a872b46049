"""Supervision orders and leader ownership as plain domain objects, and the dossier's
escaping: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicline.domain.cases import CaseStatus
from civicline.domain.errors import IllegalTransition, InvalidInput
from civicline.domain.ownership import BacklogEntry, CaseOwner, owes_past_deadline
from civicline.domain.supervision import IllegalOrderStep, OrderStatus, SupervisionOrder
from civicline.gateway.api.cases.dossier import md
from civicline.handlers.supervision import Deadline
from civicline.storage.calendar_file import load_calendar
from tests.support.factories import case

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
HOUR = timedelta(hours=1)


def order(due_in: timedelta = timedelta(days=2)) -> SupervisionOrder:
    return SupervisionOrder.issue(
        1, instruction=" 请书面答复 ", due_at=T0 + due_in, by="staff:boss", at=T0
    )


def test_an_order_needs_an_instruction_and_a_future_deadline() -> None:
    assert order().instruction == "请书面答复"
    with pytest.raises(InvalidInput):
        SupervisionOrder.issue(1, instruction=" ", due_at=T0 + HOUR, by="b", at=T0)
    with pytest.raises(InvalidInput):
        SupervisionOrder.issue(1, instruction="x", due_at=T0, by="b", at=T0)
    with pytest.raises(InvalidInput):
        SupervisionOrder.issue(1, instruction="x" * 4001, due_at=T0 + HOUR, by="b", at=T0)


def test_the_order_lifecycle() -> None:
    o = order()
    with pytest.raises(IllegalOrderStep):
        o.close()
    o.answer("已处理", by="staff:li", at=T0 + HOUR)
    assert (o.status, o.responded_by, o.responded_at) == (
        OrderStatus.ANSWERED,
        "staff:li",
        T0 + HOUR,
    )
    with pytest.raises(IllegalOrderStep) as refused:
        o.answer("again", by="staff:li", at=T0 + HOUR)
    assert isinstance(refused.value, IllegalTransition)  # a 409 like a case's
    assert "answered" in str(refused.value)
    o.send_back(due_at=None, at=T0 + 2 * HOUR)
    assert (o.status, o.response, o.due_at) == (OrderStatus.OPEN, None, T0 + timedelta(days=2))
    o.answer("已处理完毕", by="staff:li", at=T0 + 3 * HOUR)
    with pytest.raises(InvalidInput):
        o.send_back(due_at=T0, at=T0 + 4 * HOUR)  # a new deadline in the past
    o.close()
    assert o.status == OrderStatus.CLOSED
    with pytest.raises(IllegalOrderStep):
        o.send_back(due_at=None, at=T0 + 5 * HOUR)


def test_reminders_due_within_a_day_and_at_most_daily() -> None:
    o = order(timedelta(days=2))
    assert not o.wants_reminder(T0 + timedelta(hours=23))  # due in 25 hours
    now = T0 + timedelta(hours=25)
    assert o.wants_reminder(now)
    o.reminded_at = now
    assert not o.wants_reminder(now + timedelta(hours=23, minutes=59))
    assert o.wants_reminder(now + timedelta(hours=24))  # overdue, a day later
    assert o.overdue(now + timedelta(hours=24))
    o.answer("答复", by="staff:li", at=now + timedelta(hours=25))
    assert not o.wants_reminder(now + timedelta(days=3)) and not o.overdue(now + timedelta(days=3))


def test_deadlines_in_working_days_or_explicit() -> None:
    china = load_calendar()
    thursday = datetime(2026, 9, 24, 10, 0, tzinfo=UTC)
    # Mid-Autumn (25-27 Sep) and National Day (1-7 Oct) do not count.
    assert Deadline(3).resolve(thursday, china, UTC) == datetime(2026, 9, 30, 10, 0, tzinfo=UTC)
    assert Deadline(5).resolve(thursday, china, UTC) == datetime(2026, 10, 9, 10, 0, tzinfo=UTC)
    explicit = datetime(2026, 10, 9, 17, 0, tzinfo=UTC)
    assert Deadline(at=explicit).resolve(thursday, china, UTC) == explicit
    for bad in (Deadline(), Deadline(3, explicit), Deadline(0), Deadline(61)):
        with pytest.raises(InvalidInput):
            bad.resolve(thursday, china, UTC)
    with pytest.raises(InvalidInput):
        Deadline(at=datetime(2026, 10, 9, 17, 0)).resolve(thursday, china, UTC)  # no zone


def test_ownership_terms_are_checked_and_changes_named() -> None:
    owner = CaseOwner.assign(
        7,
        leader=" 张副市长 ",
        supervising_leader="李主任",
        working_group=["王科长", " 王科长", "赵干事"],
        plan="方案",
        by="staff:boss",
        at=T0,
    )
    assert (owner.leader, owner.working_group) == ("张副市长", ["王科长", "赵干事"])
    same = owner.update(
        leader="张副市长",
        supervising_leader="李主任",
        working_group=["王科长", "赵干事"],
        plan="方案",
        at=T0 + HOUR,
    )
    assert same == [] and owner.updated_at == T0
    changed = owner.update(
        leader="张副市长",
        supervising_leader="周书记",
        working_group=["赵干事"],
        plan="方案",
        at=T0 + HOUR,
    )
    assert changed == ["supervising_leader", "working_group"] and owner.updated_at == T0 + HOUR
    for bad in (
        {"leader": "", "supervising_leader": "李", "working_group": ["王"], "plan": "p"},
        {"leader": "李", "supervising_leader": "李", "working_group": ["王"], "plan": "p"},
        {"leader": "张", "supervising_leader": "李", "working_group": [], "plan": "p"},
        {"leader": "张", "supervising_leader": "李", "working_group": [" "], "plan": "p"},
        {"leader": "张", "supervising_leader": "李", "working_group": ["王"], "plan": " "},
    ):
        with pytest.raises(InvalidInput):
            owner.update(**bad, at=T0)  # type: ignore[arg-type]


def test_backlog_age_and_overdue() -> None:
    c = case("261127-00001", 1, due_in_days=5, department="transport")
    c.status = CaseStatus.ASSIGNED
    entry = BacklogEntry(c, "张副市长", 2)
    assert entry.age_days(c.created_at + timedelta(days=60, hours=23)) == 60
    assert not entry.overdue(c.created_at + timedelta(days=4))
    assert entry.overdue(c.created_at + timedelta(days=6))
    c.paused_since = c.created_at + timedelta(days=1)  # waiting for the citizen
    assert not owes_past_deadline(c, c.created_at + timedelta(days=6))
    c.paused_since = None
    c.status = CaseStatus.ANSWERED  # answered, waiting to be closed: owes nothing
    assert not owes_past_deadline(c, c.created_at + timedelta(days=6))
    c.status = CaseStatus.RECEIVED  # in triage: the acceptance deadline counts
    assert owes_past_deadline(c, c.accept_due_at + HOUR)


def test_markdown_text_cannot_become_markup() -> None:
    assert md("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert md("a | b *c* _d_ [e](f) `g` #h") == r"a \| b \*c\* \_d\_ \[e\](f) \`g\` \#h"
    assert md("one\ntwo & three") == "one<br>two &amp; three"
