"""The hotline operator's form: type or paste a call's transcript, see what the NLU makes of it,
correct the category, department and urgency, file it and read the case number out.

One page, ``/console/hotline``, for operators, supervisors and admins (clerks get 403).
**Suggest** and **File** post the same form; whatever is wrong comes back with the form as it
was typed. The form carries a fresh random call id, so a form sent twice files one case.
Filing goes the API's way (``handlers.hotline.file_call``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from civicline.channels.sms import normalize_phone
from civicline.domain.bounds import moment_problem
from civicline.domain.errors import DomainError, InvalidInput, NotAllowed
from civicline.gateway.bootstrap import Services
from civicline.gateway.console.errors import error_page
from civicline.gateway.console.texts import translator
from civicline.gateway.console.web import (
    PREFIX,
    Viewer,
    ViewerDep,
    checked_form,
    render,
    services_of,
)
from civicline.handlers import hotline
from civicline.handlers.hotline import (
    MAX_CALL_ID,
    MAX_TRANSCRIPT,
    Filed,
    Suggestion,
    Transcript,
    Turn,
    caller_words,
    parse_turns,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = "console_hotline.html"
TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends
FIELDS = (
    "call_id",
    "caller",
    "started_at",
    "ended_at",
    "transcript",
    "category",
    "department",
    "unit",
    "urgent",
    "sms_consent",
    "publish_consent",
)
URGENCY = {"": None, "1": True, "0": False}  # as the NLU reads it, urgent, not urgent
# The same three answers for the board's question: not asked, may publish, may not.
FUTURE_SLACK = timedelta(minutes=10)  # a clock a little ahead of the server's
RANKED = 3  # the NLU's runners-up shown beside its choice


class FormErrors(Exception):
    """What is wrong with the form, by field, in the operator's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def _fresh(services: Services) -> dict[str, str]:
    """An empty form: a new call id, a call from five minutes ago to now in city time."""
    now = services.now().astimezone(services.settings.timezone)
    values = dict.fromkeys(FIELDS, "")
    values |= {
        "call_id": f"console-{uuid.uuid4().hex}",
        "started_at": (now - timedelta(minutes=5)).strftime(TIME_FORMAT),
        "ended_at": now.strftime(TIME_FORMAT),
    }
    return values


def _kept(form: Mapping[str, str]) -> dict[str, str]:
    return {name: form.get(name, "") for name in FIELDS}


def _time(raw: str, city: tzinfo) -> datetime:
    """A time from the form: city time unless it names its zone. ValueError when unreadable."""
    value = datetime.fromisoformat(raw.strip())
    if moment_problem(value) is not None:
        raise ValueError("out of range")
    return value if value.tzinfo is not None else value.replace(tzinfo=city)


def _turns(values: Mapping[str, str], t: Callable[..., str]) -> tuple[Turn, ...]:
    text = values["transcript"]
    if len(text) > MAX_TRANSCRIPT:
        raise FormErrors({"transcript": t("hotline_too_long", max=MAX_TRANSCRIPT)})
    turns = parse_turns(text)
    if not caller_words(turns).strip():
        raise FormErrors({"transcript": t("hotline_no_words")})
    return turns


