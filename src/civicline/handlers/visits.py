"""Visits (访) become cases: the reception centre's register and leaders' field visits.

A clerk registers a batch of visitors with the matter, who received them and how the
reception ended. Everything is written in one transaction under the form's registration id
(a form sent twice is one visit): the persons (each ID number stored once, in ``visitors``),
the visit with its repeat and level-skipping flags computed from the register's history,
and the case. A new matter answered on the spot or accepted opens a case on channel
``visit`` for the first visitor (answers go by SMS to their phone) with every visitor counted
among its reporters; a matter referred to a legal channel (诉访分离) or not accepted opens
none (the visit keeps the reason). A visit about existing cases (the one it concerns, or the
cases a leader took along on a field visit, 带案下访) joins each with an event in its history.

Nothing here logs a name, a phone or an ID number: visits are logged by id and case number.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import OPEN, Case, CaseEvent, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import AlreadyStored, InvalidInput, NotAllowed, NotFound
from civicline.domain.letters import LetterFile
from civicline.domain.messages import Channel, InboundMessage, Language, guess_language
from civicline.domain.rota import Rota, Venue, check_leader
from civicline.domain.taxonomy import Taxonomy
from civicline.domain.text import flaw
from civicline.domain.visits import (
    AppointmentStatus,
    MonthReport,
    Outcome,
    ReceptionGroup,
    Visit,
    VisitKind,
    Visitor,
    by_leader_and_unit,
    history_flags,
    month_report,
)
from civicline.handlers.access import HIDDEN
from civicline.handlers.cases import (
    Confirmed,
    Reading,
    Routing,
    open_case,
    read_complaint,
    to_citizen,
)
from civicline.handlers.letters import store_uploads
from civicline.nlu.base import Classifier
from civicline.nlu.masking import is_valid_resident_id, mask
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory
from civicline.storage.files import FileStore

log = logging.getLogger(__name__)

OPENS_A_CASE = frozenset({Outcome.ANSWERED, Outcome.ACCEPTED})
MAX_REGISTER_ID = 64
MAX_CASES = 50
FUTURE_SLACK = timedelta(minutes=10)  # a clerk's clock a little ahead of the server's
ROTA_REACH_DAYS = 366  # how far from today the rota is read or edited


@dataclass(frozen=True, slots=True)
class Reception:
    """What registering visits needs."""

    uow_factory: UnitOfWorkFactory
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier
    files: FileStore
    venues: Mapping[str, Venue]

    async def rota(self, start: date, end: date) -> Rota:
        """The rota file's turns with the overrides named in the console."""
        async with self.uow_factory() as uow:
            overrides = await uow.rota.overrides(start, end)
        return Rota(self.venues, self.routing.calendar, overrides)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.routing.city_timezone).date()


@dataclass(frozen=True, slots=True)
class Draft:
    """A visit as the clerk's form or the API hands it over. Phones are E.164 already."""

    register_id: str
    unit: str
    received_at: datetime
    matter: str
    outcome: Outcome
    visitors: tuple[Visitor, ...]
    kind: VisitKind = VisitKind.CENTRE
    leader: str | None = None  # None: the leader on duty by the rota
    staff: tuple[str, ...] = ()
    counsel: str | None = None
    reason: str | None = None
    case_numbers: tuple[str, ...] = ()  # the cases it concerns or (field visit) took along
    appointment: str | None = None
    category: str | None = None  # the clerk's correction of the NLU
    department: str | None = None
    uploads: tuple[LetterFile, ...] = ()

    def check(self, reception: Reception) -> None:
        texts = [self.register_id, self.unit, self.matter, self.leader, self.counsel, self.reason]
        texts += [*self.staff, *(v.name for v in self.visitors), *self.case_numbers]
        for text in texts:
            if text and (problem := flaw(text)):
                raise InvalidInput(f"a field {problem}")
        if not self.register_id.strip() or len(self.register_id) > MAX_REGISTER_ID:
            raise InvalidInput(f"register_id must be 1-{MAX_REGISTER_ID} characters")
        if self.unit not in reception.venues:
            raise InvalidInput(f"unknown unit {self.unit}: not a reception venue of the rota")
        for visitor in self.visitors:
            if visitor.id_number is not None and not is_valid_resident_id(visitor.id_number):
                raise InvalidInput("an ID number is not a valid resident ID number")
        if not self.visitors or not self.visitors[0].phone:
            raise InvalidInput("the first visitor needs a phone: answers go there by SMS")
        if len(self.case_numbers) > MAX_CASES:
            raise InvalidInput(f"a visit concerns at most {MAX_CASES} cases")
        if self.leader is not None:
            check_leader(self.leader)
        if self.category is not None and self.category not in reception.taxonomy.categories:
            raise InvalidInput(f"unknown category {self.category}")
        if self.department is not None and self.department not in reception.taxonomy.departments:
            raise InvalidInput(f"unknown department {self.department}")


