"""One case: its thread, history and claim; replies, lifecycle actions and triage placement.

Every change goes through ``handlers.case_actions`` with ``ClaimRule.REQUIRE``: the user claims the
case first, and the claim is renewed by each reply or action.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from civicline.bots.dialogue import FOLLOWUP_TEXTS
from civicline.domain.board import BoardAction
from civicline.domain.cases import AWAITING_TRIAGE, REPLYABLE, TRANSITIONS, CaseStatus
from civicline.domain.claims import ClaimRule
from civicline.domain.errors import DomainError, InvalidInput
from civicline.domain.governance import OUTCOME_NAMES, Outcome
from civicline.gateway import attachments
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import Index, RowId
from civicline.gateway.console.errors import error_page, status_for
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
from civicline.gateway.pages.board_cache import clear_board_cache
from civicline.handlers import board, case_actions, followup, handing, incident_review
from civicline.handlers.canned import canned_text
from civicline.handlers.screens import CaseScreen, case_screen
from civicline.storage.queue import queue_deliveries

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, include_in_schema=False)

NumberPath = Annotated[str, Path(pattern=r"^\d{6}-\d{5,}$")]

# Which action buttons a status offers: an action shows when the lifecycle allows its target.
ACTION_TARGETS: dict[case_actions.Action, CaseStatus] = {
    case_actions.Action.ACCEPT: CaseStatus.ACCEPTED,
    case_actions.Action.FORWARD: CaseStatus.FORWARDED,
    case_actions.Action.RETURN: CaseStatus.RETURNED,
    case_actions.Action.MERGE: CaseStatus.MERGED,
    case_actions.Action.CLOSE: CaseStatus.CLOSED,
    case_actions.Action.REOPEN: CaseStatus.REOPENED,
    case_actions.Action.REJECT: CaseStatus.REJECTED,
}


def _timeline(screen: CaseScreen) -> list[dict[str, Any]]:
    """Citizen messages and replies interleaved by time."""
    items: list[dict[str, Any]] = [
        {"direction": "inbound", "at": m.received_at, "message": m} for m in screen.thread.inbound
    ]
    items += [
        {"direction": "outbound", "at": m.created_at, "message": m} for m in screen.thread.outbound
    ]
    return sorted(items, key=lambda item: item["at"])


def _context(request: Request, screen: CaseScreen) -> dict[str, Any]:
    status = screen.case.status
    return {
        "screen": screen,
        "case": screen.case,
        "timeline": _timeline(screen),
        "actions": [
            a.value for a, target in ACTION_TARGETS.items() if target in TRANSITIONS[status]
        ],
        "replyable": status in REPLYABLE,
        "in_triage": status in AWAITING_TRIAGE,
        "attachment_kinds": attachments.TELEGRAM_KINDS,
        "outcomes": [(str(code), names) for code, names in OUTCOME_NAMES.items()],
    }


async def page(
    request: Request, who: Viewer, number: str, *, error: str | None = None, status: int = 200
) -> Response:
    services = services_of(request)
    try:
        screen = await case_screen(number, user=who.user, uow=services.uow(), now=services.now())
    except DomainError as exc:
        return error_page(request, who, exc)
    context = _context(request, screen) | {"error": error, "handing": None}
    if services.taxonomy.units is not None:
        context["handing"] = await handing.handing_view(
            screen.case,
            user=who.user,
            uow=services.uow(),
            tree=services.taxonomy.units,
            taxonomy=services.taxonomy,
            now=services.now(),
        )
    return render(request, "console_case.html", context, who=who, status_code=status)


@router.get("/cases/{number}", response_class=HTMLResponse)
async def case_page(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    return await page(request, who, number)


@router.get("/cases/{number}/thread", response_class=HTMLResponse)
async def case_thread_fragment(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    """The thread alone, for the page's script: delivery states change without a reload."""
    services = services_of(request)
    try:
        screen = await case_screen(number, user=who.user, uow=services.uow(), now=services.now())
    except DomainError as exc:
        return HTMLResponse(str(exc), status_code=status_for(exc))
    html = fragment(request, "console_thread.html", _context(request, screen), who=who)
    return HTMLResponse(html)


def _ttl(services: Services) -> timedelta:
    return timedelta(minutes=services.settings.console_claim_minutes)


