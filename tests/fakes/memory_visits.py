"""The reception register, appointments and rota overrides in memory (``MemoryUnitOfWork``);
the storage contract test runs them beside the SQL adapters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from civicline.domain.errors import NotFound
from civicline.domain.visits import (
    AlreadyBooked,
    Appointment,
    AppointmentStatus,
    Earlier,
    Full,
    Visit,
    Visitor,
)

if TYPE_CHECKING:
    from tests.fakes.memory import _Transaction


class MemoryVisits:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def person(self, visitor: Visitor, *, at: datetime) -> Visitor:
        people: list[Visitor] = self.tx.rows("visitors")
        found = next(
            (
                p
                for p in people
                if (p.id_number == visitor.id_number if visitor.id_number else
                    p.id_number is None and p.phone == visitor.phone)
            ),
            None,
        )  # fmt: skip
        if found is None:
            found = replace(visitor, id=self.tx.store.next("id"))
        else:
            found.phone = visitor.phone or found.phone
            found.citizen_id = found.citizen_id or visitor.citizen_id
        self.tx.put("visitors", found.id, found)
        return found

    async def add(self, visit: Visit, register_id: str) -> Visit:
        visit.id = self.tx.store.next("id")
        self.tx.put("visits", visit.id, (register_id, replace(visit, visitors=[])))
        self.tx.put("visit_people", visit.id, [v.id for v in visit.visitors])
        return visit

    async def who(self, id_number: str) -> Visitor | None:
        people: list[Visitor] = self.tx.rows("visitors")
        return next((p for p in people if p.id_number == id_number), None)

    async def by_register_id(self, register_id: str) -> Visit | None:
        found = [v for key, v in self.tx.rows("visits") if key == register_id]
        return self._load(found[0]) if found else None

    async def get(self, visit_id: int) -> Visit:
        found = self.tx.get("visits", visit_id)
        if found is None:
            raise NotFound("visit", visit_id)
        return self._load(found[1])

    async def earlier(self, people: Sequence[Visitor]) -> list[Earlier]:
        ids = {p.id_number for p in people if p.id_number}
        phones = {p.phone for p in people if p.phone}
        return [
            Earlier(v.unit, v.received_at)
            for v in map(self._load, (v for _, v in self.tx.rows("visits")))
            if any(p.id_number in ids or p.phone in phones for p in v.visitors)
        ]

    async def between(
        self, start: datetime, end: datetime, *, unit: str | None = None, limit: int = 10_000
    ) -> list[Visit]:
        found = [
            self._load(v)
            for _, v in self.tx.rows("visits")
            if start <= v.received_at < end and unit in (None, v.unit)
        ]
        return sorted(found, key=lambda v: (v.received_at, v.id or 0))[:limit]

    async def for_case(self, case_id: int) -> list[Visit]:
        return [self._load(v) for _, v in self.tx.rows("visits") if case_id in v.case_ids]

    async def attach_cases(self, visit_id: int, case_ids: Sequence[int]) -> None:
        register_id, visit = self.tx.get("visits", visit_id)
        visit.case_ids = sorted({*visit.case_ids, *case_ids})
        self.tx.put("visits", visit_id, (register_id, visit))

    def _load(self, visit: Visit) -> Visit:
        assert visit.id is not None
        people = [self.tx.get("visitors", i) for i in self.tx.get("visit_people", visit.id)]
        return replace(visit, visitors=people, case_ids=sorted(visit.case_ids))


class MemoryAppointments:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def book(self, appointment: Appointment, *, capacity: int) -> Appointment:
        same_day = [
            a
            for a in await self.on_day(appointment.day, unit=appointment.unit)
            if a.status == AppointmentStatus.BOOKED
        ]
        if any(
            (a.channel, a.address) == (appointment.channel, appointment.address) for a in same_day
        ):
            raise AlreadyBooked(f"already booked at {appointment.unit} on {appointment.day}")
        if len(same_day) >= capacity:
            raise Full(f"{appointment.unit} has no appointment left on {appointment.day}")
        appointment.id = self.tx.store.next("id")
        self.tx.put("appointments", appointment.id, appointment)
        return appointment

    async def by_number(self, number: str, *, lock: bool = False) -> Appointment | None:
        rows: list[Appointment] = self.tx.rows("appointments")
        return next((a for a in rows if a.number == number), None)

    async def save(self, appointment: Appointment) -> None:
        self.tx.put("appointments", appointment.id, appointment)

    async def on_day(self, day: date, *, unit: str | None = None) -> list[Appointment]:
        rows: list[Appointment] = self.tx.rows("appointments")
        return [a for a in rows if a.day == day and unit in (None, a.unit)]

    async def booked(self, unit: str, day: date) -> int:
        found = await self.on_day(day, unit=unit)
        return sum(1 for a in found if a.status != AppointmentStatus.CANCELLED)

    async def to_remind(self, day: date, *, limit: int) -> list[Appointment]:
        found = await self.on_day(day)
        waiting = [a for a in found if a.status == AppointmentStatus.BOOKED and not a.reminded_at]
        return waiting[:limit]

    async def claim_reminder(self, appointment_id: int, *, at: datetime) -> bool:
        found: Appointment | None = self.tx.get("appointments", appointment_id)
        if found is None or found.reminded_at or found.status != AppointmentStatus.BOOKED:
            return False
        found.reminded_at = at
        await self.save(found)
        return True


class MemoryRota:
    def __init__(self, tx: _Transaction) -> None:
        self.tx = tx

    async def overrides(self, start: date, end: date) -> dict[tuple[str, date], str]:
        merged = {**self.tx.store.tables.get("rota", {}), **self.tx.writes.get("rota", {})}
        return {
            key: leader
            for key, leader in merged.items()
            if isinstance(leader, str) and start <= key[1] <= end
        }

    async def name_leader(
        self, unit: str, day: date, leader: str | None, *, by: str, at: datetime
    ) -> None:
        if leader is None:
            self.tx.delete("rota", (unit, day))
        else:
            self.tx.put("rota", (unit, day), leader)