@dataclass(frozen=True, slots=True)
class Registered:
    visit: Visit
    created: bool  # False: this registration id was registered before
    opened: str | None = None  # the number of the case it opened
    case_numbers: list[str] = field(default_factory=list)  # every case it touched
    outbound_ids: list[int] = field(default_factory=list)  # the SMS receipt, to deliver


async def register(draft: Draft, reception: Reception, *, actor: str, now: datetime) -> Registered:
    """Register a visit (once per registration id): the persons, the visit, its cases."""
    draft.check(reception)
    if draft.received_at > now + FUTURE_SLACK:
        raise InvalidInput("a visit cannot be received in the future")
    async with reception.uow_factory() as uow:
        before = await uow.visits.by_register_id(draft.register_id)
    if before is not None:
        return await _registered_before(before, reception)
    day = reception.local_day(draft.received_at)
    leader = draft.leader or (await reception.rota(day, day)).leader_on(draft.unit, day)
    visit = Visit(
        unit=draft.unit,
        kind=draft.kind,
        received_at=draft.received_at,
        matter=draft.matter.strip(),
        outcome=draft.outcome,
        visitors=list(draft.visitors),
        leader=leader,
        staff=list(draft.staff),
        counsel=draft.counsel,
        reason=draft.reason,
        appointment=draft.appointment,
        registered_by=actor,
    )
    visit.check()
    visit.attachments, _ = await store_uploads(draft.uploads, reception.files)
    opens = not draft.case_numbers and draft.outcome in OPENS_A_CASE
    reading = await read_complaint(visit.matter, nlu=reception.nlu) if opens else None
    rota = Rota(reception.venues, reception.routing.calendar)
    for attempt in range(2):
        try:
            return await _write(
                replace(visit, visitors=list(visit.visitors), case_ids=[]),
                draft,
                reception,
                reading=reading,
                rota=rota,
                actor=actor,
                now=now,
            )
        except AlreadyStored:
            # The same registration, or a new visitor of it, written by another request at
            # the same moment: that registration stands, or (a shared visitor) try once more.
            async with reception.uow_factory() as uow:
                before = await uow.visits.by_register_id(draft.register_id)
            if before is not None:
                return await _registered_before(before, reception)
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _write(
    visit: Visit,
    draft: Draft,
    reception: Reception,
    *,
    reading: Reading | None,
    rota: Rota,
    actor: str,
    now: datetime,
) -> Registered:
    """One transaction: the persons, the visit, the case it opens or joins."""
    async with reception.uow_factory() as uow:
        joined = [await uow.cases.by_number(n, lock=True) for n in draft.case_numbers]
        visit.visitors = [await _person(v, uow, now=now) for v in visit.visitors]
        visit.repeat, visit.level_skipping = history_flags(
            visit, await uow.visits.earlier(visit.visitors), rota
        )
        opened, outbound_ids = None, []
        if reading is not None:
            opened = await _open(visit, draft, reception, uow=uow, reading=reading, now=now)
            receipt = await uow.outbox.add(
                to_citizen(opened, receipt_text(opened.number, opened.language), now=now)
            )
            assert receipt.id is not None
            outbound_ids.append(receipt.id)
        visit.case_ids = [c.id for c in (*joined, *([opened] if opened else [])) if c.id]
        await uow.visits.add(visit, draft.register_id)
        for case in joined:
            _join(case, visit, actor=actor, now=now, routing=reception.routing)
            await uow.cases.save(case)
        if opened is not None:
            opened.record(_visit_event(visit, actor=actor, now=now))
            await uow.cases.save(opened)
        if draft.appointment:
            await _attended(draft.appointment, visit, uow)
        await uow.commit()
    numbers = [c.number for c in joined] + ([opened.number] if opened else [])
    log.info(
        "visit registered",
        extra={"visit_id": visit.id, "cases": ",".join(numbers), "people": visit.people},
    )
    return Registered(visit, True, opened.number if opened else None, numbers, outbound_ids)


