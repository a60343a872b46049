"""Visits (访): the reception centre's register, leaders' field visits and appointments.

A visit is one batch (批) of visitors received together, each counted once (人次); five or
more make a collective visit (集体访). A visit is a repeat visit (重复访) when one of its
visitors (known by ID number or phone) was received before, and level-skipping (越级访) when
it comes to a venue above the lowest level while none of its visitors was ever received at a
lower one. Both are computed from the register's history when the visit is registered.

Who received them: the leader on duty (from the rota), the department staff present, a
lawyer or deputy (人大代表) answering legal questions. The reception ends one of four ways:
answered on the spot, accepted as a case, referred to a legal channel (诉访分离: courts,
arbitration, administrative review), or not accepted, with the reason. A leader's field visit
(下访, 带案下访) is a visit made outside the centre, attached to the cases taken along.

Appointments (预约接访): a citizen books a reception day at a venue (web, SMS, Telegram) and
gets a booking number; a day's appointments at a venue are limited by its capacity. Staff
calling a petitioner in (约访) make an appointment too.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from civicline.domain.errors import DomainError, InvalidInput
from civicline.domain.letters import file_type
from civicline.domain.rota import Level, Rota

COLLECTIVE_AT = 5  # people in one batch that make a collective visit (集体访)
MAX_VISITORS = 500
MAX_MATTER = 5_000
MAX_NAME = 100
MAX_REASON = 500
MAX_BRIEF = 200
BOOK_AHEAD_DAYS = 60


def record_type(data: bytes) -> str | None:
    """What a reception's file is, by its bytes: a letter's types (images, PDF) or the
    reception's video or audio record (MP4, M4A, MP3, WAV, WebM); None for anything else."""
    if data[4:8] == b"ftyp":
        return "audio/mp4" if data[8:11] == b"M4A" else "video/mp4"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return file_type(data)


RECORD_TYPES_TEXT = "images, PDF, MP4, M4A, MP3, WAV or WebM"


class Outcome(enum.StrEnum):
    ANSWERED = "answered"  # answered on the spot (当场答复)
    ACCEPTED = "accepted"  # accepted as a case (受理)
    REFERRED = "referred"  # referred to a legal channel (诉访分离)
    NOT_ACCEPTED = "not_accepted"  # not accepted, with the reason (不予受理)


NEEDS_REASON = frozenset({Outcome.REFERRED, Outcome.NOT_ACCEPTED})


class VisitKind(enum.StrEnum):
    CENTRE = "centre"  # received at a reception venue (来访接待)
    FIELD = "field"  # a leader's field visit (下访, 带案下访)


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"


class Full(DomainError):
    """The reception day has no appointment left (409)."""


class AlreadyBooked(DomainError):
    """The same person holds an appointment at that venue on that day (409)."""


@dataclass(slots=True)
class Visitor:
    """A person in a batch. The ID number is kept here only (one row per person)."""

    name: str
    id_number: str | None = None
    phone: str | None = None  # E.164
    citizen_id: int | None = None
    id: int | None = None


@dataclass(slots=True)
class Visit:
    unit: str  # the venue's code (the rota's), or where a field visit went
    kind: VisitKind
    received_at: datetime
    matter: str
    outcome: Outcome
    visitors: list[Visitor]
    leader: str | None = None
    staff: list[str] = field(default_factory=list)  # department staff present
    counsel: str | None = None  # a lawyer or deputy present
    reason: str | None = None  # why not accepted, or where referred
    repeat: bool = False
    level_skipping: bool = False
    case_ids: list[int] = field(default_factory=list)
    appointment: str | None = None  # the booking number it came with
    attachments: list[str] = field(default_factory=list)  # "file:<sha256>"
    registered_by: str | None = None
    id: int | None = None

    @property
    def people(self) -> int:
        return len(self.visitors)

    @property
    def collective(self) -> bool:
        return self.people >= COLLECTIVE_AT

    def check(self) -> None:
        if not 1 <= len(self.visitors) <= MAX_VISITORS:
            raise InvalidInput(f"a visit has 1-{MAX_VISITORS} visitors")
        for visitor in self.visitors:
            if not visitor.name.strip() or len(visitor.name) > MAX_NAME:
                raise InvalidInput(f"a visitor's name must be 1-{MAX_NAME} characters")
            if not (visitor.id_number or visitor.phone):
                raise InvalidInput("each visitor needs an ID number or a phone")
        if not self.matter.strip() or len(self.matter) > MAX_MATTER:
            raise InvalidInput(f"the matter must be 1-{MAX_MATTER} characters")
        if self.outcome in NEEDS_REASON and not (self.reason or "").strip():
            raise InvalidInput(f"a visit {self.outcome} needs the reason")
        if self.reason is not None and len(self.reason) > MAX_REASON:
            raise InvalidInput(f"the reason must be at most {MAX_REASON} characters")
        if self.kind == VisitKind.FIELD and not self.leader:
            raise InvalidInput("a field visit names the leader who made it")


