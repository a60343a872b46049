"""The reception clerk's page (来访登记), ``/console/visits``: register a batch of visitors,
see what the NLU makes of the matter and the open cases the visitors already have (found by
their phones and ID numbers), correct the category and department, register it; below, the
day's register and the rota of the next four weeks, where supervisors name another leader
for a day.

The visitors are typed one a line: a name, then the ID number and the phone in any order
(``张三 341800199003070017 13900000001``). The leader is prefilled from the rota for the
venue and day. The form carries a fresh registration id, so a form sent twice registers one
visit. The register is for the centre (operators as reception clerks, supervisors, admins);
department staff read the day's register with ID numbers and phones masked, and get 403 on
the form's actions. Registration goes through ``handlers.visits.register``; the suggestion
through ``handlers.hotline.suggest``, as on the letters' page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from civicline.channels.sms import normalize_phone
from civicline.domain.errors import DomainError, InvalidInput, NotAllowed
from civicline.domain.visits import RECORD_TYPES_TEXT, Outcome, VisitKind, Visitor, record_type
from civicline.gateway.bootstrap import Services
from civicline.gateway.console.errors import error_page
from civicline.gateway.console.hotline_routes import TIME_FORMAT, FormErrors, suggestion_context
from civicline.gateway.console.letter_routes import _checked_upload
from civicline.gateway.console.texts import translator
from civicline.gateway.console.web import (
    PREFIX,
    Viewer,
    ViewerDep,
    checked_form,
    redirect,
    render,
    services_of,
)
from civicline.gateway.pages.mailbox import Refused, read_files
from civicline.handlers import hotline, visits
from civicline.handlers.hotline import Suggestion, Turn
from civicline.storage.queue import queue_deliveries

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = "console_visits.html"
WEEKS = 4
FIELDS = (
    *("register_id", "unit", "kind", "received_at", "visitors", "matter", "outcome"),
    *("reason", "leader", "staff", "counsel", "case_numbers", "appointment"),
    *("category", "department"),
)
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
SPLIT = re.compile(r"[\s,，、;；]+")


def _now(services: Services) -> datetime:
    return services.now().astimezone(services.settings.timezone)


async def _fresh(services: Services) -> dict[str, str]:
    unit = next(iter(services.venues))
    today = services.today()
    leader = (await services.reception.rota(today, today)).leader_on(unit, today)
    values = dict.fromkeys(FIELDS, "")
    return values | {
        "register_id": f"desk-{uuid.uuid4().hex}",
        "unit": unit,
        "kind": str(VisitKind.CENTRE),
        "received_at": _now(services).strftime(TIME_FORMAT),
        "outcome": str(Outcome.ACCEPTED),
        "leader": leader or "",
    }


def _kept(form: Mapping[str, Any]) -> dict[str, str]:
    values = {name: form.get(name) for name in FIELDS}
    return {name: v.strip() if isinstance(v, str) else "" for name, v in values.items()}


def visitors_of(text: str, services: Services) -> tuple[Visitor, ...]:
    """One visitor a line: a name, then an ID number and a phone in any order."""
    people = []
    for line in text.splitlines():
        words = [w for w in SPLIT.split(line.strip()) if w]
        if not words:
            continue
        name, id_number, phone = words[0], None, None
        for word in words[1:]:
            if ID_NUMBER.match(word):
                id_number = word.upper()
            else:
                phone = normalize_phone(word, services.settings.sms_default_region)
        people.append(Visitor(name, id_number, phone))
    return tuple(people)


def _draft(
    values: Mapping[str, str], uploads: Any, services: Services, t: Callable[..., str]
) -> visits.Draft:
    errors: dict[str, str] = {}
    try:
        people = visitors_of(values["visitors"], services)
    except InvalidInput:
        errors["visitors"] = t("hotline_bad_phone")
        people = ()
    if not people and "visitors" not in errors:
        errors["visitors"] = t("letter_required")
    if not values["matter"]:
        errors["matter"] = t("letter_required")
    try:
        received = datetime.strptime(values["received_at"], TIME_FORMAT)
    except ValueError:
        errors["received_at"] = t("hotline_bad_time")
        received = datetime.now()
    if values["outcome"] not in set(Outcome) or values["kind"] not in set(VisitKind):
        errors["outcome"] = t("hotline_unknown")
    if errors:
        raise FormErrors(errors)
    return visits.Draft(
        register_id=values["register_id"],
        unit=values["unit"],
        kind=VisitKind(values["kind"]),
        received_at=received.replace(tzinfo=services.settings.timezone),
        matter=values["matter"],
        outcome=Outcome(values["outcome"]),
        visitors=people,
        leader=values["leader"] or None,
        staff=visits.staff_names(SPLIT.split(values["staff"])),
        counsel=values["counsel"] or None,
        reason=values["reason"] or None,
        case_numbers=tuple(n for n in SPLIT.split(values["case_numbers"]) if n),
        appointment=values["appointment"].upper() or None,
        category=values["category"] or None,
        department=values["department"] or None,
        uploads=uploads,
    )


async def _page(
    request: Request,
    who: Viewer,
    values: Mapping[str, str] | None,
    *,
    suggestion: Suggestion | None = None,
    found: visits.Found | None = None,
    errors: Mapping[str, str] | None = None,
    registered: visits.Registered | None = None,
    status: int = 200,
) -> Response:
    services = services_of(request)
    today = services.today()
    last = today + timedelta(days=7 * WEEKS - 1)
    rota = await services.reception.rota(today, last)
    city = services.settings.timezone
    register = await visits.visits_between(
        datetime.combine(today, time(0), tzinfo=city),
        datetime.combine(today + timedelta(days=1), time(0), tzinfo=city),
        unit=None,
        user=who.user,
        uow=services.uow(),
    )
    context: dict[str, Any] = {
        "values": values,
        "venues": services.venues,
        "outcomes": list(Outcome),
        "kinds": list(VisitKind),
        "receptions": rota.receptions(today, last),
        "register": register,
        "found": found,
        "registered": registered,
        "errors": dict(errors or {}),
        **suggestion_context(suggestion, services),
        "max_files": services.settings.letter_files_max,
        "max_file_mb": services.settings.letter_file_max_bytes // 1_000_000,
    }
    return render(request, PAGE, context, who=who, status_code=status)


def _refused(request: Request, who: Viewer) -> Response | None:
    if who.user.registers_visits:
        return None
    return error_page(
        request, who, NotAllowed("only reception clerks, supervisors and admins register visits")
    )


@router.get("/visits", response_class=HTMLResponse)
async def visits_page(request: Request, who: ViewerDep) -> Response:
    values = await _fresh(services_of(request)) if who.user.registers_visits else None
    return await _page(request, who, values)


@router.post("/visits/suggest", response_class=HTMLResponse)
async def suggest(request: Request, who: ViewerDep) -> Response:
    """The form again with the NLU's reading of the matter (category and department
    preselected), the visitors' open cases, and the leader on duty if none was given."""
    if refused := _refused(request, who):
        return refused
    services = services_of(request)
    values = _kept(await _checked_upload(request, who))
    t = translator(who.lang)
    errors: dict[str, str] = {}
    found = suggestion = None
    try:
        people = visitors_of(values["visitors"], services)
        found = await _cases_of(people, services)
    except InvalidInput:
        errors["visitors"] = t("hotline_bad_phone")
    try:
        suggestion = await hotline.suggest(
            (Turn("caller", values["matter"]),), nlu=services.classifier, taxonomy=services.taxonomy
        )
        values["category"] = suggestion.category.code if suggestion.category else ""
        values["department"] = suggestion.department.code if suggestion.department else ""
    except InvalidInput:
        errors["matter"] = t("letter_required")
    if not values["leader"] and values["unit"] in services.venues:
        day = _day(values["received_at"]) or services.today()
        rota = await services.reception.rota(day, day)
        values["leader"] = rota.leader_on(values["unit"], day) or ""
    return await _page(
        request, who, values, suggestion=suggestion, found=found, errors=errors,
        status=422 if errors else 200,
    )  # fmt: skip


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text, TIME_FORMAT).date()
    except ValueError:
        return None


