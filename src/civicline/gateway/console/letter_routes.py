"""The registry clerk's page for paper letters (来信): register a letter, see what the NLU makes
of it, correct the category and department, file it; and on a letter's case, record a reply
sent by post (date, tracking number).

``/console/letters/new`` is for the centre (operators as registry clerks, supervisors,
admins; department clerks get 403). **Suggest** and **File** post the same multipart form
(CSRF token in it, like every console form); whatever is wrong comes back with the form as it
was typed (files must be chosen again: a browser cannot refill a file field). The form carries
a fresh registration id, so a form sent twice files one case. Filing goes through
``handlers.letters.file_letter``; the NLU's suggestion through ``handlers.hotline.suggest``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from civicline.channels.sms import normalize_phone
from civicline.domain.bounds import day_problem
from civicline.domain.errors import DomainError, InvalidInput, NotAllowed
from civicline.domain.letters import (
    MAX_ADDRESS,
    MAX_BODY,
    MAX_NAME,
    MAX_SIGNATORIES,
    MAX_SUBJECT,
    LetterFile,
    LetterKind,
    PostReply,
)
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import form_int, row_id
from civicline.gateway.console.case_routes import NumberPath
from civicline.gateway.console.case_routes import page as case_page
from civicline.gateway.console.errors import error_page, status_for
from civicline.gateway.console.hotline_routes import FormErrors, suggestion_context
from civicline.gateway.console.texts import translator
from civicline.gateway.console.web import (
    PREFIX,
    Viewer,
    ViewerDep,
    checked_form,
    redirect,
    render,
    services_of,
    tokens_match,
)
from civicline.gateway.pages.mailbox import EMAIL, Refused, read_files
from civicline.handlers import hotline, letters
from civicline.handlers.hotline import Suggestion, Turn
from civicline.storage.queue import queue_deliveries

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = "console_letter.html"
FIELDS = (
    *("registration_id", "addressee", "subject", "body", "sender_name", "address"),
    *("phone", "email", "postmark_date", "received_date", "signatories"),
    *("category", "department"),
)


def _today(services: Services) -> date:
    return services.now().astimezone(services.settings.timezone).date()


def _fresh(services: Services) -> dict[str, str]:
    values = dict.fromkeys(FIELDS, "")
    return values | {
        "registration_id": f"paper-{uuid.uuid4().hex}",
        "addressee": next(iter(services.addressees)),
        "received_date": _today(services).isoformat(),
        "signatories": "1",
    }


async def _checked_upload(request: Request, who: Viewer) -> FormData:
    """The multipart form of a POST whose CSRF token is the session's; 403 otherwise."""
    services = services_of(request)
    form = await request.form(max_files=services.settings.letter_files_max + 1, max_fields=50)
    token = form.get("csrf")
    if not tokens_match(who.csrf, token if isinstance(token, str) else None):
        raise HTTPException(403, "the form has expired: reload the page and try again")
    return form


def _kept(form: FormData) -> dict[str, str]:
    values = {name: form.get(name) for name in FIELDS}
    return {name: v.strip() if isinstance(v, str) else "" for name, v in values.items()}


def _date(raw: str) -> date:
    day = date.fromisoformat(raw.strip())
    problem = day_problem(day)
    if problem is not None:
        raise ValueError(problem)
    return day


def _draft(
    values: Mapping[str, str],
    uploads: tuple[LetterFile, ...],
    who: Viewer,
    services: Services,
    t: Callable[..., str],
) -> letters.Draft:
    """The letter as the form gives it, or every field that is wrong."""
    errors: dict[str, str] = {}
    limits = (("subject", MAX_SUBJECT), ("body", MAX_BODY), ("sender_name", MAX_NAME))
    for name, most in (*limits, ("address", MAX_ADDRESS)):
        if len(values[name]) > most:
            errors[name] = t("letter_too_long", max=most)
    for name in ("sender_name", "subject", "body"):
        if not values[name]:
            errors[name] = t("letter_required")
    if values["addressee"] not in services.addressees:
        errors["addressee"] = t("hotline_unknown")
    phone = None
    if values["phone"]:
        try:
            phone = normalize_phone(values["phone"], services.settings.sms_default_region)
        except InvalidInput:
            errors["phone"] = t("hotline_bad_phone")
    if values["email"] and not EMAIL.match(values["email"]):
        errors["email"] = t("letter_bad_email")
    dates: dict[str, date | None] = {"postmark_date": None, "received_date": None}
    for name in dates:
        try:
            dates[name] = _date(values[name]) if values[name] else None
        except ValueError:
            errors[name] = t("hotline_bad_time")
    received, postmark = dates["received_date"], dates["postmark_date"]
    if received is None and "received_date" not in errors:
        errors["received_date"] = t("letter_required")
    elif received is not None and received > _today(services):
        errors["received_date"] = t("letter_received_future")
    if postmark and received and postmark > received:
        errors["postmark_date"] = t("letter_postmark_after")
    signatories = form_int(values["signatories"], 1, MAX_SIGNATORIES) or 0
    if not signatories:
        errors["signatories"] = t("letter_bad_signatories")
    taxonomy = services.taxonomy
    if values["category"] and values["category"] not in taxonomy.categories:
        errors["category"] = t("hotline_unknown")
    if values["department"] and values["department"] not in taxonomy.departments:
        errors["department"] = t("hotline_unknown")
    if errors:
        raise FormErrors(errors)
    assert received is not None
    return letters.Draft(
        kind=LetterKind.PAPER,
        submission_id=values["registration_id"],
        addressee=values["addressee"],
        subject=values["subject"],
        body=values["body"],
        # The received date starts the letters' clocks (信访工作条例), from the day's start.
        received_at=datetime.combine(received, time(0), tzinfo=services.settings.timezone),
        sender_name=values["sender_name"],
        phone=phone,
        email=values["email"].lower() or None,
        address=values["address"] or None,
        postmark_date=postmark,
        signatories=signatories,
        uploads=uploads,
        registered_by=who.user.username,
        category=values["category"] or None,
        department=values["department"] or None,
    )


