"""The console's plumbing: signed session cookies, CSRF tokens, form bodies, security headers
and rendering.

* The session cookie holds a random token and its HMAC (the app's signing key); the database
  holds only the token's sha-256 (``console_sessions``), so signing out ends it for good.
  HttpOnly, SameSite=Lax, Secure when the request came over https.
* Every POST carries the session's CSRF token in a hidden ``csrf`` field, compared in constant
  time. The sign-in form, before any session, carries an HMAC of a random nonce kept in its
  own cookie (double submit).
* Console pages get a strict Content-Security-Policy (``default-src 'self'``: no inline
  script or style, no CDN), X-Frame-Options DENY and ``Cache-Control: no-store``: they hold
  citizens' words.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicline.domain.accounts import StaffUser
from civicline.domain.claims import ConsoleSession
from civicline.gateway.bootstrap import Services
from civicline.gateway.console.texts import LANGUAGES, translator
from civicline.handlers.sessions import session_user

PREFIX = "/console"
SESSION_COOKIE = "civicline_console"
LOGIN_COOKIE = "civicline_console_login"
LANG_COOKIE = "civicline_console_lang"
MAX_FORM_FIELDS = 50

templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
assert templates.env.autoescape, "citizen text must always be escaped"

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class ConsoleHeaders:
    """Adds the security headers to every answer under /console (pure ASGI: the webhook hot
    path pays one string comparison)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


# Cookies and tokens -------------------------------------------------------------------------


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(key: bytes, value: str) -> str:
    return f"{value}.{_mac(key, 'console-session', value)}"


def unsign(key: bytes, signed: str | None) -> str | None:
    """The value of a cookie we signed, or None when it is missing or tampered with."""
    if not signed or "." not in signed:
        return None
    value, mac = signed.rsplit(".", 1)
    return value if hmac.compare_digest(mac, _mac(key, "console-session", value)) else None


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def login_csrf(key: bytes, nonce: str) -> str:
    return _mac(key, "console-login", nonce)


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def login_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's CSRF token, and the signed nonce cookie to set when there was none."""
    key = services_of(request).settings.signing_key
    nonce = unsign(key, request.cookies.get(LOGIN_COOKIE))
    if nonce is not None:
        return login_csrf(key, nonce), None
    nonce = secrets.token_urlsafe(24)
    return login_csrf(key, nonce), sign(key, nonce)


# Requests -----------------------------------------------------------------------------------


class SignInNeeded(Exception):
    """No live session: pages redirect to the sign-in form, JSON answers 401."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    return lang if lang in LANGUAGES else "zh"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of this request, with the session's CSRF token."""

    user: StaffUser
    session: ConsoleSession
    token: str
    lang: str

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


async def viewer(request: Request) -> Viewer:
    services = services_of(request)
    token = unsign(services.settings.signing_key, request.cookies.get(SESSION_COOKIE))
    found = (
        None if token is None else await session_user(token, uow=services.uow(), now=services.now())
    )
    if found is None:
        raise SignInNeeded()
    session, user = found
    assert token is not None
    return Viewer(user=user, session=session, token=token, lang=language(request))


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the console's forms) as a dict."""
    body = await request.body()
    if not body:
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "unreadable form") from None
    return dict(pairs)


async def checked_form(request: Request, who: Viewer) -> dict[str, str]:
    """The form of a POST whose CSRF token is the session's; 403 otherwise."""
    form = await read_form(request)
    if not tokens_match(who.csrf, form.get("csrf")):
        raise HTTPException(403, "the form has expired: reload the page and try again")
    return form


def _base_context(request: Request, who: Viewer | None) -> dict[str, Any]:
    services = services_of(request)
    lang = who.lang if who else language(request)
    tz = services.settings.timezone

    def when(value: datetime | None, with_date: bool = True) -> str:
        if value is None:
            return ""
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")

    query = f"?{request.url.query}" if request.url.query else ""
    return {
        "request": request,
        "lang": lang,
        "t": translator(lang),
        "who": who,
        "csrf": who.csrf if who else None,
        "when": when,
        "taxonomy": services.taxonomy,
        "path": request.url.path,
        "here": quote(request.url.path + query, safe=""),
        "poll_seconds": services.settings.console_poll_seconds,
    }


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    who: Viewer | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, _base_context(request, who) | context, status_code=status_code
    )


def fragment(request: Request, name: str, context: dict[str, Any], *, who: Viewer) -> str:
    """A template rendered to a string (autoescaped like the pages), for live updates."""
    return templates.get_template(name).render(_base_context(request, who) | context)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/queue"