def _transcript(
    values: Mapping[str, str], who: Viewer, services: Services, t: Callable[..., str]
) -> Transcript:
    """The call as the form gives it, or every field that is wrong."""
    settings = services.settings
    errors: dict[str, str] = {}
    call_id = values["call_id"].strip()
    if not call_id or len(call_id) > MAX_CALL_ID:
        errors["call_id"] = t("hotline_bad_call_id", max=MAX_CALL_ID)
    caller = ""
    try:
        caller = normalize_phone(values["caller"], settings.sms_default_region)
    except InvalidInput:
        errors["caller"] = t("hotline_bad_phone")
    times: list[datetime] = []
    for name in ("started_at", "ended_at"):
        try:
            times.append(_time(values[name], settings.timezone))
        except ValueError:
            errors[name] = t("hotline_bad_time")
    if len(times) == 2:
        started, ended = times
        if ended < started:
            errors["ended_at"] = t("hotline_ends_before_start")
        elif ended > services.now() + FUTURE_SLACK:
            errors["ended_at"] = t("hotline_in_future")
    turns: tuple[Turn, ...] = ()
    try:
        turns = _turns(values, t)
    except FormErrors as exc:
        errors |= exc.errors
    taxonomy = services.taxonomy
    if values["category"] and values["category"] not in taxonomy.categories:
        errors["category"] = t("hotline_unknown")
    if values["department"] and values["department"] not in taxonomy.departments:
        errors["department"] = t("hotline_unknown")
    if values["unit"] and (taxonomy.units is None or taxonomy.units.get(values["unit"]) is None):
        errors["unit"] = t("hotline_unknown")
    if errors:
        raise FormErrors(errors)
    started, ended = times
    return Transcript(
        call_id=call_id,
        caller=caller,
        operator_id=who.user.username,
        started_at=started,
        ended_at=ended,
        turns=turns,
        category=values["category"] or None,
        department=values["department"] or None,
        unit=values["unit"] or None,
        urgent=URGENCY.get(values["urgent"]),
        sms_consent=values["sms_consent"] == "on",
        publish_consent=URGENCY.get(values["publish_consent"]),
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
    context: dict[str, Any] = {
        "values": values,
        **suggestion_context(suggestion, services),
        "errors": dict(errors or {}),
        "max_transcript": MAX_TRANSCRIPT,
        "max_call_id": MAX_CALL_ID,
    }
    return render(request, PAGE, context, who=who, status_code=status)


def suggestion_context(suggestion: Suggestion | None, services: Services) -> dict[str, Any]:
    """What ``console_form_parts.suggestion_box`` shows: the NLU's choice, its runners-up,
    and whether it is too unsure to trust."""
    return {
        "suggestion": suggestion,
        "ranked": suggestion.ranking[:RANKED] if suggestion else (),
        "unsure": suggestion is not None
        and suggestion.confidence < services.settings.nlu_min_confidence,
    }


def _refused(request: Request, who: Viewer) -> Response | None:
    if who.user.takes_calls:
        return None
    return error_page(
        request, who, NotAllowed("only hotline operators, supervisors and admins file calls")
    )


@router.get("/hotline", response_class=HTMLResponse)
async def call_form(request: Request, who: ViewerDep) -> Response:
    if refused := _refused(request, who):
        return refused
    return _form(request, who, _fresh(services_of(request)))


@router.post("/hotline/suggest", response_class=HTMLResponse)
async def suggest(request: Request, who: ViewerDep) -> Response:
    """The form again, with the NLU's reading of the caller's words: its category and
    department preselected for the operator to confirm or correct."""
    if refused := _refused(request, who):
        return refused
    services = services_of(request)
    values = _kept(await checked_form(request, who))
    t = translator(who.lang)
    try:
        found = await hotline.suggest(
            _turns(values, t), nlu=services.classifier, taxonomy=services.taxonomy
        )
    except FormErrors as exc:
        return _form(request, who, values, errors=exc.errors, status=422)
    values["category"] = found.category.code if found.category else ""
    values["department"] = found.department.code if found.department else ""
    if found.urgent and not values["urgent"]:
        values["urgent"] = "1"
    return _form(request, who, values, suggestion=found)


@router.post("/hotline", response_class=HTMLResponse)
async def file_call(request: Request, who: ViewerDep) -> Response:
    """File the call: the operator's category, department and urgency win. The page shows
    the case number to read out; the same call id filed again shows the same case."""
    if refused := _refused(request, who):
        return refused
    services = services_of(request)
    values = _kept(await checked_form(request, who))
    t = translator(who.lang)
    try:
        transcript = _transcript(values, who, services, t)
        filed = await hotline.file_call(
            transcript,
            services.hotline,
            inbox=services.inbox,
            queue=services.queue,
            now=services.now(),
        )
    except FormErrors as exc:
        return _form(request, who, values, errors=exc.errors, status=422)
    except DomainError as exc:
        return _form(request, who, values, errors={"": str(exc)}, status=422)
    return _filed(request, who, filed, consent=transcript.sms_consent)


def _filed(request: Request, who: Viewer, filed: Filed, *, consent: bool) -> Response:
    if filed.outbound_ids:
        receipt = "hotline_receipt_queued"
    elif not filed.created:
        receipt = "hotline_filed_before"
    elif consent:
        receipt = "hotline_receipt_opted_out"
    else:
        receipt = "hotline_no_consent"
    context = {"filed": filed, "receipt": receipt}
    return render(request, PAGE, context, who=who, status_code=201 if filed.created else 200)
