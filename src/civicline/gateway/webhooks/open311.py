"""HTTP endpoints of Open311 GeoReport v2 (see ``civicline.channels.open311``).

Every path takes ``.json`` or ``.xml``; errors come back in the same format, as the spec's
``errors`` list. Query and form fields are read as plain strings here (no FastAPI
validation), so that every bad input gets the spec's 400 rather than FastAPI's 422.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel

from civicline.channels import open311
from civicline.channels.open311 import Format, Open311Error
from civicline.domain.messages import Language
from civicline.gateway.bootstrap import Services
from civicline.handlers.intake import accept
from civicline.handlers.open311 import (
    META_KEY,
    RequestQuery,
    find_requests,
    find_updates,
    service_notice,
)

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"
XML = {"text/xml": {"schema": {"type": "string"}}}


class Open311Problem(BaseModel):
    """One entry of the spec's error list (``<errors><error>`` in XML)."""

    code: int
    description: str


def _errors(meaning: str) -> dict[str, Any]:
    return {"model": list[Open311Problem], "description": meaning, "content": XML}


router = APIRouter(
    prefix=PREFIX,
    tags=["open311"],
    # Answers and errors in the path's format (.json or .xml); errors as the spec's list.
    responses={
        200: {"content": XML},
        400: _errors("a missing or wrong argument"),
        403: _errors("no or a wrong api_key"),
        404: _errors("no such service, request or format, or another jurisdiction"),
    },
)
FORM = "application/x-www-form-urlencoded"


def install(app: FastAPI) -> None:
    """The routes, and errors in the spec's format for everything they raise."""
    app.include_router(router)

    async def open311_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Open311Error)
        fmt = _format_of_path(request.url.path)
        return _answer(fmt, open311.render_errors(fmt, exc), exc.status)

    app.add_exception_handler(Open311Error, open311_error)


def _format_of_path(path: str) -> Format:
    """The format an error is written in: the path's, else XML (the spec's required one)."""
    return open311.format_of(path.rpartition(".")[2]) or Format.XML


def _format(name: str) -> Format:
    fmt = open311.format_of(name)
    if fmt is None:
        raise Open311Error(404, "unknown format: use .json or .xml")
    return fmt


def _answer(fmt: Format, body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=fmt.media_type)


def _services(request: Request) -> Services:
    """The shared services, once the request's ``jurisdiction_id`` (if any) is ours."""
    services: Services = request.app.state.services
    params = request.query_params
    open311.check_jurisdiction(
        params.get("jurisdiction_id"), services.settings.open311_jurisdiction_id
    )
    return services


def _language(request: Request, form: dict[str, str] | None = None) -> Language:
    """``locale`` (query, or the POSTed form), else Accept-Language; Chinese by default."""
    locale = (form or {}).get("locale") or request.query_params.get("locale")
    return open311.language_of(locale, request.headers.get("accept-language"))


@router.get("/discovery.{fmt}")
async def discovery(request: Request, fmt: str) -> Response:
    """Where the endpoint is, what it speaks, whom to ask for a key."""
    services = _services(request)
    settings = services.settings
    # The services change when the taxonomy file does (it is read at start).
    try:
        changed = datetime.fromtimestamp(settings.taxonomy_path.stat().st_mtime, UTC)
    except OSError:  # moved away since the start: a fixed stamp, not one that keeps changing
        changed = datetime.fromtimestamp(0, UTC)
    body = open311.discovery(
        base_url=settings.public_base_url,
        changeset=changed.astimezone(settings.timezone),
        contact=settings.open311_contact,
        key_service=settings.open311_key_service,
    )
    output = _format(fmt)
    return _answer(output, open311.render_object(output, "discovery", body))


@router.get("/services.{fmt}")
async def service_list(request: Request, fmt: str) -> Response:
    """The city's categories as services."""
    services = _services(request)
    output = _format(fmt)
    listed = open311.services(services.taxonomy, _language(request))
    return _answer(output, open311.render_list(output, "services", "service", listed))