@dataclass(frozen=True, slots=True)
class Earlier:
    """A visit in the register's history: where it was received."""

    unit: str
    received_at: datetime


def history_flags(visit: Visit, earlier: Iterable[Earlier], rota: Rota) -> tuple[bool, bool]:
    """(repeat, level-skipping) of ``visit`` given its visitors' earlier visits."""
    before = [e for e in earlier if e.received_at < visit.received_at]
    repeat = bool(before)
    venue = rota.venues.get(visit.unit)
    if venue is None or visit.kind == VisitKind.FIELD or venue.level == max(Level):
        return repeat, False
    levels = [rota.venues[e.unit].level for e in before if e.unit in rota.venues]
    return repeat, not any(level > venue.level for level in levels)


@dataclass(slots=True)
class Appointment:
    number: str  # the booking number the citizen is given
    unit: str
    day: date
    brief: str  # the matter in brief
    channel: str  # where the confirmation and reminder go: sms, telegram, web (by SMS)
    address: str  # the phone or chat id on that channel
    booked_at: datetime
    name: str | None = None
    status: AppointmentStatus = AppointmentStatus.BOOKED
    called_in_by: str | None = None  # staff who called the petitioner in (约访)
    citizen_id: int | None = None
    reminded_at: datetime | None = None
    visit_id: int | None = None
    id: int | None = None


def check_booking(unit: str, day: date, brief: str, *, today: date, rota: Rota) -> None:
    """Refuse a day in the past, too far ahead, an unknown venue, a day it receives no one."""
    venue = rota.venue(unit)
    if day < today:
        raise InvalidInput(f"{day} is in the past")
    if (day - today).days > BOOK_AHEAD_DAYS:
        raise InvalidInput(f"appointments are taken up to {BOOK_AHEAD_DAYS} days ahead")
    if not venue.receives_on(day, rota.calendar):
        raise InvalidInput(f"{venue.code} receives no one on {day}: see the rota")
    if not brief.strip() or len(brief) > MAX_BRIEF:
        raise InvalidInput(f"the matter in brief must be 1-{MAX_BRIEF} characters")


@dataclass(frozen=True, slots=True)
class MonthReport:
    """The month's receptions, as the city reports them ("in 2014 leaders received the public
    156 times: 288 batches, 950 people")."""

    month: str  # 2026-11
    receptions: int  # reception days on which a leader received visitors
    batches: int
    people: int
    collective: int
    repeat: int
    # Of the batches that came for the first time (not repeat visits), the share answered on
    # the spot: resolved at the first reception (首次接待化解).
    first_time_resolved: float | None


@dataclass(frozen=True, slots=True)
class ReceptionGroup:
    """Receptions of one leader at one venue."""

    leader: str | None
    unit: str
    receptions: int
    batches: int
    people: int
    collective: int
    repeat: int


def _receptions(visits: Iterable[Visit]) -> int:
    """Reception days: a leader receiving at a venue on a day, however many batches came."""
    return len({(v.leader, v.unit, v.received_at.date()) for v in visits if v.leader})


def month_report(month: str, visits: Sequence[Visit]) -> MonthReport:
    first = [v for v in visits if not v.repeat]
    resolved = sum(1 for v in first if v.outcome == Outcome.ANSWERED)
    return MonthReport(
        month=month,
        receptions=_receptions(visits),
        batches=len(visits),
        people=sum(v.people for v in visits),
        collective=sum(1 for v in visits if v.collective),
        repeat=sum(1 for v in visits if v.repeat),
        first_time_resolved=round(resolved / len(first), 4) if first else None,
    )


def by_leader_and_unit(visits: Iterable[Visit]) -> list[ReceptionGroup]:
    groups: dict[tuple[str | None, str], list[Visit]] = {}
    for visit in visits:
        groups.setdefault((visit.leader, visit.unit), []).append(visit)
    return [
        ReceptionGroup(
            leader=leader,
            unit=unit,
            receptions=_receptions(found),
            batches=len(found),
            people=sum(v.people for v in found),
            collective=sum(1 for v in found if v.collective),
            repeat=sum(1 for v in found if v.repeat),
        )
        for (leader, unit), found in sorted(
            groups.items(), key=lambda item: (item[0][0] or "", item[0][1])
        )
    ]