async def _person(visitor: Visitor, uow: UnitOfWork, *, now: datetime) -> Visitor:
    """The stored person, with the citizen their phone is (their SMS identity)."""
    if visitor.phone:
        citizen = await uow.citizens.get_or_create(
            ContactHandle(Channel.SMS, visitor.phone), at=now, language=Language.ZH
        )
        visitor = replace(visitor, citizen_id=citizen.id)
    return await uow.visits.person(visitor, at=now)


async def _open(
    visit: Visit,
    draft: Draft,
    reception: Reception,
    *,
    uow: UnitOfWork,
    reading: Reading,
    now: datetime,
) -> Case:
    contact = visit.visitors[0]
    assert contact.phone is not None and contact.citizen_id is not None
    # The visit is not stored in the inbox (its facts hold ID numbers, kept in ``visitors``
    # only): the case is opened from the matter as the clerk wrote it.
    message = InboundMessage(
        channel=Channel.VISIT,
        provider_message_id=draft.register_id,
        sender_address=contact.phone,
        text=visit.matter,
        received_at=visit.received_at,
        language=guess_language(visit.matter),
        citizen_id=contact.citizen_id,
    )
    confirmed = Confirmed(category=draft.category, department=draft.department, by="clerk")
    case = await open_case(
        message, reading, uow=uow, filing=reception, now=now, confirmed=confirmed
    )
    case.reply_channel = Channel.SMS
    case.reporters = visit.people
    case.collective = case.collective or visit.collective
    return case


def _visit_event(visit: Visit, *, actor: str, now: datetime) -> CaseEvent:
    return CaseEvent(
        EventKind.MESSAGE,
        at=now,
        actor=actor,
        data={
            "visit": visit.id,
            "kind": str(visit.kind),
            "unit": visit.unit,
            "people": visit.people,
            "outcome": str(visit.outcome),
            "leader": visit.leader,
        },
    )


def _join(case: Case, visit: Visit, *, actor: str, now: datetime, routing: Routing) -> None:
    case.record(_visit_event(visit, actor=actor, now=now))
    if case.paused_since is not None:
        case.resume(actor=actor, at=now, calendar=routing.calendar)


async def _attended(number: str, visit: Visit, uow: UnitOfWork) -> None:
    appointment = await uow.appointments.by_number(number, lock=True)
    if appointment is None:
        raise NotFound("appointment", number)
    appointment.status = AppointmentStatus.ATTENDED
    appointment.visit_id = visit.id
    await uow.appointments.save(appointment)


async def _registered_before(visit: Visit, reception: Reception) -> Registered:
    async with reception.uow_factory() as uow:
        numbers = [(await uow.cases.get(i)).number for i in visit.case_ids]
    return Registered(visit, False, None, numbers)


def receipt_text(number: str, language: Language) -> str:
    if language == Language.ZH:
        return f"您的来访事项已登记，编号 {number}。查询进度请回复“查询 {number}”。"
    return f"Your visit is registered as case {number}. To check on it, reply “status {number}”."


@dataclass(frozen=True, slots=True)
class Found:
    """What the register knows of a person the clerk looks up (phone or ID number)."""

    case_numbers: list[str]
    visits: int


