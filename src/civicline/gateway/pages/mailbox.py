"""The mayor's mailbox on the web (书记市长信箱): ``/mailbox`` to write, ``/mailbox/query`` to ask.

Plain HTML forms (work without JavaScript, on a phone too), Chinese by default, English with
``?lang=en``. A letter names its mailbox (from ``mailboxes.yml``), a subject, up to 5,000
characters, up to ``CIVICLINE_LETTER_FILES_MAX`` images or PDFs (type told by their bytes,
each within ``CIVICLINE_LETTER_FILE_MAX_BYTES``), a name, a phone or an e-mail address for the
answer, and whether it may be published. No CAPTCHA: a hidden field people leave empty, and a
rate limit per client address and per phone. On success the page shows the letter's number and
its query code (查询码), once; only the code's hash is kept. The query page takes the number
and code by POST (never in a URL) and shows the status and the answers, nothing about the
writer; wrong codes are rate limited per client address.

Bad input answers 400 (413 for files too large, 415 for types not taken, 429 when limited)
with the form filled in again, so nothing typed is lost.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile

from civicline.channels.sms import normalize_phone
from civicline.domain.cases import CaseStatus
from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.letters import (
    MAX_BODY,
    MAX_NAME,
    MAX_SUBJECT,
    LetterFile,
    LetterKind,
    file_type,
)
from civicline.domain.text import flaw
from civicline.gateway.bootstrap import Services
from civicline.handlers import letters
from civicline.storage.queue import DELIVER_OUTBOUND
from civicline.storage.rate_limit import RateLimiter

log = logging.getLogger(__name__)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
router = APIRouter(include_in_schema=False)

EMAIL = re.compile(r"^[^@\s<>]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")
_SUBMISSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATUS_TEXT = {
    "zh": {
        CaseStatus.RECEIVED: "已收到，待受理",
        CaseStatus.ACCEPTED: "已受理",
        CaseStatus.ASSIGNED: "已交办",
        CaseStatus.IN_PROGRESS: "办理中",
        CaseStatus.FORWARDED: "已转办",
        CaseStatus.RETURNED: "重新交办中",
        CaseStatus.ANSWERED: "已答复",
        CaseStatus.CLOSED: "已办结",
        CaseStatus.MERGED: "已并案办理",
        CaseStatus.REJECTED: "不予受理",
        CaseStatus.REOPENED: "重新办理中",
    },
    "en": {
        CaseStatus.RECEIVED: "received, awaiting acceptance",
        CaseStatus.ACCEPTED: "accepted",
        CaseStatus.ASSIGNED: "assigned to a department",
        CaseStatus.IN_PROGRESS: "in progress",
        CaseStatus.FORWARDED: "forwarded",
        CaseStatus.RETURNED: "being reassigned",
        CaseStatus.ANSWERED: "answered",
        CaseStatus.CLOSED: "closed",
        CaseStatus.MERGED: "handled with a related letter",
        CaseStatus.REJECTED: "not accepted",
        CaseStatus.REOPENED: "reopened",
    },
}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _lang(value: object) -> str:
    return "en" if value == "en" else "zh"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _limiter(services: Services, name: str, limit: int) -> RateLimiter:
    """One limiter per purpose, made on first use and kept on the services."""
    key = f"_mailbox_limiter_{name}"
    limiter: RateLimiter | None = getattr(services, key, None)
    if limiter is None:
        limiter = RateLimiter(services.redis, limit=limit, window_seconds=3600, prefix=name)
        setattr(services, key, limiter)
    return limiter


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _hashed(value: str) -> str:
    """Rate-limit keys never hold a phone number or an address in the clear."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _form_context(services: Services, lang: str, values: dict[str, str]) -> dict[str, Any]:
    settings = services.settings
    return {
        "lang": lang,
        "boxes": [(b.code, b.name(lang)) for b in services.addressees.values()],
        "values": values,
        "max_body": MAX_BODY,
        "max_subject": MAX_SUBJECT,
        "max_files": settings.letter_files_max,
        "max_file_mb": settings.letter_file_max_bytes // 1_000_000,
    }


@router.get("/mailbox", response_class=HTMLResponse)
async def mailbox_form(request: Request, lang: str = "zh") -> Response:
    values = {"submission_id": secrets.token_urlsafe(18)}
    return _page(request, "mailbox.html", _form_context(_services(request), _lang(lang), values))


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def read_files(
    form: FormData,
    services: Services,
    sniff: Callable[[bytes], str | None] = file_type,
    kinds: str = "JPEG, PNG, GIF, WebP images and PDF",
) -> tuple[LetterFile, ...]:
    """The images and PDFs of a letter's ``files`` field (type told by their bytes with
    ``sniff``, within the settings' count and size); ``Refused`` (400, 413, 415) otherwise."""
    uploads = [u for u in form.getlist("files") if isinstance(u, UploadFile) and u.filename]
    limit = services.settings.letter_file_max_bytes
    if len(uploads) > services.settings.letter_files_max:
        raise Refused(400, f"at most {services.settings.letter_files_max} files")
    files = []
    for upload in uploads:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise Refused(413, f"{upload.filename}: larger than {limit // 1_000_000} MB")
        media_type = sniff(data)
        if media_type is None:
            raise Refused(415, f"{upload.filename}: only {kinds}")
        files.append(
            LetterFile(name=(upload.filename or "file")[:200], media_type=media_type, data=data)
        )
    return tuple(files)