@router.post("/cases/{number}/claim")
async def claim(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    services = services_of(request)
    await checked_form(request, who)
    try:
        await case_actions.claim_case(
            number, user=who.user, uow=services.uow(), now=services.now(), ttl=_ttl(services)
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/cases/{number}")


@router.post("/cases/{number}/release")
async def release(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    services = services_of(request)
    await checked_form(request, who)
    try:
        await case_actions.release_case(number, user=who.user, uow=services.uow())
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/queue")


@router.post("/cases/{number}/reply")
async def reply(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        text = await canned_text(form.get("text", ""), form.get("canned"), uow=services.uow())
        reply = await case_actions.reply_to_all(
            number,
            text,
            user=who.user,
            uow=services.uow(),
            now=services.now(),
            claim=ClaimRule.REQUIRE,
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    await queue_deliveries(services.queue, reply.ids())
    return redirect(f"{PREFIX}/cases/{number}")


@router.post("/cases/{number}/act")
async def act(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        try:
            action = case_actions.Action(form.get("action", ""))
        except ValueError:
            raise InvalidInput("unknown action") from None
        case = await case_actions.act(
            number,
            case_actions.ActionRequest(
                action,
                reason=form.get("reason", "").strip()[:2000] or None,
                department=form.get("department") or None,
                into=form.get("into", "").strip() or None,
                outcome=_outcome(form.get("outcome")),
                legal_matter=form.get("legal_matter") == "on",
            ),
            user=who.user,
            uow=services.uow(),
            taxonomy=services.taxonomy,
            now=services.now(),
            claim=ClaimRule.REQUIRE,
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    if action == case_actions.Action.CLOSE:
        sent = await followup.after_close(
            case.number, uow_factory=services.uow, now=services.now(), texts=FOLLOWUP_TEXTS
        )
        await queue_deliveries(services.queue, sent)
    return redirect(f"{PREFIX}/cases/{number}")


@router.post("/cases/{number}/suggestions/{suggestion_id}/{decision}")
async def decide(
    request: Request,
    number: NumberPath,
    suggestion_id: RowId,
    decision: Literal["confirm", "dismiss"],
    who: ViewerDep,
) -> Response:
    """One incident (the report joins the incident's case) or two events (it stays its
    citizen's own); shown on either case's page."""
    services = services_of(request)
    await checked_form(request, who)
    act = incident_review.confirm if decision == "confirm" else incident_review.dismiss
    try:
        await act(suggestion_id, user=who.user, uow=services.uow(), now=services.now())
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/cases/{number}")


@router.post("/cases/{number}/unmerge")
async def unmerge(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    """Undo a wrong merge: the case is its citizen's own again."""
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        await incident_review.unmerge(
            number,
            form.get("reason", ""),
            user=who.user,
            uow=services.uow(),
            now=services.now(),
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/cases/{number}")


@router.post("/cases/{number}/publication")
async def publication(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    """The public board: withhold the case (with a reason), release it, or approve it."""
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        action = BoardAction(form.get("action", ""))
    except ValueError:
        exc = InvalidInput("unknown board action")
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    try:
        await board.decide(
            number,
            action,
            form.get("reason"),
            user=who.user,
            uow=services.uow(),
            now=services.now(),
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    clear_board_cache(request)
    return redirect(f"{PREFIX}/cases/{number}")


def _outcome(value: str | None) -> Outcome | None:
    try:
        return Outcome(value) if value else None
    except ValueError:
        raise InvalidInput("unknown outcome") from None


@router.post("/cases/{number}/place")
async def place(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    """Triage: the category (and department) staff choose; kept as NLU training data."""
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        await case_actions.place_case(
            number,
            form.get("category", ""),
            department=form.get("department") or None,
            user=who.user,
            uow=services.uow(),
            taxonomy=services.taxonomy,
            now=services.now(),
            corrections=services.corrections,
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/cases/{number}")


@router.get("/cases/{number}/attachments/{message_id}/{index}")
async def attachment(
    request: Request,
    number: NumberPath,
    message_id: RowId,
    index: Index,
    who: ViewerDep,
) -> Response:
    """A stored attachment (a Telegram photo or document), through the API's attachment
    route with the console's user: the same access rule as the case."""
    try:
        return await attachments.serve_attachment(
            number, message_id, index, who.user, services_of(request)
        )
    except DomainError as exc:
        return HTMLResponse(str(exc), status_code=status_for(exc))
