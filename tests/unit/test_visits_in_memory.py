"""Registering visits and booking appointments over the in-memory unit of work."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.errors import InvalidInput, NotAllowed, NotFound
from civicline.domain.messages import Channel
from civicline.domain.rota import Rota
from civicline.domain.visits import (
    AlreadyBooked,
    AppointmentStatus,
    Full,
    Outcome,
    VisitKind,
    Visitor,
)
from civicline.handlers import appointments, visits
from civicline.handlers.cases import Routing
from civicline.storage.calendar_file import load_calendar
from civicline.storage.files import LocalFiles
from civicline.storage.rota_file import load_venues
from civicline.storage.taxonomy_file import load_taxonomy
from tests.fakes.memory import MemoryStore
from tests.unit.test_hotline_form import Recording

CITY = ZoneInfo("Asia/Shanghai")
VENUES = load_venues()
CALENDAR = load_calendar()
ROTA = Rota(VENUES, CALENDAR)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=CITY)  # a Monday, 王建国's turn? see below
CLERK = StaffUser("clerk", "h", Role.OPERATOR, created_at=NOW)
SUPERVISOR = StaffUser("boss", "h", Role.SUPERVISOR, created_at=NOW)
DEPARTMENT = StaffUser("li", "h", Role.STAFF, created_at=NOW, department="transport")
PEOPLE = (
    Visitor("张三", "341800199003070017", "+8613900000001"),
    Visitor("李四", "341881198501010010", "+8613900000002"),
    Visitor("王五", None, "+8613900000003"),
)


def _reception(store: MemoryStore, tmp_path: Path) -> visits.Reception:
    return visits.Reception(
        store.uow,
        load_taxonomy(),
        Routing(0.5, CITY, CALENDAR),
        Recording("urban_rural_construction", 0.9),
        LocalFiles(tmp_path),
        VENUES,
    )


def _draft(register_id: str, *people: Visitor, **kw: object) -> visits.Draft:
    given: dict[str, object] = {
        "unit": "341800",
        "received_at": NOW,
        "matter": "小区拆迁补偿款一直没有发放，我们三户一起来反映",
        "outcome": Outcome.ACCEPTED,
        **kw,
    }
    return visits.Draft(register_id=register_id, visitors=people, **given)  # type: ignore[arg-type]


async def test_a_batch_opens_one_case_with_every_visitor_a_reporter(tmp_path: Path) -> None:
    store = MemoryStore()
    reception = _reception(store, tmp_path)
    done = await visits.register(_draft("r1", *PEOPLE), reception, actor="staff:clerk", now=NOW)
    assert done.created and done.opened and done.case_numbers == [done.opened]
    on_duty = ROTA.leader_on("341800", NOW.date())
    assert on_duty is not None and done.visit.leader == on_duty
    assert (done.visit.people, done.visit.repeat, done.visit.level_skipping) == (3, False, True)
    async with store.uow() as uow:
        case = await uow.cases.by_number(done.opened, with_history=True)
        assert case.channel == Channel.VISIT and case.reporters == 3
        assert case.reply_to == "+8613900000001" and case.department == "housing_construction"
        assert case.events[-1].data["visit"] == done.visit.id
        receipt = await uow.outbox.get(done.outbound_ids[0])
        assert receipt.channel == Channel.SMS and done.opened in receipt.text
    again = await visits.register(_draft("r1", *PEOPLE), reception, actor="x", now=NOW)
    assert not again.created and again.case_numbers == [done.opened]
    # The same ID number, another phone, a week later: a repeat visit joining the case.
    later = NOW + timedelta(days=7)
    second = await visits.register(
        _draft(
            "r2",
            Visitor("张三", "341800199003070017", "+8613900000009"),
            received_at=later,
            case_numbers=(done.opened,),
            outcome=Outcome.ANSWERED,
        ),
        reception,
        actor="staff:clerk",
        now=later,
    )
    assert second.visit.repeat and second.opened is None and second.case_numbers == [done.opened]
    found = await visits.look_up(phone=None, id_number="341800199003070017", uow=store.uow())
    assert found.case_numbers == [done.opened] and found.visits == 2


async def test_department_staff_see_no_id_number_or_phone(tmp_path: Path) -> None:
    store = MemoryStore()
    done = await visits.register(
        _draft("r1", *PEOPLE), _reception(store, tmp_path), actor="staff:clerk", now=NOW
    )
    assert done.visit.id is not None
    seen = await visits.visit_of(done.visit.id, user=DEPARTMENT, uow=store.uow())
    assert [p.id_number for p in seen.visitors] == [
        "34" + "*" * 14 + "17",
        "34" + "*" * 14 + "10",
        None,
    ]
    assert {p.phone for p in seen.visitors} == {"•••"}
    whole = await visits.visit_of(done.visit.id, user=CLERK, uow=store.uow())
    assert whole.visitors[0].id_number == "341800199003070017"


async def test_what_a_visit_may_not_be(tmp_path: Path) -> None:
    reception = _reception(MemoryStore(), tmp_path)
    bad = [
        (_draft("r", Visitor("甲", "341800199003070018", "+8613900000001")), "valid resident"),
        (_draft("r", Visitor("甲", "341800199003070017")), "needs a phone"),
        (_draft("r", *PEOPLE, unit="999"), "unknown unit"),
        (_draft("r", *PEOPLE, outcome=Outcome.NOT_ACCEPTED), "reason"),
    ]
    for draft, problem in bad:
        with pytest.raises(InvalidInput, match=problem):
            await visits.register(draft, reception, actor="x", now=NOW)
    refused = _draft("r", *PEOPLE, outcome=Outcome.REFERRED, reason="已进入诉讼程序，引导至法院")
    done = await visits.register(refused, reception, actor="x", now=NOW)
    assert done.opened is None and done.visit.case_ids == []


async def test_bookings_are_confirmed_reminded_and_cancelled() -> None:
    store = MemoryStore()
    today = date(2026, 11, 30)
    tuesday = today + timedelta(days=1)

    async def take(phone: str, unit: str = "341881001", day: date = date(2026, 12, 7)) -> str:
        booking = appointments.Booking(unit, day, "工资拖欠", Channel.SMS, phone)
        booked = await appointments.book(booking, uow=store.uow(), rota=ROTA, today=today, now=NOW)
        return booked.appointment.number

    for n in range(8):  # the township's capacity
        await take(f"+86139000000{n:02d}")
    with pytest.raises(Full):
        await take("+8613900000099")
    with pytest.raises(AlreadyBooked):
        await take("+8613900000001")
    with pytest.raises(InvalidInput, match="past"):
        await take("+8613900000099", day=today - timedelta(days=1))
    with pytest.raises(InvalidInput, match="unknown unit"):
        await take("+8613900000099", unit="000000")
    with pytest.raises(InvalidInput, match="receives no one"):
        await take("+8613900000099", day=tuesday)  # the township receives on Mondays
    number = await take("+8613900000050", unit="341800", day=tuesday)
    sent = await appointments.remind(uow_factory=store.uow, rota=ROTA, today=today, now=NOW)
    assert len(sent) == 1
    assert await appointments.remind(uow_factory=store.uow, rota=ROTA, today=today, now=NOW) == []
    with pytest.raises(NotFound):
        await appointments.cancel(number, address="+8613900000051", uow=store.uow(), now=NOW)
    done = await appointments.cancel(number, address="+8613900000050", uow=store.uow(), now=NOW)
    assert done.appointment.status == AppointmentStatus.CANCELLED
    with pytest.raises(NotAllowed):
        await appointments.book(
            appointments.Booking("341800", tuesday, "约访", Channel.SMS, "+8613900000060"),
            uow=store.uow(),
            rota=ROTA,
            today=today,
            now=NOW,
            called_in_by=DEPARTMENT,
        )


async def test_only_supervisors_name_another_leader_and_only_on_reception_days(
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    reception = _reception(store, tmp_path)
    monday = date(2026, 12, 7)
    await visits.name_leader("341800", monday, "戊", user=SUPERVISOR, reception=reception, now=NOW)
    assert (await reception.rota(monday, monday)).leader_on("341800", monday) == "戊"
    with pytest.raises(NotAllowed):
        await visits.name_leader("341800", monday, "戊", user=CLERK, reception=reception, now=NOW)
    with pytest.raises(InvalidInput, match="receives no one"):
        await visits.name_leader(
            "341800", date(2027, 1, 1), "戊", user=SUPERVISOR, reception=reception, now=NOW
        )


async def test_a_field_visit_joins_the_cases_the_leader_took_along(tmp_path: Path) -> None:
    store = MemoryStore()
    reception = _reception(store, tmp_path)
    first = await visits.register(_draft("r1", PEOPLE[0]), reception, actor="x", now=NOW)
    second = await visits.register(_draft("r2", PEOPLE[1]), reception, actor="x", now=NOW)
    assert first.opened and second.opened
    field = _draft(
        "f1",
        PEOPLE[0],
        PEOPLE[1],
        kind=VisitKind.FIELD,
        unit="341881001",
        leader="王建国",
        case_numbers=(first.opened, second.opened),
        outcome=Outcome.ANSWERED,
        received_at=NOW + timedelta(hours=2),
    )
    later = NOW + timedelta(hours=2)
    done = await visits.register(field, reception, actor="staff:clerk", now=later)
    taken_along = sorted([first.opened, second.opened])
    assert done.opened is None and sorted(done.case_numbers) == taken_along
    assert done.visit.repeat and not done.visit.level_skipping
    async with store.uow() as uow:
        for number in (first.opened, second.opened):
            case = await uow.cases.by_number(number, with_history=True)
            event = case.events[-1].data
            assert event["kind"] == "field" and event["leader"] == "王建国"
            assert [v.id for v in await uow.visits.for_case(case.id or 0)][-1] == done.visit.id