def _contact(form: FormData, services: Services) -> tuple[str | None, str | None]:
    phone_raw, email = _text(form, "phone"), _text(form, "email")
    if not phone_raw and not email:
        raise Refused(400, "phone_or_email")
    phone = None
    if phone_raw:
        try:
            phone = normalize_phone(phone_raw, services.settings.sms_default_region)
        except InvalidInput:
            raise Refused(400, "bad_phone") from None
    if email and not EMAIL.match(email):
        raise Refused(400, "bad_email")
    return phone, email.lower() or None


@router.post("/mailbox", response_class=HTMLResponse)
async def submit_letter(request: Request) -> Response:
    services = _services(request)
    form = await request.form(max_files=services.settings.letter_files_max + 1)
    lang = _lang(form.get("lang"))
    values = {k: _text(form, k) for k in ("addressee", "subject", "body", "name", "phone", "email")}
    values["submission_id"] = _text(form, "submission_id")
    values["may_publish"] = "on" if form.get("may_publish") else ""
    try:
        if _text(form, "website"):  # the honeypot: people never see it
            raise Refused(400, "refused")
        if not _SUBMISSION.match(values["submission_id"]):
            raise Refused(400, "expired")
        if any(flaw(value) for value in values.values()):
            raise Refused(400, "unreadable")
        if values["addressee"] not in services.addressees:
            raise Refused(400, "addressee")
        if not values["subject"] or len(values["subject"]) > MAX_SUBJECT:
            raise Refused(400, "subject")
        if not values["body"] or len(values["body"]) > MAX_BODY:
            raise Refused(400, "body")
        if len(values["name"]) > MAX_NAME:
            raise Refused(400, "name")
        phone, email = _contact(form, services)
        files = await read_files(form, services)
        limit = services.settings.mailbox_rate_limit_per_hour
        limiter = _limiter(services, "mailbox", limit)
        keys = [f"ip:{_hashed(_client(request))}"] + ([f"phone:{_hashed(phone)}"] if phone else [])
        for key in keys:
            if not await limiter.hit(key):
                raise Refused(429, "too_many")
        filed = await letters.file_letter(
            letters.Draft(
                kind=LetterKind.FORM,
                submission_id=f"form:{values['submission_id']}",
                addressee=values["addressee"],
                subject=values["subject"],
                body=values["body"],
                received_at=services.now(),
                sender_name=values["name"] or None,
                phone=phone,
                email=email,
                may_publish=bool(values["may_publish"]),
                uploads=files,
            ),
            services.letters,
            now=services.now(),
        )
    except Refused as refused:
        context = _form_context(services, lang, values)
        context["error"] = refused.message
        return _page(request, "mailbox.html", context, refused.status)
    except InvalidInput as exc:
        context = _form_context(services, lang, values)
        context["error"] = str(exc)
        return _page(request, "mailbox.html", context, 400)
    for outbound_id in filed.outbound_ids:
        await services.queue.enqueue(DELIVER_OUTBOUND, outbound_id, ahead=True)
    log.info("mailbox letter filed", extra={"case": filed.number, "new": filed.created})
    return _page(
        request,
        "mailbox_done.html",
        {"lang": lang, "number": filed.number, "code": filed.query_code},
    )


@router.get("/mailbox/query", response_class=HTMLResponse)
async def query_form(request: Request, lang: str = "zh") -> Response:
    return _page(request, "mailbox_query.html", {"lang": _lang(lang), "number": ""})


@router.post("/mailbox/query", response_class=HTMLResponse)
async def query_letter(request: Request) -> Response:
    services = _services(request)
    form = await request.form(max_files=0)
    lang = _lang(form.get("lang"))
    number, code = _text(form, "number")[:32], _text(form, "code")[:32]
    context: dict[str, Any] = {"lang": lang, "number": number}
    limiter = _limiter(
        services, "mailbox-query", services.settings.mailbox_query_rate_limit_per_hour
    )
    if not await limiter.hit(f"ip:{_hashed(_client(request))}"):
        context["error"] = "too_many"
        return _page(request, "mailbox_query.html", context, 429)
    try:
        found = await letters.query(number, code, uow=services.uow())
    except (letters.WrongCode, NotFound):
        context["error"] = "wrong_code"
        return _page(request, "mailbox_query.html", context, 400)
    context["found"] = found
    context["status_text"] = STATUS_TEXT[lang][found.status]
    context["accept_due"] = found.accept_due_at.astimezone(services.settings.timezone)
    context["received"] = found.received_at.astimezone(services.settings.timezone)
    context["tz"] = services.settings.timezone
    return _page(request, "mailbox_query.html", context)
