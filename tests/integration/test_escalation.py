"""The deadline scheduler with a controllable clock: warnings, the escalation ladder counted in
working time, pauses, and three workers at once taking each rung exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from civicline.domain.cases import Case, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.governance import VisitStatus
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers.cases import Reading, Routing, open_case
from civicline.handlers.escalation import Schedule, run_schedule
from civicline.nlu.base import Classification
from civicline.storage.calendar_file import load_calendar
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.tables import EscalationRow, NotificationRow
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import Rules
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = load_calendar()
TAXONOMY = load_taxonomy()
SCHEDULE = Schedule(CHINA, SHANGHAI)
# Friday 27 Nov 2026, 10:00 in Shanghai; environment cases have 5 working days: Fri 4 Dec 10:00.
FILED = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


async def _open(uow: SqlUnitOfWorkFactory, n: int = 1) -> list[Case]:
    cases = []
    for i in range(n):
        stored, _ = await SqlInboxWriter(uow.engine).add(
            InboundMessage(Channel.WEBCHAT, f"m{i}", f"conv-{i}", "河里有死鱼", FILED, Language.ZH)
        )
        async with uow() as u:
            message = await u.inbox.get(stored.id or 0)
            citizen = await u.citizens.get_or_create(
                ContactHandle(Channel.WEBCHAT, f"conv-{i}"),
                at=FILED,
                language=Language.ZH,
            )
            message.citizen_id = citizen.id
            reading = Reading(Classification("environment", 0.9, (), "fake"))
            routing = Routing(0.4, SHANGHAI, CHINA)
            case = await open_case(
                message, reading, uow=u, filing=Rules(TAXONOMY, routing), now=FILED
            )
            await u.commit()
        cases.append(case)
    return cases


async def _levels(uow: SqlUnitOfWorkFactory, number: str) -> list[int]:
    async with uow() as u:
        case = await u.cases.by_number(number, with_history=True)
    return [e.data["level"] for e in case.events if e.kind == EventKind.ESCALATED]


async def test_the_ladder_counts_working_time(uow: SqlUnitOfWorkFactory) -> None:
    [case] = await _open(uow)
    assert case.complete_due_at == at("2026-12-04T10:00")

    async def run(when: str) -> tuple[int, int]:
        done = await run_schedule(uow_factory=uow, schedule=SCHEDULE, now=at(when))
        return done.warned, done.escalated

    assert await run("2026-12-03T09:00") == (0, 0)
    assert await run("2026-12-04T07:00") == (1, 0)  # due within four hours
    assert await run("2026-12-04T08:00") == (0, 0)  # warned once
    assert await run("2026-12-04T10:01") == (0, 1)  # overdue: the clerk
    # Saturday noon: 14 working hours overdue (Friday 10:00 to midnight), not yet 24.
    assert await run("2026-12-05T12:00") == (0, 0)
    assert await run("2026-12-07T10:00") == (0, 1)  # Monday 10:00: 24 h, the department head
    assert await run("2026-12-09T10:00") == (0, 1)  # 72 h: the supervising office
    assert await run("2026-12-31T10:00") == (0, 0)  # the top of the ladder
    assert await _levels(uow, case.number) == [1, 2, 3]
    async with uow() as u:
        notes = await u.governance.notifications(
            audiences=["clerk", "department_head", "supervising_office"],
            department=None,
            limit=10,
            unread_only=True,
        )
    assert [n.kind for n in notes] == ["escalated", "escalated", "escalated", "near_due"]
    assert notes[0].audience == "supervising_office" and case.number in notes[0].text
    assert "2026-12-04 10:00" in notes[0].text  # city time


async def test_a_case_waiting_for_the_citizen_is_not_escalated(uow: SqlUnitOfWorkFactory) -> None:
    [case] = await _open(uow)
    async with uow() as u:
        paused = await u.cases.by_number(case.number)
        paused.pause(actor="staff:li", at=at("2026-12-01T10:00"), reason="需要现场照片")
        await u.cases.save(paused)
        await u.commit()
    done = await run_schedule(uow_factory=uow, schedule=SCHEDULE, now=at("2026-12-10T10:00"))
    assert done.escalated == 0
    async with uow() as u:
        resumed = await u.cases.by_number(case.number)
        resumed.resume(actor="citizen", at=at("2026-12-03T10:00"), calendar=CHINA)
        await u.cases.save(resumed)
        await u.commit()
    # Two working days of waiting move the deadline from Fri 4 Dec to Tue 8 Dec.
    assert resumed.complete_due_at == at("2026-12-08T10:00")


async def test_three_workers_take_each_rung_once(uow: SqlUnitOfWorkFactory, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL")
    cases = await _open(uow, 12)
    runs = await asyncio.gather(
        *(
            run_schedule(uow_factory=uow, schedule=SCHEDULE, now=at("2026-12-31T10:00"))
            for _ in range(3)
        )
    )
    assert sum(r.escalated for r in runs) == 12 * 3
    async with uow.engine.connect() as conn:
        rungs = await conn.scalar(select(func.count()).select_from(EscalationRow))
        notices = await conn.scalar(select(func.count()).select_from(NotificationRow))
    assert (rungs, notices) == (36, 36)
    for case in cases:
        assert await _levels(uow, case.number) == [1, 2, 3]


async def test_an_unanswered_return_visit_counts_as_unreachable(uow: SqlUnitOfWorkFactory) -> None:
    [case] = await _open(uow)
    async with uow() as u:
        closed = await u.cases.by_number(case.number)
        closed.mark_answered(actor="staff:li", at=at("2026-11-30T10:00"))
        closed.close(actor="staff:li", at=at("2026-11-30T11:00"), resolution="已清理")
        closed.visit_status = VisitStatus.ASKED
        await u.cases.save(closed)
        await u.commit()
    early = await run_schedule(uow_factory=uow, schedule=SCHEDULE, now=at("2026-12-03T10:00"))
    late = await run_schedule(uow_factory=uow, schedule=SCHEDULE, now=at("2026-12-03T12:00"))
    assert (early.unreachable, late.unreachable) == (0, 1)
    async with uow() as u:
        visited = await u.cases.by_number(case.number, with_history=True)
    assert visited.visit_status == VisitStatus.UNREACHABLE
    assert visited.events[-1].data == {"reached": False}
    assert visited.first_reply_at == at("2026-11-30T10:00")
    assert visited.accepted_at == FILED and visited.closed_at == at("2026-11-30T11:00")


async def test_long_missed_deadlines_are_history_not_news(uow: SqlUnitOfWorkFactory) -> None:
    """A case imported from past calls is overdue from the start: nobody is paged for it."""
    [case] = await _open(uow)
    done = await run_schedule(uow_factory=uow, schedule=SCHEDULE, now=at("2027-01-15T10:00"))
    assert done.escalated == 0
    assert await _levels(uow, case.number) == []
