"""The reception register, appointments and the rota over the staff API (``handlers.visits``,
``handlers.appointments``):

* ``POST /api/v1/visits`` (the centre): register a visit, once per ``register_id`` (201; 200
  with the visit registered before). ``GET /api/v1/visits?since=&until=&unit=``, ``GET
  /api/v1/visits/{visit_id}``: the register (ID numbers and phones masked for department
  staff). ``GET /api/v1/visits/lookup?phone=&id_number=`` (the centre): a person's open cases.
* ``POST /api/v1/visits/appointments`` (the centre): call a petitioner in (约访);
  ``GET /api/v1/visits/appointments?day=&unit=``; ``POST
  /api/v1/visits/appointments/{number}/cancel``.
* ``GET /api/v1/visits/rota?start=&days=``: who receives when and where;
  ``PUT /api/v1/visits/rota/{unit}/{day}`` ``{"leader": …}`` (supervisors, admins): another
  leader for one reception day (null: back to the rota file's turn).

An unknown unit, a past day or a day the venue receives no one is 422; a full day or a
double booking is 409.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from civicline.channels.sms import normalize_phone
from civicline.domain.errors import NotAllowed, NotFound
from civicline.domain.messages import Channel
from civicline.domain.rota import MAX_LEADER, MAX_RANGE_DAYS, Reception, Venue
from civicline.domain.visits import (
    MAX_BRIEF,
    MAX_MATTER,
    MAX_NAME,
    MAX_REASON,
    MAX_VISITORS,
    Appointment,
    AppointmentStatus,
    Outcome,
    Visit,
    VisitKind,
    Visitor,
    record_type,
)
from civicline.gateway.attachments import INLINE_TYPES, stored_file
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import Day, Index, Moment, RowId
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import appointments, visits
from civicline.handlers.visits import MAX_CASES, MAX_REGISTER_ID
from civicline.storage.queue import queue_deliveries

router = APIRouter(prefix="/visits", tags=["visits"])

CASE_NUMBER = r"^\d{6}-\d{5,}$"
ID_NUMBER = r"^\d{17}[\dXx]$"
UNIT = Field(min_length=1, max_length=32, description="a reception venue's code (rota.yml)")
DOWNLOADS = ("application/pdf", "application/octet-stream")
BOOKING_NUMBER = r"^[0-9A-Za-z]{4,16}$"


class VisitorIn(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    id_number: str | None = Field(default=None, pattern=ID_NUMBER)
    phone: str | None = Field(default=None, min_length=3, max_length=32)


class VisitIn(BaseModel):
    register_id: str = Field(min_length=1, max_length=MAX_REGISTER_ID)
    unit: str = UNIT
    kind: VisitKind = VisitKind.CENTRE
    received_at: Moment | None = Field(default=None, description="default: now")
    matter: str = Field(min_length=1, max_length=MAX_MATTER)
    outcome: Outcome
    visitors: list[VisitorIn] = Field(min_length=1, max_length=MAX_VISITORS)
    leader: str | None = Field(
        default=None, min_length=1, max_length=MAX_LEADER, description="default: on duty"
    )
    staff: list[Annotated[str, Field(max_length=MAX_NAME)]] = Field(
        default_factory=list, max_length=20
    )
    counsel: str | None = Field(default=None, max_length=MAX_NAME)
    reason: str | None = Field(default=None, max_length=MAX_REASON)
    case_numbers: list[Annotated[str, Field(pattern=CASE_NUMBER)]] = Field(
        default_factory=list, max_length=MAX_CASES
    )
    appointment: str | None = Field(default=None, pattern=BOOKING_NUMBER)
    category: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)


class VisitorOut(BaseModel):
    name: str
    id_number: str | None = Field(description="masked for department staff")
    phone: str | None = Field(description="hidden from department staff")


class VisitOut(BaseModel):
    id: int
    unit: str
    kind: VisitKind
    received_at: datetime
    matter: str
    outcome: Outcome
    reason: str | None
    visitors: list[VisitorOut]
    batch_people: int
    collective: bool
    repeat: bool
    level_skipping: bool
    leader: str | None
    staff: list[str]
    counsel: str | None
    case_numbers: list[str]
    appointment: str | None
    attachments: list[str]

    @classmethod
    def of(cls, visit: Visit, numbers: dict[int, str]) -> VisitOut:
        assert visit.id is not None
        return cls(
            id=visit.id,
            unit=visit.unit,
            kind=visit.kind,
            received_at=visit.received_at,
            matter=visit.matter,
            outcome=visit.outcome,
            reason=visit.reason,
            visitors=[VisitorOut.model_validate(p, from_attributes=True) for p in visit.visitors],
            batch_people=visit.people,
            collective=visit.collective,
            repeat=visit.repeat,
            level_skipping=visit.level_skipping,
            leader=visit.leader,
            staff=visit.staff,
            counsel=visit.counsel,
            case_numbers=[numbers[i] for i in visit.case_ids if i in numbers],
            appointment=visit.appointment,
            attachments=visit.attachments,
        )


async def _out(services: Services, found: list[Visit]) -> list[VisitOut]:
    async with services.uow() as uow:
        numbers = await uow.cases.numbers_by_id({i for v in found for i in v.case_ids})
    return [VisitOut.of(v, numbers) for v in found]


def _phone(raw: str | None, services: Services) -> str | None:
    return normalize_phone(raw, services.settings.sms_default_region) if raw else None


@router.post("", status_code=201, response_model=VisitOut, responses={200: {"model": VisitOut}})
async def register(
    body: VisitIn, user: UserDep, services: ServicesDep, response: Response
) -> VisitOut:
    """Register a visit: a new matter answered or accepted opens a case on channel ``visit``
    with every visitor among its reporters; a visit about cases joins them."""
    if not user.registers_visits:
        raise NotAllowed("only the reception centre registers visits")
    people = tuple(
        Visitor(p.name, p.id_number.upper() if p.id_number else None, _phone(p.phone, services))
        for p in body.visitors
    )
    draft = visits.Draft(
        **body.model_dump(exclude={"visitors", "received_at", "staff", "case_numbers"}),
        visitors=people,
        received_at=body.received_at or services.now(),
        staff=visits.staff_names(body.staff),
        case_numbers=tuple(body.case_numbers),
    )
    done = await visits.register(draft, services.reception, actor=user.actor, now=services.now())
    await queue_deliveries(services.queue, done.outbound_ids)
    if not done.created:
        response.status_code = 200
    return (await _out(services, [visits.for_user(done.visit, user)]))[0]


@router.get("", response_model=list[VisitOut])
async def register_between(
    user: UserDep,
    services: ServicesDep,
    since: Annotated[Day | None, Query(description="first day; default 30 days ago")] = None,
    until: Annotated[Day | None, Query(description="last day; default today")] = None,
    unit: Annotated[str | None, Query(max_length=32)] = None,
) -> list[VisitOut]:
    """The visits received from ``since`` to ``until`` (city dates), oldest first."""
    last = until or services.today()
    first = since or last - timedelta(days=30)
    city = services.settings.timezone
    found = await visits.visits_between(
        datetime.combine(first, time(0), tzinfo=city),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=city),
        unit=unit,
        user=user,
        uow=services.uow(),
    )
    return await _out(services, found)


class FoundOut(BaseModel):
    case_numbers: list[str] = Field(description="the person's open cases")
    visits: int = Field(description="visits of this person in the register")


@router.get("/lookup", response_model=FoundOut)
async def look_up(
    user: UserDep,
    services: ServicesDep,
    phone: Annotated[str | None, Query(min_length=3, max_length=32)] = None,
    id_number: Annotated[str | None, Query(pattern=ID_NUMBER)] = None,
) -> FoundOut:
    if not user.registers_visits:
        raise NotAllowed("only the reception centre looks people up")
    found = await visits.look_up(
        phone=_phone(phone, services),
        id_number=id_number.upper() if id_number else None,
        uow=services.uow(),
    )
    return FoundOut(case_numbers=found.case_numbers, visits=found.visits)


class AppointmentIn(BaseModel):
    unit: str = UNIT
    day: Day
    brief: str = Field(min_length=1, max_length=MAX_BRIEF)
    phone: str = Field(min_length=3, max_length=32, description="confirmed by SMS")
    name: str | None = Field(default=None, max_length=MAX_NAME)


class AppointmentOut(BaseModel):
    number: str
    unit: str
    day: date
    brief: str
    channel: str
    status: AppointmentStatus
    called_in_by: str | None
    reminded: bool

    @classmethod
    def of(cls, a: Appointment) -> AppointmentOut:
        return cls(
            number=a.number,
            unit=a.unit,
            day=a.day,
            brief=a.brief,
            channel=a.channel,
            status=a.status,
            called_in_by=a.called_in_by,
            reminded=a.reminded_at is not None,
        )


@router.post("/appointments", status_code=201, response_model=AppointmentOut)
async def call_in(body: AppointmentIn, user: UserDep, services: ServicesDep) -> AppointmentOut:
    """A leader calls a petitioner in (约访): an appointment made by staff, confirmed by SMS."""
    phone = _phone(body.phone, services)
    assert phone is not None
    booking = appointments.Booking(body.unit, body.day, body.brief, Channel.SMS, phone, body.name)
    today = services.today()
    booked = await appointments.book(
        booking,
        uow=services.uow(),
        rota=await services.reception.rota(today, body.day),
        today=today,
        now=services.now(),
        called_in_by=user,
    )
    await queue_deliveries(services.queue, booked.outbound_ids)
    return AppointmentOut.of(booked.appointment)


@router.get("/appointments", response_model=list[AppointmentOut])
async def appointments_on(
    user: UserDep,
    services: ServicesDep,
    day: Annotated[Day | None, Query(description="default today")] = None,
    unit: Annotated[str | None, Query(max_length=32)] = None,
) -> list[AppointmentOut]:
    async with services.uow() as uow:
        found = await uow.appointments.on_day(day or services.today(), unit=unit)
    return [AppointmentOut.of(a) for a in found]


@router.post("/appointments/{number}/cancel", response_model=AppointmentOut)
async def cancel(number: str, user: UserDep, services: ServicesDep) -> AppointmentOut:
    if not user.registers_visits:
        raise NotAllowed("only the reception centre cancels appointments for citizens")
    done = await appointments.cancel(
        number, address=None, uow=services.uow(), now=services.now(), by=user.actor
    )
    await queue_deliveries(services.queue, done.outbound_ids)
    return AppointmentOut.of(done.appointment)


class ReceptionOut(BaseModel):
    day: date
    unit: str
    venue: str
    address: str
    hours: str
    leader: str | None

    @classmethod
    def of(cls, reception: Reception, venue: Venue) -> ReceptionOut:
        return cls(
            day=reception.day,
            unit=reception.unit,
            venue=venue.zh,
            address=venue.address,
            hours=venue.hours,
            leader=reception.leader,
        )


@router.get("/rota", response_model=list[ReceptionOut])
async def rota(
    services: ServicesDep,
    user: UserDep,
    start: Annotated[Day | None, Query(description="default today")] = None,
    days: Annotated[int, Query(ge=1, le=MAX_RANGE_DAYS)] = 28,
    unit: Annotated[str | None, Query(max_length=32)] = None,
) -> list[ReceptionOut]:
    first = start or services.today()
    last = first + timedelta(days=days - 1)
    visits.check_reach(first, services.today())
    visits.check_reach(last, services.today())
    found = await services.reception.rota(first, last)
    return [ReceptionOut.of(r, found.venues[r.unit]) for r in found.receptions(first, last, unit)]


class LeaderIn(BaseModel):
    leader: str | None = Field(min_length=1, max_length=MAX_LEADER)


@router.put("/rota/{unit}/{day}", response_model=ReceptionOut)
async def name_leader(
    unit: Annotated[str, Field(max_length=32)],
    day: Day,
    body: LeaderIn,
    user: UserDep,
    services: ServicesDep,
) -> ReceptionOut:
    reception = services.reception
    await visits.name_leader(
        unit, day, body.leader, user=user, reception=reception, now=services.now()
    )
    [named] = (await reception.rota(day, day)).receptions(day, day, unit)
    return ReceptionOut.of(named, reception.venues[unit])


@router.get(
    "/{visit_id}/attachments/{index}",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {kind: {} for kind in (*sorted(INLINE_TYPES), *DOWNLOADS)},
            "description": "images inline, PDF, anything else (video, audio) as a download",
        }
    },
)
async def open_attachment(
    visit_id: RowId, index: Index, user: UserDep, services: ServicesDep
) -> StreamingResponse:
    """A reception's video or audio record or a document brought (the centre only)."""
    if not user.registers_visits:
        raise NotAllowed("only the reception centre opens the reception's records")
    found = await visits.visit_of(visit_id, user=user, uow=services.uow())
    if index >= len(found.attachments):
        raise NotFound("attachment", index)
    digest = found.attachments[index].removeprefix("file:")
    return await stored_file(digest, f"visit-{visit_id}-{index + 1}", services, record_type)


@router.get("/{visit_id}", response_model=VisitOut)
async def visit(visit_id: RowId, user: UserDep, services: ServicesDep) -> VisitOut:
    found = await visits.visit_of(visit_id, user=user, uow=services.uow())
    return (await _out(services, [found]))[0]
