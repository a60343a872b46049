"""Refusals as pages: the domain's errors with the status the JSON API gives them."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from civicline.domain.errors import (
    Claimed,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from civicline.gateway.console.web import Viewer, render


def status_for(exc: DomainError) -> int:
    for kind, code in (
        (NotFound, 404),
        (NotAllowed, 403),
        (IllegalTransition, 409),
        (Claimed, 409),
        (InvalidInput, 422),
    ):
        if isinstance(exc, kind):
            return code
    return 400


def error_page(request: Request, who: Viewer, exc: DomainError) -> HTMLResponse:
    code = status_for(exc)
    return render(
        request,
        "console_error.html",
        {"code": code, "message": str(exc)},
        who=who,
        status_code=code,
    )
