"""The web chat's public page, ``GET /`` (its JSON endpoints: ``api/webchat.py``; the channel:
``civicline.channels.webchat``), and the cookie that names the citizen's conversation."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from civicline.channels import webchat

templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
router = APIRouter()


def conversation_of(request: Request, response: Response | None = None) -> str:
    value = request.cookies.get(webchat.COOKIE)
    if webchat.valid_conversation_id(value):
        assert value is not None
        return value
    if response is None:
        raise HTTPException(404, "no conversation yet: open the chat page first")
    value = webchat.new_conversation_id()
    response.set_cookie(
        webchat.COOKIE,
        value,
        max_age=180 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return value


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(request: Request, lang: str = "zh") -> Response:
    response = templates.TemplateResponse(
        request,
        "webchat.html",
        {"lang": "en" if lang == "en" else "zh", "static_url": "/static"},
    )
    conversation_of(request, response)
    return response