async def look_up(*, phone: str | None, id_number: str | None, uow: UnitOfWork) -> Found:
    """The cases of the citizen with this phone and those visits by this person touched."""
    if not (phone or id_number):
        raise InvalidInput("give a phone or an ID number")
    probe = [Visitor("?", id_number=id_number, phone=phone)]
    async with uow:
        citizens = set()
        if phone:
            citizen = await uow.citizens.by_handle(ContactHandle(Channel.SMS, phone))
            citizens.add(citizen.id if citizen else None)
        if id_number:
            person = await uow.visits.who(id_number)
            citizens.add(person.citizen_id if person else None)
        numbers = [
            case.number
            for citizen_id in citizens
            if citizen_id is not None
            for case in await uow.cases.for_citizen(citizen_id, statuses=OPEN, limit=20)
        ]
        earlier = await uow.visits.earlier(probe)
    return Found(sorted(set(numbers)), len(earlier))


def masked_id(id_number: str | None, user: StaffUser) -> str | None:
    """An ID number as ``user`` may see it: whole in the centre, else its first two and last
    two characters (enough to tell two people apart in a list, not to use the number)."""
    if id_number is None or user.sees_contact_details:
        return id_number
    return id_number[:2] + "*" * (len(id_number) - 4) + id_number[-2:]


def for_user(visit: Visit, user: StaffUser) -> Visit:
    """The visit as ``user`` may read it: department staff see no phone or ID number."""
    if user.sees_contact_details:
        return visit
    people = [
        Visitor(v.name, masked_id(v.id_number, user), HIDDEN if v.phone else None, id=v.id)
        for v in visit.visitors
    ]
    return replace(visit, visitors=people, matter=mask(visit.matter))


async def visits_between(
    start: datetime, end: datetime, *, unit: str | None, user: StaffUser, uow: UnitOfWork
) -> list[Visit]:
    async with uow:
        found = await uow.visits.between(start, end, unit=unit)
    return [for_user(v, user) for v in found]


async def visit_of(visit_id: int, *, user: StaffUser, uow: UnitOfWork) -> Visit:
    async with uow:
        return for_user(await uow.visits.get(visit_id), user)


async def name_leader(
    unit: str,
    day: date,
    leader: str | None,
    *,
    user: StaffUser,
    reception: Reception,
    now: datetime,
) -> None:
    """Name another leader for one reception day (None: back to the rota file's turn)."""
    if not user.edits_rota:
        raise NotAllowed(f"{user.username} may not edit the rota")
    check_reach(day, reception.local_day(now))
    rota = Rota(reception.venues, reception.routing.calendar)
    if not rota.receives_on(unit, day):
        raise InvalidInput(f"{unit} receives no one on {day}: not a working reception day")
    name = check_leader(leader) if leader is not None else None
    async with reception.uow_factory() as uow:
        await uow.rota.name_leader(unit, day, name, by=user.actor, at=now)
        await uow.commit()


def check_reach(day: date, today: date) -> None:
    """The rota is read and edited within a year of today (its turns are counted day by day
    from the rota file's start)."""
    if abs((day - today).days) > ROTA_REACH_DAYS:
        raise InvalidInput(f"the rota is kept within {ROTA_REACH_DAYS} days of today")


def staff_names(raw: Sequence[str]) -> tuple[str, ...]:
    return tuple(s.strip() for s in raw if s.strip())


@dataclass(frozen=True, slots=True)
class MonthStats:
    report: MonthReport
    groups: list[ReceptionGroup]

    def sentence(self, language: str) -> str:
        r = self.report
        if language == "zh":
            return (
                f"{r.month} 领导接待群众 {r.receptions} 次，{r.batches} 批 {r.people} 人次"
                f"（集体访 {r.collective} 批，重复访 {r.repeat} 批）。"
            )
        return (
            f"In {r.month} leaders received the public {r.receptions} times: {r.batches} "
            f"batches, {r.people} people ({r.collective} collective, {r.repeat} repeat)."
        )


async def month_stats(month: str, *, user: StaffUser, uow: UnitOfWork, city: tzinfo) -> MonthStats:
    """The month's receptions (``2026-11``, city dates): the centre and supervisors."""
    if not (user.in_the_centre or user.oversees):
        raise NotAllowed(f"{user.username} may not read the reception statistics")
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidInput("a month is written 2026-11") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    start = datetime.combine(first, time(0), tzinfo=city)
    end = datetime.combine(following, time(0), tzinfo=city)
    async with uow:
        found = await uow.visits.between(start, end)
    return MonthStats(month_report(month, found), by_leader_and_unit(found))
