"""Appointments (预约接访): a citizen books a reception day from the web, by SMS or on
Telegram, gets a booking number, a reminder the day before, and may cancel; staff calling a
petitioner in (约访) make one too.

Each booking is checked against the rota (an unknown venue, a past day, a day it receives no
one: 422) and the day's places (full, or the same phone or chat already booked there that
day: 409), and its confirmation goes into the outbox in the same transaction, on the channel
it came by (web bookings by SMS to the phone given). The reminder is a worker's periodic
job: the bookings of the next day not yet reminded, each claimed once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput, NotAllowed, NotFound
from civicline.domain.letters import new_query_code
from civicline.domain.messages import Channel, Language, OutboundMessage, guess_language
from civicline.domain.rota import Rota
from civicline.domain.visits import Appointment, AppointmentStatus, check_booking
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

BOOKING_CHANNELS = frozenset({Channel.SMS, Channel.TELEGRAM})  # the web books by SMS
REMIND_BATCH = 200


@dataclass(frozen=True, slots=True)
class Booking:
    unit: str
    day: date
    brief: str
    channel: Channel  # sms or telegram: where the confirmation and reminder go
    address: str  # the E.164 phone, or the Telegram chat id
    name: str | None = None
    language: Language | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    appointment: Appointment
    outbound_ids: list[int]


async def book(
    booking: Booking,
    *,
    uow: UnitOfWork,
    rota: Rota,
    today: date,
    now: datetime,
    called_in_by: StaffUser | None = None,
) -> Booked:
    """Take a place and queue the confirmation (``called_in_by``: staff's 约访)."""
    if called_in_by is not None and not called_in_by.registers_visits:
        raise NotAllowed(f"{called_in_by.username} may not call petitioners in")
    async with uow:
        appointment = await take(
            booking, uow=uow, rota=rota, today=today, now=now, called_in_by=called_in_by
        )
        language = booking.language or guess_language(booking.brief)
        text = confirmation_text(appointment, rota, language)
        sent = await uow.outbox.add(_message(appointment, text, now))
        await uow.commit()
    assert sent.id is not None
    return Booked(appointment, [sent.id])


async def take(
    booking: Booking,
    *,
    uow: UnitOfWork,
    rota: Rota,
    today: date,
    now: datetime,
    called_in_by: StaffUser | None = None,
) -> Appointment:
    """Take a place in the caller's open unit of work (the bot answers with the confirmation
    itself, ``bots.dialogue``); nothing is sent."""
    if booking.channel not in BOOKING_CHANNELS:
        raise InvalidInput("appointments are confirmed by SMS or Telegram")
    check_booking(booking.unit, booking.day, booking.brief, today=today, rota=rota)
    venue = rota.venue(booking.unit)
    language = booking.language or guess_language(booking.brief)
    citizen = await uow.citizens.get_or_create(
        ContactHandle(booking.channel, booking.address), at=now, language=language
    )
    appointment = await uow.appointments.book(
        Appointment(
            number=new_query_code(),
            unit=booking.unit,
            day=booking.day,
            brief=booking.brief.strip(),
            channel=str(booking.channel),
            address=booking.address,
            booked_at=now,
            name=booking.name,
            called_in_by=called_in_by.actor if called_in_by else None,
            citizen_id=citizen.id,
        ),
        capacity=venue.capacity,
    )
    log.info("appointment booked", extra={"appointment": appointment.number, "unit": venue.code})
    return appointment


async def cancel(
    number: str, *, address: str | None, uow: UnitOfWork, now: datetime, by: str = "citizen"
) -> Booked:
    """Cancel a booking; a citizen gives the phone or chat it was booked from (``address``),
    staff give None. The place is free again and the citizen is told."""
    async with uow:
        appointment = await withdraw(number, address=address, uow=uow)
        language = guess_language(appointment.brief)
        sent = await uow.outbox.add(
            _message(appointment, cancelled_text(appointment, language), now)
        )
        await uow.commit()
    assert sent.id is not None
    log.info("appointment cancelled", extra={"appointment": appointment.number, "by": by})
    return Booked(appointment, [sent.id])


async def remind(
    *, uow_factory: UnitOfWorkFactory, rota: Rota, today: date, now: datetime
) -> list[int]:
    """Remind tomorrow's bookings, each once (several workers may run this at once). The
    outbox ids, to deliver."""
    tomorrow = today + timedelta(days=1)
    async with uow_factory() as uow:
        due = await uow.appointments.to_remind(tomorrow, limit=REMIND_BATCH)
    sent: list[int] = []
    for appointment in due:
        assert appointment.id is not None
        async with uow_factory() as uow:
            if not await uow.appointments.claim_reminder(appointment.id, at=now):
                continue
            language = guess_language(appointment.brief)
            text = reminder_text(appointment, rota, language)
            message = await uow.outbox.add(_message(appointment, text, now))
            await uow.commit()
        assert message.id is not None
        sent.append(message.id)
    if sent:
        log.info("appointment reminders", extra={"sent": len(sent)})
    return sent


async def withdraw(number: str, *, address: str | None, uow: UnitOfWork) -> Appointment:
    """Cancel a booking in the caller's open unit of work; nothing is sent."""
    appointment = await uow.appointments.by_number(number.strip().upper(), lock=True)
    if appointment is None or (address is not None and address != appointment.address):
        raise NotFound("appointment", number)
    if appointment.status != AppointmentStatus.BOOKED:
        raise InvalidInput(f"appointment {number} is {appointment.status}, not booked")
    appointment.status = AppointmentStatus.CANCELLED
    await uow.appointments.save(appointment)
    return appointment


def _message(appointment: Appointment, text: str, now: datetime) -> OutboundMessage:
    return OutboundMessage(
        channel=Channel(appointment.channel),
        recipient_address=appointment.address,
        text=text,
        created_at=now,
        updated_at=now,
        citizen_id=appointment.citizen_id,
    )


def _where(appointment: Appointment, rota: Rota, language: Language) -> str:
    venue = rota.venues.get(appointment.unit)
    if venue is None:
        return appointment.unit
    hours = f" {venue.hours}" if venue.hours else ""
    return (
        f"{venue.name(language)}（{venue.address}）{hours}"
        if language == Language.ZH
        else (f"{venue.name(language)} ({venue.address}){hours}")
    )


def confirmation_text(appointment: Appointment, rota: Rota, language: Language) -> str:
    where = _where(appointment, rota, language)
    if language == Language.ZH:
        return (
            f"预约接访成功，预约号 {appointment.number}：{appointment.day} {where}。"
            f"请携带身份证按时到场；取消请回复“取消预约 {appointment.number}”。"
        )
    return (
        f"Reception booked, number {appointment.number}: {appointment.day} at {where}. "
        f"Bring your ID card. To cancel, reply “CANCEL {appointment.number}”."
    )


def reminder_text(appointment: Appointment, rota: Rota, language: Language) -> str:
    where = _where(appointment, rota, language)
    if language == Language.ZH:
        return (
            f"提醒：您预约了明天（{appointment.day}）的接访，"
            f"预约号 {appointment.number}，地点 {where}。"
        )
    return (
        f"Reminder: your reception is tomorrow ({appointment.day}), number "
        f"{appointment.number}, at {where}."
    )


def cancelled_text(appointment: Appointment, language: Language) -> str:
    if language == Language.ZH:
        return f"预约 {appointment.number}（{appointment.day}）已取消。"
    return f"Appointment {appointment.number} ({appointment.day}) is cancelled."
