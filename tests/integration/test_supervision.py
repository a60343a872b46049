"""Supervision orders, reminders, the report, leader ownership, the backlog and the dossier,
on SQLite and PostgreSQL, with a controllable clock (times in Shanghai)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from itertools import count
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.cases import Case, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.domain.supervision import IllegalOrderStep, OrderStatus
from civicline.handlers import dossier, ownership, supervision
from civicline.handlers.case_actions import reply_to_all
from civicline.handlers.cases import Reading, Routing, open_case
from civicline.nlu.base import Classification
from civicline.storage.calendar_file import load_calendar
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.tables import NotificationRow
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import Rules
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = load_calendar()
TAXONOMY = load_taxonomy()
FILED = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)  # a Friday
PHONE = "13912345678"

BOSS = StaffUser("boss", "x", Role.SUPERVISOR, FILED, id=1)
ADMIN = StaffUser("root", "x", Role.ADMIN, FILED, id=2)
OPERATOR = StaffUser("op", "x", Role.OPERATOR, FILED, department="hotline_center", id=3)
ENV_CLERK = StaffUser("wang", "x", Role.STAFF, FILED, department="ecology_environment", id=4)
BUS_CLERK = StaffUser("zhao", "x", Role.STAFF, FILED, department="transport", id=5)
_ids = count()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def clock(when: str) -> supervision.Clock:
    return supervision.Clock(at(when), CHINA, SHANGHAI)


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


async def file_case(
    uow: SqlUnitOfWorkFactory,
    category: str = "environment",
    filed: datetime = FILED,
    text: str = f"河里有死鱼，我的电话{PHONE}",
) -> Case:
    n = next(_ids)
    stored, _ = await SqlInboxWriter(uow.engine).add(
        InboundMessage(Channel.WEBCHAT, f"m{n}", f"conv-{n}", text, filed, Language.ZH)
    )
    async with uow() as u:
        message = await u.inbox.get(stored.id or 0)
        citizen = await u.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, f"conv-{n}"), at=filed, language=Language.ZH
        )
        message.citizen_id = citizen.id
        reading = Reading(Classification(category, 0.9, (), "fake"))
        case = await open_case(
            message,
            reading,
            uow=u,
            filing=Rules(TAXONOMY, Routing(0.4, SHANGHAI, CHINA)),
            now=filed,
        )
        assert case.id is not None and message.id is not None
        await u.inbox.link_case([message.id], case.id)
        await u.commit()
    return case


async def issue(
    uow: SqlUnitOfWorkFactory,
    number: str,
    when: str,
    *,
    days: int | None = 2,
    due: str | None = None,
    text: str = "请于期限内书面说明处理进展",
) -> int:
    order = await supervision.issue(
        number,
        instruction=text,
        deadline=supervision.Deadline(None if due else days, at(due) if due else None),
        user=BOSS,
        uow=uow(),
        clock=clock(when),
    )
    assert order.id is not None
    return order.id


async def history(uow: SqlUnitOfWorkFactory, number: str) -> list[dict[str, object]]:
    async with uow() as u:
        case = await u.cases.by_number(number, with_history=True)
    return [
        {"actor": e.actor, "at": e.at, "reason": e.reason, **e.data}
        for e in case.events
        if e.kind == EventKind.SUPERVISED
    ]


async def notices(uow: SqlUnitOfWorkFactory, kind: str) -> list[Notice]:
    async with uow.engine.connect() as conn:
        rows = await conn.execute(
            select(NotificationRow.audience, NotificationRow.department, NotificationRow.text)
            .where(NotificationRow.kind == kind)
            .order_by(NotificationRow.id)
        )
        return [Notice(*r) for r in rows]


class Notice(NamedTuple):
    audience: str
    department: str | None
    text: str


# The order's lifecycle ---------------------------------------------------------------------


async def test_an_order_is_issued_answered_sent_back_and_closed(uow: SqlUnitOfWorkFactory) -> None:
    case = await file_case(uow)
    order_id = await issue(uow, case.number, "2026-11-30T10:00", days=2)
    [order] = await supervision.for_case(case.number, user=ENV_CLERK, uow=uow())
    # Two working days from Monday 10:00, counted on the calendar: Wednesday 10:00.
    assert order.due_at == at("2026-12-02T10:00")
    assert (order.status, order.department, order.issued_by) == (
        OrderStatus.OPEN,
        "ecology_environment",
        "staff:boss",
    )

    answered = await supervision.respond(
        order_id, "已派员现场核查", user=ENV_CLERK, uow=uow(), clock=clock("2026-12-01T09:00")
    )
    assert answered.status == OrderStatus.ANSWERED and answered.responded_by == "staff:wang"
    back = await supervision.close(
        order_id,
        accepted=False,
        note="请补充整改时限",
        new_deadline=supervision.Deadline(at=at("2026-12-04T17:00")),
        user=BOSS,
        uow=uow(),
        clock=clock("2026-12-01T11:00"),
    )
    assert back.status == OrderStatus.OPEN and back.response is None
    assert back.due_at == at("2026-12-04T17:00")
    await supervision.respond(
        order_id, "12月3日前完成清理", user=ENV_CLERK, uow=uow(), clock=clock("2026-12-02T09:00")
    )
    closed = await supervision.close(
        order_id,
        accepted=True,
        note=None,
        new_deadline=None,
        user=ADMIN,
        uow=uow(),
        clock=clock("2026-12-02T10:00"),
    )
    assert closed.status == OrderStatus.CLOSED and closed.response == "12月3日前完成清理"

    steps = await history(uow, case.number)
    assert [(s["step"], s["actor"]) for s in steps] == [
        ("issued", "staff:boss"),
        ("answered", "staff:wang"),
        ("sent_back", "staff:boss"),
        ("answered", "staff:wang"),
        ("closed", "staff:root"),
    ]
    assert steps[0]["reason"] == "请于期限内书面说明处理进展"
    assert steps[0]["at"] == at("2026-11-30T10:00") and steps[0]["order"] == order_id
    assert steps[2]["reason"] == "请补充整改时限" and steps[2]["accepted"] is False
    assert steps[4]["accepted"] is True
    # The department was told of the order and of the send-back; the office of the answers.
    told = await notices(uow, "supervision")
    assert [(n.audience, n.department) for n in told] == [
        ("clerk", "ecology_environment"),
        ("supervising_office", "ecology_environment"),
        ("clerk", "ecology_environment"),
        ("supervising_office", "ecology_environment"),
    ]
    assert all(PHONE not in n.text and case.number in n.text for n in told)


async def test_rights_and_illegal_steps(uow: SqlUnitOfWorkFactory) -> None:
    case = await file_case(uow)
    with pytest.raises(NotAllowed):  # staff do not issue
        await supervision.issue(
            case.number,
            instruction="x",
            deadline=supervision.Deadline(2),
            user=ENV_CLERK,
            uow=uow(),
            clock=clock("2026-11-30T10:00"),
        )
    with pytest.raises(NotAllowed):  # nor operators
        await supervision.issue(
            case.number,
            instruction="x",
            deadline=supervision.Deadline(2),
            user=OPERATOR,
            uow=uow(),
            clock=clock("2026-11-30T10:00"),
        )
    for deadline in (supervision.Deadline(), supervision.Deadline(2, at("2026-12-09T10:00"))):
        with pytest.raises(InvalidInput):  # one deadline, exactly
            await supervision.issue(
                case.number,
                instruction="x",
                deadline=deadline,
                user=BOSS,
                uow=uow(),
                clock=clock("2026-11-30T10:00"),
            )
    with pytest.raises(InvalidInput):  # in the past
        await issue(uow, case.number, "2026-11-30T10:00", due="2026-11-29T10:00")
    with pytest.raises(InvalidInput):  # a written instruction is required
        await issue(uow, case.number, "2026-11-30T10:00", text="   ")
    order_id = await issue(uow, case.number, "2026-11-30T10:00")
    now = clock("2026-12-01T10:00")
    with pytest.raises(NotAllowed):  # another department's staff
        await supervision.respond(order_id, "答复", user=BUS_CLERK, uow=uow(), clock=now)
    with pytest.raises(NotAllowed):  # the supervisor does not answer their own order
        await supervision.respond(order_id, "答复", user=BOSS, uow=uow(), clock=now)
    with pytest.raises(InvalidInput):
        await supervision.respond(order_id, "  ", user=ENV_CLERK, uow=uow(), clock=now)
    with pytest.raises(IllegalOrderStep):  # nothing to accept yet
        await supervision.close(
            order_id, accepted=True, note=None, new_deadline=None, user=BOSS, uow=uow(), clock=now
        )
    await supervision.respond(order_id, "答复", user=ENV_CLERK, uow=uow(), clock=now)
    with pytest.raises(IllegalOrderStep):  # answered once; wait for the supervisor
        await supervision.respond(order_id, "再答", user=ENV_CLERK, uow=uow(), clock=now)
    with pytest.raises(NotAllowed):  # staff do not close
        await supervision.close(
            order_id,
            accepted=True,
            note=None,
            new_deadline=None,
            user=ENV_CLERK,
            uow=uow(),
            clock=now,
        )
    with pytest.raises(InvalidInput):  # a send-back says why
        await supervision.close(
            order_id, accepted=False, note=" ", new_deadline=None, user=BOSS, uow=uow(), clock=now
        )
    with pytest.raises(NotAllowed):  # another department cannot even read them
        await supervision.for_case(case.number, user=BUS_CLERK, uow=uow())
    assert [s["step"] for s in await history(uow, case.number)] == ["issued", "answered"]


# Reminders ---------------------------------------------------------------------------------


async def test_reminders_come_once_a_day_before_and_after_the_deadline(
    uow: SqlUnitOfWorkFactory,
) -> None:
    case = await file_case(uow)
    order_id = await issue(uow, case.number, "2026-11-30T10:00", days=2)  # due Wed 2 Dec 10:00

    async def remind(when: str) -> int:
        return await supervision.remind(uow_factory=uow, now=at(when), city_timezone=SHANGHAI)

    assert await remind("2026-12-01T09:00") == 0  # due in 25 hours
    assert await remind("2026-12-01T10:30") == 1  # due within a day
    assert await remind("2026-12-01T10:31") == 0  # the same day: not again
    assert await remind("2026-12-01T18:00") == 0
    assert await remind("2026-12-02T10:20") == 0  # overdue, but 23h50 since the last one
    assert await remind("2026-12-02T10:30") == 1  # overdue: reminded again
    assert await remind("2026-12-02T23:00") == 0
    assert await remind("2026-12-03T10:30") == 1  # every day while it stays overdue
    await supervision.respond(
        order_id, "已处理", user=ENV_CLERK, uow=uow(), clock=clock("2026-12-03T11:00")
    )
    assert await remind("2026-12-05T10:30") == 0  # answered: no more reminders

    sent = await notices(uow, "supervision_reminder")
    assert [(n.audience, n.department) for n in sent] == [("clerk", "ecology_environment")] * 3
    assert "将于 2026-12-02 10:00 到期" in sent[0].text
    assert "已超期" in sent[1].text and f"#{order_id}" in sent[1].text
    [order] = await supervision.for_case(case.number, user=BOSS, uow=uow())
    assert (order.reminders, order.reminded_at) == (3, at("2026-12-03T10:30"))
    reminded = [s for s in await history(uow, case.number) if s["step"] == "reminded"]
    assert [(s["overdue"], s["actor"]) for s in reminded] == [
        (False, "system:scheduler"),
        (True, "system:scheduler"),
        (True, "system:scheduler"),
    ]


async def test_three_schedulers_at_once_send_one_reminder(
    uow: SqlUnitOfWorkFactory, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL")
    cases = [await file_case(uow) for _ in range(5)]
    for case in cases:
        await issue(uow, case.number, "2026-11-30T10:00", days=1)
    runs = await asyncio.gather(
        *(
            supervision.remind(uow_factory=uow, now=at("2026-12-01T12:00"), city_timezone=SHANGHAI)
            for _ in range(3)
        )
    )
    assert sum(runs) == 5
    async with uow.engine.connect() as conn:
        sent = await conn.scalar(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.kind == "supervision_reminder")
        )
    assert sent == 5


# The report and the listing ------------------------------------------------------------------


async def test_the_report_against_hand_counted_orders(uow: SqlUnitOfWorkFactory) -> None:
    env = [await file_case(uow) for _ in range(4)]  # ecology_environment
    bus = [await file_case(uow, "transport") for _ in range(2)]  # transport
    on_time = await issue(uow, env[0].number, "2026-11-30T10:00")  # due 2 Dec 10:00
    late = await issue(uow, env[1].number, "2026-11-30T10:00")
    overdue = await issue(uow, env[2].number, "2026-11-30T10:00")
    after = await issue(uow, env[3].number, "2026-12-02T10:00", days=5)  # after the period
    waiting = await issue(uow, bus[0].number, "2026-12-01T10:00", due="2026-12-10T10:00")
    sent_back = await issue(uow, bus[1].number, "2026-12-01T10:00")  # due 3 Dec 10:00

    async def answer(order_id: int, user: StaffUser, when: str) -> None:
        await supervision.respond(order_id, "答复", user=user, uow=uow(), clock=clock(when))

    await answer(on_time, ENV_CLERK, "2026-12-01T15:00")
    await supervision.close(
        on_time,
        accepted=True,
        note=None,
        new_deadline=None,
        user=BOSS,
        uow=uow(),
        clock=clock("2026-12-01T16:00"),
    )
    await answer(late, ENV_CLERK, "2026-12-03T09:00")
    await answer(sent_back, BUS_CLERK, "2026-12-01T12:00")  # on time, but sent back:
    await supervision.close(
        sent_back,
        accepted=False,
        note="不具体",
        new_deadline=supervision.Deadline(at=at("2026-12-08T10:00")),
        user=BOSS,
        uow=uow(),
        clock=clock("2026-12-01T13:00"),
    )
    now = at("2026-12-04T12:00")
    rows = await supervision.report(
        since=at("2026-11-30T00:00"), until=at("2026-12-02T00:00"), user=BOSS, uow=uow(), now=now
    )
    figures = {
        r.department: (r.issued, r.answered_on_time, r.answered_late, r.still_open, r.overdue)
        for r in rows
    }
    assert figures == {
        "ecology_environment": (3, 1, 1, 1, 1),
        "transport": (2, 0, 0, 2, 0),
    }
    # Staff get their own department's row only.
    mine = await supervision.report(since=None, until=None, user=BUS_CLERK, uow=uow(), now=now)
    assert [(r.department, r.issued) for r in mine] == [("transport", 2)]

    async def listed(status: str | None, department: str | None = None) -> list[int | None]:
        orders = await supervision.listing(
            status=status,  # type: ignore[arg-type]
            department=department,
            user=BOSS,
            uow=uow(),
            now=now,
        )
        return [o.id for o in orders]

    assert await listed("overdue") == [overdue]
    assert await listed("open") == [overdue, sent_back, after, waiting]  # by deadline
    assert await listed("answered") == [late]
    assert await listed("closed") == [on_time]
    assert await listed("open", "transport") == [sent_back, waiting]
    with pytest.raises(NotAllowed):
        await supervision.listing(
            status=None, department="transport", user=ENV_CLERK, uow=uow(), now=now
        )
    own = await supervision.listing(
        status=None, department=None, user=BUS_CLERK, uow=uow(), now=now
    )
    assert {o.id for o in own} == {waiting, sent_back}


# Ownership, backlog, dossier -----------------------------------------------------------------


async def test_ownership_is_assigned_and_changed_with_events(uow: SqlUnitOfWorkFactory) -> None:
    case = await file_case(uow)
    terms = ownership.Terms("张副市长", "李主任", ["王科长", "赵干事", "王科长"], "一周内清理河道")
    with pytest.raises(NotAllowed):
        await ownership.assign(
            case.number, terms, user=ENV_CLERK, uow=uow(), now=at("2026-12-01T09:00")
        )
    first = await ownership.assign(
        case.number, terms, user=BOSS, uow=uow(), now=at("2026-12-01T09:00")
    )
    assert first.created and first.owner.working_group == ["王科长", "赵干事"]
    same = await ownership.assign(
        case.number, terms, user=BOSS, uow=uow(), now=at("2026-12-01T10:00")
    )
    assert not same.created and same.changed == []
    changed = await ownership.assign(
        case.number,
        ownership.Terms("陈副市长", "李主任", ["王科长", "赵干事"], "两周内清理河道并追责"),
        user=ADMIN,
        uow=uow(),
        now=at("2026-12-02T09:00"),
    )
    assert changed.changed == ["leader", "plan"]
    owner = await ownership.owner_of(case.number, user=ENV_CLERK, uow=uow())
    assert owner is not None
    assert (owner.leader, owner.assigned_by, owner.assigned_at, owner.updated_at) == (
        "陈副市长",
        "staff:boss",
        at("2026-12-01T09:00"),
        at("2026-12-02T09:00"),
    )
    with pytest.raises(NotAllowed):
        await ownership.owner_of(case.number, user=BUS_CLERK, uow=uow())
    with pytest.raises(InvalidInput):  # the supervising leader is someone else
        await ownership.assign(
            case.number,
            ownership.Terms("李主任", "李主任", ["王科长"], "方案"),
            user=BOSS,
            uow=uow(),
            now=at("2026-12-02T09:00"),
        )
    async with uow() as u:
        stored = await u.cases.by_number(case.number, with_history=True)
    owned = [e for e in stored.events if e.kind == EventKind.OWNED]
    assert [(e.actor, e.data["change"], e.data["changed"], e.reason) for e in owned] == [
        (
            "staff:boss",
            "assigned",
            ["leader", "supervising_leader", "working_group", "plan"],
            "一周内清理河道",
        ),
        ("staff:root", "updated", ["leader", "plan"], "两周内清理河道并追责"),
    ]
    assert owned[1].data["leader"] == "陈副市长" and owned[1].at == at("2026-12-02T09:00")


async def test_the_backlog_is_oldest_first_and_filtered(uow: SqlUnitOfWorkFactory) -> None:
    oldest = await file_case(uow, filed=at("2026-09-01T09:00"))
    bus = await file_case(uow, "transport", filed=at("2026-09-15T09:00"))
    young = await file_case(uow, filed=at("2026-11-01T09:00"))
    closed = await file_case(uow, filed=at("2026-08-01T09:00"))
    async with uow() as u:
        done = await u.cases.by_number(closed.number)
        done.mark_answered(actor="staff:wang", at=at("2026-08-02T09:00"))
        done.close(actor="staff:wang", at=at("2026-08-03T09:00"), resolution="已处理")
        await u.cases.save(done)
        await u.commit()
    await ownership.assign(
        oldest.number,
        ownership.Terms("张副市长", "李主任", ["王科长"], "方案"),
        user=BOSS,
        uow=uow(),
        now=at("2026-11-20T09:00"),
    )
    await issue(uow, oldest.number, "2026-11-20T09:00", days=1)
    await issue(uow, oldest.number, "2026-11-20T10:00", days=10)
    now = at("2026-11-27T12:00")

    async def backlog(
        user: StaffUser, days: int = 60, department: str | None = None
    ) -> list[tuple[str, int, str | None, int, bool]]:
        entries = await ownership.backlog(
            min_age_days=days, department=department, user=user, uow=uow(), now=now
        )
        return [
            (e.case.number, e.age_days(now), e.leader, e.open_orders, e.overdue(now))
            for e in entries
        ]

    assert await backlog(BOSS) == [
        (oldest.number, 87, "张副市长", 2, True),
        (bus.number, 73, None, 0, True),
    ]
    assert await backlog(BOSS, days=26) == [
        (oldest.number, 87, "张副市长", 2, True),
        (bus.number, 73, None, 0, True),
        (young.number, 26, None, 0, True),
    ]
    assert await backlog(BOSS, department="transport") == [(bus.number, 73, None, 0, True)]
    assert [n for n, *_ in await backlog(ENV_CLERK, days=0)] == [oldest.number, young.number]
    with pytest.raises(NotAllowed):
        await backlog(ENV_CLERK, department="transport")


async def test_the_dossier_holds_everything_and_masks_by_role(uow: SqlUnitOfWorkFactory) -> None:
    case = await file_case(uow, text=f"河里有死鱼 <script>alert(1)</script> 电话{PHONE}")
    order_id = await issue(uow, case.number, "2026-11-30T10:00", text=f"联系市民{PHONE}核实")
    await supervision.respond(
        order_id, "已核实", user=ENV_CLERK, uow=uow(), clock=clock("2026-12-01T10:00")
    )
    await reply_to_all(
        case.number,
        f"已派人处理，如有问题请拨{PHONE}",
        user=ENV_CLERK,
        uow=uow(),
        now=at("2026-12-01T11:00"),
    )
    await ownership.assign(
        case.number,
        ownership.Terms("张副市长", "李主任", ["王科长"], f"方案：回访{PHONE}"),
        user=BOSS,
        uow=uow(),
        now=at("2026-12-01T12:00"),
    )
    full = await dossier.build(case.number, user=BOSS, uow=uow(), now=at("2026-12-02T09:00"))
    assert not full.masked
    assert [m.direction for m in full.messages] == ["inbound", "outbound"]
    assert full.messages[1].status == "queued" and full.messages[1].author == "staff:wang"
    assert PHONE in full.case.summary and full.case.reply_to.startswith("conv-")
    assert [o.id for o in full.orders] == [order_id] and full.owner is not None
    async with uow() as u:
        stored = await u.cases.by_number(case.number, with_history=True)
    assert [e.kind for e in full.events] == [e.kind for e in stored.events]
    assert {"supervised", "owned", "reply", "transition", "classified"} <= {
        str(e.kind) for e in full.events
    }

    masked = await dossier.build(case.number, user=ENV_CLERK, uow=uow(), now=at("2026-12-02T09:00"))
    assert masked.masked and masked.case.reply_to == "•••"
    texts = [
        masked.case.summary,
        *(m.text for m in masked.messages),
        *(m.address for m in masked.messages),
        masked.orders[0].instruction,
        masked.owner.plan if masked.owner else "",
        *(e.reason or "" for e in masked.events),
        *(str(e.data) for e in masked.events),
    ]
    assert not any(PHONE in t for t in texts)
    assert "<phone>" in masked.case.summary and "<phone>" in masked.orders[0].instruction
    with pytest.raises(NotAllowed):
        await dossier.build(case.number, user=BUS_CLERK, uow=uow(), now=at("2026-12-02T09:00"))