@router.get("/services/{code}.{fmt}")
async def service_definition(request: Request, code: str, fmt: str) -> Response:
    """No service asks for attributes: the definition is the code and an empty list."""
    services = _services(request)
    output = _format(fmt)
    body = open311.service_definition(services.taxonomy, code)
    return _answer(output, open311.render_object(output, "service_definition", body))


@router.post("/requests.{fmt}")
async def file_request(request: Request, fmt: str) -> Response:
    """Store the request, queue it, answer with a token (the case opens a moment later)."""
    output = _format(fmt)
    content_type = request.headers.get("content-type", FORM).split(";")[0].strip().lower()
    if content_type != FORM:
        raise Open311Error(400, f"send the request as {FORM}")
    try:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise Open311Error(400, "the form is not UTF-8") from None
    services: Services = request.app.state.services
    settings = services.settings
    keys = open311.api_keys(
        settings.open311_api_keys.get_secret_value() if settings.open311_api_keys else None
    )
    client = open311.client_of(form.get("api_key") or request.query_params.get("api_key"), keys)
    open311.check_jurisdiction(
        form.get("jurisdiction_id") or request.query_params.get("jurisdiction_id"),
        settings.open311_jurisdiction_id,
    )
    token = open311.new_token()
    intake = open311.Intake(services.taxonomy, settings.sms_default_region, client)
    message = open311.to_inbound(form, intake, now=services.now(), token=token)
    accepted = await accept(message, inbox=services.inbox, queue=services.queue)
    log.info("open311 request stored", extra={"inbound_id": accepted.id, "client": client})
    request_meta = message.meta[META_KEY]
    category = services.taxonomy.category(request_meta["service_code"])
    body = open311.filed_answer(
        token,
        notice=service_notice(category, _language(request, form)),
        account_id=request_meta["account_id"],
    )
    return _answer(output, open311.render_list(output, "service_requests", "request", body))


@router.get("/tokens/{token}.{fmt}")
async def token_status(request: Request, token: str, fmt: str) -> Response:
    """The case number of a filed request, once its case is open (null before)."""
    services = _services(request)
    output = _format(fmt)
    state = await services.open311.token(token) if len(token) <= 128 else None
    if state is None:
        raise Open311Error(404, "token not found")
    body = open311.token_answer(token, state.case_number)
    return _answer(output, open311.render_list(output, "service_requests", "request", body))


@router.get("/requests.{fmt}")
async def search_requests(request: Request, fmt: str) -> Response:
    """Open311 cases by number, or by service, date range (90 days at most) and status."""
    services = _services(request)
    output = _format(fmt)
    settings = services.settings
    query = open311.request_query(
        request.query_params, now=services.now(), timezone=settings.timezone
    )
    views = await find_requests(
        query,
        store=services.open311,
        taxonomy=services.taxonomy,
        language=_language(request),
        timezone=settings.timezone,
    )
    items = [open311.request_item(v) for v in views]
    return _answer(output, open311.render_list(output, "service_requests", "request", items))


@router.get("/requests/{number}.{fmt}")
async def one_request(request: Request, number: str, fmt: str) -> Response:
    """One Open311 case by its number (the service_request_id)."""
    services = _services(request)
    output = _format(fmt)
    views = await find_requests(
        RequestQuery(limit=1, numbers=(number,)),
        store=services.open311,
        taxonomy=services.taxonomy,
        language=_language(request),
        timezone=services.settings.timezone,
    )
    if not views:
        raise Open311Error(404, "service_request_id not found")
    items = [open311.request_item(v) for v in views]
    return _answer(output, open311.render_list(output, "service_requests", "request", items))


@router.get("/servicerequestupdates.{fmt}")
async def request_updates(request: Request, fmt: str) -> Response:
    """mySociety's extension: staff replies and status changes of Open311 cases."""
    services = _services(request)
    output = _format(fmt)
    settings = services.settings
    since, until = open311.parse_window(
        request.query_params, now=services.now(), timezone=settings.timezone, max_span=None
    )
    views = await find_updates(
        since=since,
        until=until,
        limit=open311.MAX_RESULTS,
        store=services.open311,
        language=_language(request),
        timezone=settings.timezone,
    )
    items = [open311.update_item(v) for v in views]
    return _answer(
        output, open311.render_list(output, "service_request_updates", "request_update", items)
    )
