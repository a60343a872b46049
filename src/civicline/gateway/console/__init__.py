"""The staff console: server-rendered pages under /console (see ``web`` for sessions, CSRF and
security headers). ``install(app)`` mounts it."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from civicline.gateway.console import (
    auth_routes,
    canned_routes,
    case_routes,
    dashboard_routes,
    handing_routes,
    hotline_routes,
    letter_routes,
    queue_routes,
    unit_routes,
    visit_routes,
)
from civicline.gateway.console.web import PREFIX, ConsoleHeaders, SignInNeeded, redirect


def install(app: FastAPI) -> None:
    for module in (
        auth_routes,
        queue_routes,
        case_routes,
        handing_routes,
        canned_routes,
        dashboard_routes,
        hotline_routes,
        letter_routes,
        visit_routes,
        unit_routes,
    ):
        app.include_router(module.router)
    app.add_middleware(ConsoleHeaders)

    async def sign_in_needed(request: Request, _exc: Exception) -> Response:
        if request.method != "GET" or request.url.path.endswith(("/live", "/thread")):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")

    app.add_exception_handler(SignInNeeded, sign_in_needed)