def _form(
    request: Request,
    who: Viewer,
    values: Mapping[str, str],
    *,
    suggestion: Suggestion | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    services = services_of(request)
    settings = services.settings
    context: dict[str, Any] = {
        "values": values,
        "boxes": [(b.code, b.name(who.lang)) for b in services.addressees.values()],
        **suggestion_context(suggestion, services),
        "errors": dict(errors or {}),
        "max_body": MAX_BODY,
        "max_subject": MAX_SUBJECT,
        "max_files": settings.letter_files_max,
        "max_file_mb": settings.letter_file_max_bytes // 1_000_000,
        "today": _today(services).isoformat(),
    }
    return render(request, PAGE, context, who=who, status_code=status)


def _refused(request: Request, who: Viewer) -> Response | None:
    if who.user.registers_letters:
        return None
    return error_page(
        request, who, NotAllowed("only registry clerks, supervisors and admins register letters")
    )


@router.get("/letters/new", response_class=HTMLResponse)
async def letter_form(request: Request, who: ViewerDep) -> Response:
    if refused := _refused(request, who):
        return refused
    return _form(request, who, _fresh(services_of(request)))


@router.post("/letters/suggest", response_class=HTMLResponse)
async def suggest(request: Request, who: ViewerDep) -> Response:
    """The form again with the NLU's reading of the letter, its category and department
    preselected for the clerk to confirm or correct."""
    if refused := _refused(request, who):
        return refused
    services = services_of(request)
    values = _kept(await _checked_upload(request, who))
    words = f"{values['subject']}\n{values['body']}".strip()
    try:
        found = await hotline.suggest(
            (Turn("caller", words),), nlu=services.classifier, taxonomy=services.taxonomy
        )
    except InvalidInput:
        t = translator(who.lang)
        return _form(request, who, values, errors={"body": t("letter_required")}, status=422)
    values["category"] = found.category.code if found.category else ""
    values["department"] = found.department.code if found.department else ""
    return _form(request, who, values, suggestion=found)


@router.post("/letters/new", response_class=HTMLResponse)
async def file_letter(request: Request, who: ViewerDep) -> Response:
    """File the letter: the clerk's category and department win. The page shows the case
    number; the same registration filed again shows the same case."""
    if refused := _refused(request, who):
        return refused
    services = services_of(request)
    form = await _checked_upload(request, who)
    values = _kept(form)
    t = translator(who.lang)
    try:
        uploads = await read_files(form, services)
        draft = _draft(values, uploads, who, services, t)
        filed = await letters.file_letter(draft, services.letters, now=services.now())
    except Refused as exc:
        errors = {"files": t("letter_files_refused", reason=exc.message)}
        return _form(request, who, values, errors=errors, status=exc.status)
    except FormErrors as exc:
        return _form(request, who, values, errors=exc.errors, status=422)
    except DomainError as exc:
        return _form(request, who, values, errors={"": str(exc)}, status=422)
    await queue_deliveries(services.queue, filed.outbound_ids)
    context = {"filed": filed}
    return render(request, PAGE, context, who=who, status_code=201 if filed.created else 200)


@router.post("/cases/{number}/post")
async def record_post(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    """A reply to a paper letter went by post: its date and tracking number."""
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        if not who.user.registers_letters:
            raise NotAllowed("only registry clerks, supervisors and admins record posted replies")
        try:
            sent_on = _date(form.get("sent_on", ""))
            outbound_id = row_id(form.get("outbound_id"))
            if outbound_id is None:
                raise ValueError("no outbound id")
        except ValueError:
            raise InvalidInput("give the date the reply was posted") from None
        if sent_on > _today(services):
            raise InvalidInput("the reply cannot have been posted in the future")
        await letters.record_post(
            number,
            outbound_id,
            PostReply(sent_on, form.get("tracking_number", "")),
            clerk=who.user.actor,
            uow=services.uow(),
            now=services.now(),
        )
    except DomainError as exc:
        return await case_page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/cases/{number}")
