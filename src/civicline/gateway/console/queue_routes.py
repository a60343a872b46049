"""The reply queue and the triage queue: filters, search, live refresh, taking the next case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from civicline.domain.claims import QueueFilter, QueueKind
from civicline.domain.errors import DomainError
from civicline.domain.messages import Channel
from civicline.gateway.console.errors import error_page
from civicline.gateway.console.web import (
    PREFIX,
    Viewer,
    ViewerDep,
    checked_form,
    fragment,
    redirect,
    render,
    services_of,
)
from civicline.handlers import case_actions
from civicline.handlers.screens import QueueScreen, parse_search, queue_screen

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 50
CHANNELS = frozenset(c.value for c in Channel)
FILTER_FIELDS = ("department", "channel", "category", "urgent", "overdue", "q")


def _filter(kind: QueueKind, params: Mapping[str, str], who: Viewer) -> QueueFilter:
    channel = params.get("channel") or None
    search = parse_search(params.get("q", ""), who.user)
    try:
        offset = max(0, min(int(params.get("offset", "0")), 100_000))
    except ValueError:
        offset = 0
    return QueueFilter(
        kind=kind,
        urgent=params.get("urgent") == "1",
        overdue=params.get("overdue") == "1",
        number=search.number,
        text=search.text,
        phone=search.phone,
        limit=PAGE_SIZE,
        offset=offset,
        department=params.get("department") or None,
        category=params.get("category") or None,
        channel=channel if channel in CHANNELS else None,
    )


def _context(screen: QueueScreen, params: Mapping[str, str], kind: QueueKind) -> dict[str, Any]:
    kept = {k: params[k] for k in FILTER_FIELDS if params.get(k)}
    offset = screen.query.offset
    return {
        "screen": screen,
        "kind": kind.value,
        "filters": kept,
        "filter_query": urlencode(kept),
        "prev_offset": max(0, offset - PAGE_SIZE) if offset else None,
        "next_offset": offset + PAGE_SIZE if offset + PAGE_SIZE < screen.total else None,
        "urgent_waiting": sum(
            1 for r in screen.rows if (r.case.urgent or r.case.collective) and r.claim is None
        ),
        "channels": [c.value for c in Channel],
    }


async def _queue(request: Request, who: Viewer, kind: QueueKind) -> Response:
    services = services_of(request)
    params = dict(request.query_params)
    try:
        screen = await queue_screen(
            _filter(kind, params, who), user=who.user, uow=services.uow(), now=services.now()
        )
    except DomainError as exc:
        return error_page(request, who, exc)
    context = _context(screen, params, kind) | {"empty_take": params.get("empty") == "1"}
    return render(request, "console_queue.html", context, who=who)


@router.get("/queue", response_class=HTMLResponse)
async def reply_queue(request: Request, who: ViewerDep) -> Response:
    return await _queue(request, who, QueueKind.REPLY)


@router.get("/triage", response_class=HTMLResponse)
async def triage_queue(request: Request, who: ViewerDep) -> Response:
    return await _queue(request, who, QueueKind.TRIAGE)


@router.get("/live")
async def live(request: Request, who: ViewerDep) -> Response:
    """The queue's rows, rendered, for the page's script to swap in every few seconds."""
    services = services_of(request)
    params = dict(request.query_params)
    kind = QueueKind.TRIAGE if params.get("kind") == "triage" else QueueKind.REPLY
    try:
        screen = await queue_screen(
            _filter(kind, params, who), user=who.user, uow=services.uow(), now=services.now()
        )
    except DomainError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=403)
    context = _context(screen, params, kind)
    rows = fragment(request, "console_queue_rows.html", context, who=who)
    return JSONResponse(
        {
            "rows": rows,
            "numbers": [r.case.number for r in screen.rows],
            "total": screen.total,
            "overdue": screen.overdue,
            "urgent_waiting": context["urgent_waiting"],
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/queue/next")
async def take_next(request: Request, who: ViewerDep) -> Response:
    """Claim the first case of the (filtered) queue that nobody else holds, and open it."""
    services = services_of(request)
    form = await checked_form(request, who)
    kind = QueueKind.TRIAGE if form.get("kind") == "triage" else QueueKind.REPLY
    try:
        number = await case_actions.take_next(
            _filter(kind, form, who),
            user=who.user,
            uow=services.uow(),
            now=services.now(),
            ttl=timedelta(minutes=services.settings.console_claim_minutes),
        )
    except DomainError as exc:
        return error_page(request, who, exc)
    if number is None:
        kept = {k: form[k] for k in FILTER_FIELDS if form.get(k)} | {"empty": "1"}
        page = "triage" if kind == QueueKind.TRIAGE else "queue"
        return redirect(f"{PREFIX}/{page}?{urlencode(kept)}")
    return redirect(f"{PREFIX}/cases/{number}")
