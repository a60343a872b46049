"""The public reception page (接访安排): ``/visits``.

Who receives the public, when and where, for the next four weeks (the rota, the holiday
calendar and the console's one-day overrides), each venue's address and hours; a form to
book a reception day (预约接访) confirmed by SMS with a booking number, and one to cancel with
the number and the phone it was booked with. Plain HTML (no JavaScript needed), Chinese by
default, English with ``?lang=en``; bookings are rate limited per client address and phone
like the mailbox. Bad input answers 400 (a past day, an unknown venue, a day it receives no
one), 409 (the day is full, or this phone holds a booking there that day) or 429, with the
form filled in again.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from civicline.channels.sms import normalize_phone
from civicline.domain.errors import DomainError, InvalidInput, NotFound
from civicline.domain.messages import Channel, Language
from civicline.domain.text import flaw
from civicline.domain.visits import AlreadyBooked, Full
from civicline.gateway.bootstrap import Services
from civicline.gateway.pages.mailbox import _client, _hashed, _lang, _limiter, _page, _text
from civicline.handlers import appointments
from civicline.storage.queue import queue_deliveries

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

PAGE = "visits.html"
WEEKS = 4
FIELDS = ("unit", "day", "brief", "name", "phone")


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _context(services: Services, lang: str, values: dict[str, str]) -> dict[str, Any]:
    today = services.today()
    last = today + timedelta(days=7 * WEEKS - 1)
    rota = await services.reception.rota(today, last)
    days: dict[date, list[Any]] = {}
    for reception in rota.receptions(today, last):
        days.setdefault(reception.day, []).append(reception)
    return {
        "lang": lang,
        "values": values,
        "days": days,
        "venues": rota.venues,
        "today": today.isoformat(),
        "last": (today + timedelta(days=60)).isoformat(),
    }


@router.get("/visits", response_class=HTMLResponse)
async def visits_page(request: Request, lang: str = "zh") -> Response:
    services = _services(request)
    values = dict.fromkeys(FIELDS, "")
    return _page(request, PAGE, await _context(services, _lang(lang), values))


@router.post("/visits/book", response_class=HTMLResponse)
async def book(request: Request) -> Response:
    services = _services(request)
    form = await request.form(max_files=0, max_fields=20)
    lang = _lang(form.get("lang"))
    values = {name: _text(form, name) for name in FIELDS}
    status, error = 400, ""
    try:
        if any(flaw(v) for v in values.values()) or _text(form, "website"):
            raise InvalidInput("refused")
        try:
            day = date.fromisoformat(values["day"])
        except ValueError:
            raise InvalidInput("bad_day") from None
        try:
            phone = normalize_phone(values["phone"], services.settings.sms_default_region)
        except InvalidInput:
            raise InvalidInput("bad_phone") from None
        limiter = _limiter(services, "visits", services.settings.mailbox_rate_limit_per_hour)
        for key in (f"ip:{_hashed(_client(request))}", f"phone:{_hashed(phone)}"):
            if not await limiter.hit(key):
                status, error = 429, "too_many"
                raise InvalidInput(error)
        booking = appointments.Booking(
            values["unit"], day, values["brief"], Channel.SMS, phone, values["name"] or None,
            Language(lang),
        )  # fmt: skip
        today = services.today()
        booked = await appointments.book(
            booking,
            uow=services.uow(),
            rota=await services.reception.rota(today, day),
            today=today,
            now=services.now(),
        )
    except (Full, AlreadyBooked) as exc:
        status, error = 409, "full" if isinstance(exc, Full) else "double"
        return await _again(services, request, lang, values, error, status)
    except DomainError as exc:
        return await _again(services, request, lang, values, error or str(exc), status)
    await queue_deliveries(services.queue, booked.outbound_ids)
    context = await _context(services, lang, dict.fromkeys(FIELDS, ""))
    context["booked"] = booked.appointment
    return _page(request, PAGE, context, 201)


async def _again(
    services: Services, request: Request, lang: str, values: dict[str, str], error: str, status: int
) -> Response:
    """The page with the form as it was typed and what is wrong."""
    context = await _context(services, lang, values)
    context["error"] = error
    return _page(request, PAGE, context, status)


@router.post("/visits/cancel", response_class=HTMLResponse)
async def cancel(request: Request) -> Response:
    services = _services(request)
    form = await request.form(max_files=0, max_fields=10)
    lang = _lang(form.get("lang"))
    values = dict.fromkeys(FIELDS, "")
    number = _text(form, "number")[:16]
    limiter = _limiter(
        services, "visits-cancel", services.settings.mailbox_query_rate_limit_per_hour
    )
    if not await limiter.hit(f"ip:{_hashed(_client(request))}"):
        return await _again(services, request, lang, values, "too_many", 429)
    try:
        phone = normalize_phone(_text(form, "phone"), services.settings.sms_default_region)
        done = await appointments.cancel(
            number, address=phone, uow=services.uow(), now=services.now()
        )
    except NotFound:
        return await _again(services, request, lang, values, "no_booking", 404)
    except DomainError:
        return await _again(services, request, lang, values, "no_booking", 400)
    await queue_deliveries(services.queue, done.outbound_ids)
    context = await _context(services, lang, values)
    context["cancelled"] = done.appointment
    return _page(request, PAGE, context)
