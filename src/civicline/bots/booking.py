"""Appointments by keyword (``bots.commands``: ``预约 341800 2026-12-08 事项``, ``取消预约
K7M2Q9PX``) on SMS and Telegram: the answer is the confirmation, with the booking number, or
what is wrong (an unknown venue, a past day, a day it receives no one, a full day, a second
booking there that day) in the citizen's language. The reminder the day before goes to the
same chat or phone (``handlers.appointments.remind``)."""

from __future__ import annotations

from datetime import datetime

from civicline.bots.answers import Conversation
from civicline.bots.commands import Book, CancelBooking
from civicline.bots.texts import say
from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.domain.rota import Rota
from civicline.domain.visits import AlreadyBooked, Full
from civicline.handlers import appointments
from civicline.storage.base import UnitOfWork


async def answer_book(
    command: Book,
    message: InboundMessage,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> str:
    language = message.language or Language.ZH
    day = command.day
    if day is None or not command.brief:
        return say("book_usage", language)
    today = now.astimezone(conversation.routing.city_timezone).date()
    overrides = await uow.rota.overrides(today, day) if day >= today else {}
    rota = Rota(conversation.venues, conversation.routing.calendar, overrides)
    shown = {"day": day.isoformat(), "unit": command.unit}
    if command.unit not in rota.venues:
        return say("book_unknown_unit", language, **shown)
    if day < today:
        return say("book_past", language, **shown)
    if not rota.receives_on(command.unit, day):
        return say("book_closed_day", language, **shown)
    booking = appointments.Booking(
        command.unit, day, command.brief, Channel(message.channel), message.sender_address,
        language=language,
    )  # fmt: skip
    try:
        taken = await appointments.take(booking, uow=uow, rota=rota, today=today, now=now)
    except Full:
        return say("book_full", language, **shown)
    except AlreadyBooked:
        return say("book_double", language, **shown)
    except InvalidInput:
        return say("book_usage", language)
    return appointments.confirmation_text(taken, rota, language)


async def answer_cancel(command: CancelBooking, message: InboundMessage, uow: UnitOfWork) -> str:
    language = message.language or Language.ZH
    try:
        done = await appointments.withdraw(command.number, address=message.sender_address, uow=uow)
    except (NotFound, InvalidInput):
        return say("book_not_found", language, number=command.number)
    return appointments.cancelled_text(done, language)
