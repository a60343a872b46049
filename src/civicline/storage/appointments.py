"""Appointments and the per-day slots that bound them, on SQL (see domain.visits)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.visits import AlreadyBooked, Appointment, AppointmentStatus, Full
from civicline.storage.rows import columns_of, from_row
from civicline.storage.tables import AppointmentRow, AppointmentSlotRow
from civicline.storage.upsert import insert


def _appointment(row: AppointmentRow) -> Appointment:
    return from_row(Appointment, row, status=AppointmentStatus(row.status))


class SqlAppointments:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def book(self, appointment: Appointment, *, capacity: int) -> Appointment:
        """Take one of the day's ``capacity`` places: Full when none is left, AlreadyBooked
        when the same address holds a booking there that day."""
        held = await self.session.scalar(
            select(AppointmentRow.id).where(
                AppointmentRow.unit == appointment.unit,
                AppointmentRow.day == appointment.day,
                AppointmentRow.channel == appointment.channel,
                AppointmentRow.address == appointment.address,
                AppointmentRow.status == AppointmentStatus.BOOKED,
            )
        )
        if held is not None:
            raise AlreadyBooked(f"already booked at {appointment.unit} on {appointment.day}")
        await self.session.execute(
            insert(self.session, AppointmentSlotRow)
            .values(unit=appointment.unit, day=appointment.day, booked=0)
            .on_conflict_do_nothing(index_elements=["unit", "day"])
        )
        taken = await self.session.execute(
            update(AppointmentSlotRow)
            .where(
                AppointmentSlotRow.unit == appointment.unit,
                AppointmentSlotRow.day == appointment.day,
                AppointmentSlotRow.booked < capacity,
            )
            .values(booked=AppointmentSlotRow.booked + 1)
        )
        if int(taken.rowcount or 0) != 1:  # type: ignore[attr-defined]
            raise Full(f"{appointment.unit} has no appointment left on {appointment.day}")
        row = AppointmentRow(**columns_of(appointment, AppointmentRow.__table__, skip=("id",)))
        self.session.add(row)
        await self.session.flush()
        appointment.id = row.id
        return appointment

    async def by_number(self, number: str, *, lock: bool = False) -> Appointment | None:
        stmt = select(AppointmentRow).where(AppointmentRow.number == number)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = await self.session.scalar(stmt)
        return _appointment(row) if row is not None else None

    async def save(self, appointment: Appointment) -> None:
        """Store a changed status, reminder or visit; a cancelled booking frees its place."""
        row = await self.session.scalar(
            select(AppointmentRow).where(AppointmentRow.id == appointment.id)
        )
        assert row is not None
        if (
            row.status == AppointmentStatus.BOOKED
            and appointment.status == AppointmentStatus.CANCELLED
        ):
            await self.session.execute(
                update(AppointmentSlotRow)
                .where(AppointmentSlotRow.unit == row.unit, AppointmentSlotRow.day == row.day)
                .values(booked=AppointmentSlotRow.booked - 1)
            )
        for name, value in columns_of(appointment, AppointmentRow.__table__, skip=("id",)).items():
            setattr(row, name, value)
        await self.session.flush()

    async def on_day(self, day: date, *, unit: str | None = None) -> list[Appointment]:
        stmt = select(AppointmentRow).where(AppointmentRow.day == day)
        if unit is not None:
            stmt = stmt.where(AppointmentRow.unit == unit)
        rows = await self.session.scalars(stmt.order_by(AppointmentRow.id))
        return [_appointment(r) for r in rows]

    async def booked(self, unit: str, day: date) -> int:
        found = await self.session.scalar(
            select(AppointmentSlotRow.booked).where(
                AppointmentSlotRow.unit == unit, AppointmentSlotRow.day == day
            )
        )
        return int(found or 0)

    async def to_remind(self, day: date, *, limit: int) -> list[Appointment]:
        """Bookings for ``day`` not reminded yet."""
        rows = await self.session.scalars(
            select(AppointmentRow)
            .where(
                AppointmentRow.day == day,
                AppointmentRow.status == AppointmentStatus.BOOKED,
                AppointmentRow.reminded_at.is_(None),
            )
            .order_by(AppointmentRow.id)
            .limit(limit)
        )
        return [_appointment(r) for r in rows]

    async def claim_reminder(self, appointment_id: int, *, at: datetime) -> bool:
        """Mark one booking reminded; False when another worker did, or it was cancelled."""
        done = await self.session.execute(
            update(AppointmentRow)
            .where(
                AppointmentRow.id == appointment_id,
                AppointmentRow.reminded_at.is_(None),
                AppointmentRow.status == AppointmentStatus.BOOKED,
            )
            .values(reminded_at=at)
        )
        return int(done.rowcount or 0) == 1  # type: ignore[attr-defined]