async def _cases_of(people: tuple[Visitor, ...], services: Services) -> visits.Found:
    numbers: set[str] = set()
    earlier = 0
    for person in people:
        found = await visits.look_up(
            phone=person.phone, id_number=person.id_number, uow=services.uow()
        )
        numbers |= set(found.case_numbers)
        earlier = max(earlier, found.visits)
    return visits.Found(sorted(numbers), earlier)


@router.post("/visits/new", response_class=HTMLResponse)
async def register(request: Request, who: ViewerDep) -> Response:
    """Register the visit: the page shows the case it opened or joined."""
    if refused := _refused(request, who):
        return refused
    services = services_of(request)
    form = await _checked_upload(request, who)
    values = _kept(form)
    t = translator(who.lang)
    try:
        uploads = await read_files(form, services, record_type, RECORD_TYPES_TEXT)
        draft = _draft(values, uploads, services, t)
        done = await visits.register(
            draft, services.reception, actor=who.user.actor, now=services.now()
        )
    except Refused as exc:
        errors = {"files": t("letter_files_refused", reason=exc.message)}
        return await _page(request, who, values, errors=errors, status=exc.status)
    except FormErrors as exc:
        return await _page(request, who, values, errors=exc.errors, status=422)
    except DomainError as exc:
        return await _page(request, who, values, errors={"": str(exc)}, status=422)
    await queue_deliveries(services.queue, done.outbound_ids)
    fresh = await _fresh(services)
    return await _page(request, who, fresh, registered=done, status=201 if done.created else 200)


@router.post("/visits/rota")
async def name_leader(request: Request, who: ViewerDep) -> Response:
    """Another leader for one reception day (empty: back to the rota file's turn)."""
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        day = date.fromisoformat(form.get("day", ""))
        await visits.name_leader(
            form.get("unit", ""),
            day,
            form.get("leader", "").strip() or None,
            user=who.user,
            reception=services.reception,
            now=services.now(),
        )
    except ValueError:
        return error_page(request, who, InvalidInput("not a day"))
    except DomainError as exc:
        return error_page(request, who, exc)
    return redirect(f"{PREFIX}/visits#rota")
