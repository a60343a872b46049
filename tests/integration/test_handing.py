"""Handing cases along the units' tree on SQLite and PostgreSQL: the assignments a move leaves,
who may move and follow a case, an answer marking the holder's assignment, and a late
hand-down told to its parent exactly once however many workers run the scheduler."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.cases import Case, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.handing import Assignment, AssignmentState, Handing
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers import case_actions, handing
from civicline.handlers.cases import Reading, Routing, open_case
from civicline.handlers.escalation import Schedule, run_schedule
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
FILED = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)  # Monday
assert TAXONOMY.units is not None
# The shipped 宣城市: 宁国市 341881, its 河沥溪街道 341881003 and 西津街道 341881001.
TREE = TAXONOMY.units
USERS = {
    "boss": (Role.SUPERVISOR, None),
    "ningguo": (Role.STAFF, "341881.human_resources"),
    "helixi": (Role.STAFF, "341881003.office"),
    "xuanzhou": (Role.STAFF, "341802.human_resources"),
    "xuanzhou_lead": (Role.SUPERVISOR, "341802.human_resources"),
    "ningguo_lead": (Role.SUPERVISOR, "341881.human_resources"),
}


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)  # units first: departments name them
        for name, (role, department) in USERS.items():
            await u.staff.add(StaffUser(name, "x", role, FILED, department))
        await u.commit()
    return uow_factory


async def _user(uow: SqlUnitOfWorkFactory, name: str) -> StaffUser:
    async with uow() as u:
        found = await u.staff.by_username(name)
    assert found is not None
    return found


async def _open(uow: SqlUnitOfWorkFactory) -> Case:
    stored, _ = await SqlInboxWriter(uow.engine).add(
        InboundMessage(Channel.WEBCHAT, "m1", "conv-1", "工厂拖欠工资三个月", FILED, Language.ZH)
    )
    async with uow() as u:
        message = await u.inbox.get(stored.id or 0)
        citizen = await u.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, "conv-1"), at=FILED, language=Language.ZH
        )
        message.citizen_id = citizen.id
        reading = Reading(Classification("labour_social_security", 0.9, (), "fake"))
        routing = Routing(0.4, SHANGHAI, CHINA)
        case = await open_case(message, reading, uow=u, filing=Rules(TAXONOMY, routing), now=FILED)
        await u.commit()
    assert case.department == "human_resources"
    return case


async def _move(
    uow: SqlUnitOfWorkFactory, number: str, who: str, request: handing.HandRequest, now: datetime
) -> tuple[Case, list[Assignment]]:
    return await handing.move(
        number,
        request,
        user=await _user(uow, who),
        uow=uow(),
        tree=TREE,
        taxonomy=TAXONOMY,
        calendar=CHINA,
        now=now,
    )


async def test_down_twice_answered_and_followed(uow: SqlUnitOfWorkFactory) -> None:
    case = await _open(uow)
    down = handing.HandRequest(Handing.DOWN, unit="341881")
    with pytest.raises(NotAllowed):  # another county's supervisor
        await _move(uow, case.number, "xuanzhou_lead", down, FILED)
    moved, chain = await _move(uow, case.number, "boss", down, FILED)
    assert moved.department == "341881.human_resources" and len(chain) == 2
    later = FILED + timedelta(hours=2)
    with pytest.raises(InvalidInput, match="not below"):
        await _move(
            uow, case.number, "ningguo", handing.HandRequest(Handing.DOWN, unit="341802"), later
        )
    moved, chain = await _move(
        uow, case.number, "ningguo", handing.HandRequest(Handing.DOWN, unit="341881003"), later
    )
    assert moved.number == case.number and moved.department == "341881003.office"
    assert [a.state for a in chain] == ["handed_down", "handed_down", "holding"]
    assert [a.parent_id for a in chain] == [None, chain[0].id, chain[1].id]
    assert chain[2].due_at < chain[1].due_at < chain[0].due_at == case.complete_due_at

    helixi = await _user(uow, "helixi")
    await case_actions.reply_to_all(
        case.number, "已督促企业支付工资", user=helixi, uow=uow(), now=later + timedelta(hours=1)
    )
    # The county's clerk no longer handles the case, but follows it; another county does not.
    with pytest.raises(NotAllowed):
        await case_actions.case_thread(case.number, user=await _user(uow, "ningguo"), uow=uow())
    followed, links = await handing.follow(
        case.number, user=await _user(uow, "ningguo"), uow=uow(), tree=TREE, now=later
    )
    assert followed.status == CaseStatus.ANSWERED
    assert [(link.assignment.unit, link.assignment.state, link.late) for link in links] == [
        ("341800", AssignmentState.HANDED_DOWN, False),
        ("341881", AssignmentState.HANDED_DOWN, False),
        ("341881003", AssignmentState.ANSWERED, False),
    ]
    assert links[2].unit is not None and links[2].unit.name_zh == "河沥溪街道"
    with pytest.raises(NotAllowed):
        await handing.follow(
            case.number, user=await _user(uow, "xuanzhou"), uow=uow(), tree=TREE, now=later
        )
    async with uow() as u:
        history = (await u.cases.by_number(case.number, with_history=True)).events
    assert [e.data.get("handing") for e in history if e.to_status == CaseStatus.FORWARDED] == [
        "down",
        "down",
    ]


async def test_up_and_across_keep_the_chain(uow: SqlUnitOfWorkFactory) -> None:
    case = await _open(uow)
    await _move(uow, case.number, "boss", handing.HandRequest(Handing.DOWN, unit="341881"), FILED)
    await _move(
        uow, case.number, "ningguo", handing.HandRequest(Handing.DOWN, unit="341881003"), FILED
    )
    across = handing.HandRequest(Handing.ACROSS, reason="事发地在西津街道", unit="341881001")
    moved, chain = await _move(uow, case.number, "helixi", across, FILED)
    assert moved.department == "341881001.office"
    assert chain[-1].parent_id == chain[1].id and chain[2].state == "transferred"
    # 西津's office has no user here: the county's supervisor reports it up for them.
    up = handing.HandRequest(Handing.UP, reason="需市级协调")
    with pytest.raises(NotAllowed):
        await _move(uow, case.number, "helixi", up, FILED)
    moved, chain = await _move(uow, case.number, "ningguo_lead", up, FILED)
    assert moved.department == "341881.human_resources"
    assert [a.state for a in chain] == ["handed_down", "holding", "transferred", "reported_up"]


async def test_a_late_township_is_told_to_its_county_once(uow: SqlUnitOfWorkFactory) -> None:
    case = await _open(uow)
    await _move(uow, case.number, "boss", handing.HandRequest(Handing.DOWN, unit="341881"), FILED)
    _, chain = await _move(
        uow,
        case.number,
        "ningguo",
        handing.HandRequest(Handing.DOWN, unit="341881003", due_working_days=2),
        FILED,
    )
    due = chain[-1].due_at
    assert due == CHINA.add_working_days(FILED, 2)
    schedule = Schedule(CHINA, SHANGHAI, units=TREE)
    before = await run_schedule(uow_factory=uow, schedule=schedule, now=due - timedelta(minutes=1))
    assert before.parents_told == 0
    after = due + timedelta(hours=1)
    runs = await asyncio.gather(
        *(run_schedule(uow_factory=uow, schedule=schedule, now=after) for _ in range(3))
    )
    assert sum(r.parents_told for r in runs) == 1
    async with uow.engine.connect() as conn:
        notices = list(await conn.execute(select(NotificationRow)))
        count = await conn.scalar(select(func.count()).select_from(NotificationRow))
    # The case itself is not overdue: no clerk rung, only the county is told.
    assert count == 1
    async with uow() as u:
        events = (await u.cases.by_number(case.number, with_history=True)).events
    assert [(n.audience, n.department, n.case_id) for n in notices] == [
        ("department_head", "341881.human_resources", case.id)
    ]
    assert "河沥溪街道" in notices[0].text and case.number in notices[0].text
    late = [e for e in events if e.kind == EventKind.ESCALATED and "assignment" in e.data]
    assert [e.data["unit"] for e in late] == ["341881003"]
    _, links = await handing.follow(
        case.number, user=await _user(uow, "ningguo"), uow=uow(), tree=TREE, now=after
    )
    assert [link.late for link in links] == [False, False, True]


async def test_a_returned_case_s_late_township_tells_nobody(uow: SqlUnitOfWorkFactory) -> None:
    case = await _open(uow)
    await _move(uow, case.number, "boss", handing.HandRequest(Handing.DOWN, unit="341881"), FILED)
    _, chain = await _move(
        uow,
        case.number,
        "ningguo",
        handing.HandRequest(Handing.DOWN, unit="341881003", due_working_days=1),
        FILED,
    )
    boss = await _user(uow, "boss")
    await case_actions.act(
        case.number,
        case_actions.ActionRequest(case_actions.Action.RETURN, reason="非本单位事项"),
        user=boss,
        uow=uow(),
        taxonomy=TAXONOMY,
        now=FILED + timedelta(hours=1),
    )
    after = chain[-1].due_at + timedelta(hours=1)
    run = await run_schedule(uow_factory=uow, schedule=Schedule(CHINA, SHANGHAI), now=after)
    assert run.parents_told == 0
    async with uow.engine.connect() as conn:
        audiences = list(await conn.scalars(select(NotificationRow.audience)))
    assert "department_head" not in audiences  # the triage's own deadline rung may be there
    async with uow() as u:
        assert await u.assignments.late(now=after, limit=10) == []  # not looked at again


async def test_a_wait_for_the_citizen_moves_the_hand_down_s_deadline(
    uow: SqlUnitOfWorkFactory,
) -> None:
    case = await _open(uow)
    await _move(uow, case.number, "boss", handing.HandRequest(Handing.DOWN, unit="341881"), FILED)
    _, chain = await _move(
        uow,
        case.number,
        "ningguo",
        handing.HandRequest(Handing.DOWN, unit="341881003", due_working_days=2),
        FILED,
    )
    due = chain[-1].due_at
    paused, resumed = FILED + timedelta(hours=1), CHINA.add_working_days(FILED, 1)
    async with uow() as u:
        held = await u.cases.by_number(case.number, lock=True)
        held.pause(actor="staff:helixi", at=paused, reason="等市民补充地址")
        await u.cases.save(held)
        await u.commit()
    schedule = Schedule(CHINA, SHANGHAI, units=TREE)
    waiting = await run_schedule(uow_factory=uow, schedule=schedule, now=due + timedelta(hours=1))
    assert waiting.parents_told == 0  # paused: nobody is late
    async with uow() as u:
        held = await u.cases.by_number(case.number, lock=True)
        held.resume(actor="citizen", at=resumed, calendar=CHINA)
        await u.cases.save(held)
        await u.commit()
    moved_on = CHINA.add_working_time(due, CHINA.working_time_between(paused, resumed))
    first = await run_schedule(uow_factory=uow, schedule=schedule, now=due + timedelta(hours=1))
    assert first.parents_told == 0
    async with uow() as u:
        assert (await u.assignments.of_case(case.id or 0))[-1].due_at == moved_on
    later = await run_schedule(
        uow_factory=uow, schedule=schedule, now=moved_on + timedelta(minutes=1)
    )
    assert later.parents_told == 1
