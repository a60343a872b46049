"""Signing in and out of the console, and the language switch."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from civicline.gateway.auth import verify_password
from civicline.gateway.console.web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    ViewerDep,
    checked_form,
    login_csrf,
    login_token,
    read_form,
    redirect,
    render,
    safe_next,
    services_of,
    set_cookie,
    sign,
    tokens_match,
    unsign,
)
from civicline.handlers.sessions import sign_out, start_session
from civicline.handlers.signin import SignInRefused, authenticate

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def home() -> Response:
    return redirect(PREFIX + "/queue")


def _login_page(
    request: Request, *, refused: bool, next_url: str, status_code: int, username: str = ""
) -> Response:
    token, cookie = login_token(request)
    page = render(
        request,
        "console_login.html",
        {"refused": refused, "next": next_url, "login_csrf": token, "username": username[:64]},
        status_code=status_code,
    )
    if cookie is not None:
        set_cookie(request, page, LOGIN_COOKIE, cookie, 3600)
    return page


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, refused=False, next_url=safe_next(next), status_code=200)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request)
    key = services.settings.signing_key
    nonce = unsign(key, request.cookies.get(LOGIN_COOKIE))
    if nonce is None or not tokens_match(login_csrf(key, nonce), form.get("csrf")):
        raise HTTPException(403, "the sign-in form has expired: reload the page")
    settings = services.settings
    try:
        user = await authenticate(
            form.get("username", ""),
            form.get("password", "")[:200],
            client=request.client.host if request.client else None,
            uow_factory=services.uow,
            verify=verify_password,
            now=services.now(),
            policy=settings.lockout_policy,
        )
    except SignInRefused:
        return _login_page(
            request,
            refused=True,
            next_url=safe_next(form.get("next")),
            status_code=401,
            username=form.get("username", ""),
        )
    signed = await start_session(
        user,
        uow=services.uow(),
        now=services.now(),
        ttl=timedelta(seconds=settings.token_ttl_seconds),
    )
    response = redirect(safe_next(form.get("next")))
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        sign(key, signed.token),
        settings.token_ttl_seconds,
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, who: ViewerDep) -> Response:
    await checked_form(request, who)
    await sign_out(who.token, uow=services_of(request).uow())
    response = redirect(PREFIX + "/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang")
async def switch_language(request: Request, to: str = "zh", next: str | None = None) -> Response:
    """Only a display preference, so a plain link may change it."""
    response = redirect(safe_next(next))
    set_cookie(request, response, LANG_COOKIE, "en" if to == "en" else "zh", 365 * 24 * 3600)
    return response
