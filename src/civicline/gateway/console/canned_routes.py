"""Canned replies: everyone may read them on a case; admins edit them here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from civicline.domain.errors import DomainError
from civicline.gateway.bounds import row_id
from civicline.gateway.console.errors import error_page
from civicline.gateway.console.web import (
    PREFIX,
    ViewerDep,
    checked_form,
    redirect,
    render,
    services_of,
)
from civicline.handlers.canned import canned_replies, delete_canned_reply, save_canned_reply

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/canned", response_class=HTMLResponse)
async def canned_page(request: Request, who: ViewerDep) -> Response:
    replies = await canned_replies(uow=services_of(request).uow())
    return render(
        request,
        "console_canned.html",
        {"replies": replies, "editable": who.user.may_edit_canned_replies},
        who=who,
    )


@router.post("/canned")
async def save(request: Request, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    reply_id = row_id(form.get("id"))
    try:
        await save_canned_reply(
            reply_id=reply_id,
            category=form.get("category") or None,
            language=form.get("language", "zh"),
            title=form.get("title", ""),
            text=form.get("text", ""),
            user=who.user,
            uow=services.uow(),
            known_categories=set(services.taxonomy.categories),
            now=services.now(),
        )
    except DomainError as exc:
        return error_page(request, who, exc)
    return redirect(PREFIX + "/canned")


@router.post("/canned/{reply_id}/delete")
async def delete(
    request: Request, reply_id: Annotated[int, Path(ge=1)], who: ViewerDep
) -> Response:
    await checked_form(request, who)
    try:
        await delete_canned_reply(reply_id, user=who.user, uow=services_of(request).uow())
    except DomainError as exc:
        return error_page(request, who, exc)
    return redirect(PREFIX + "/canned")
