"""Refusals as pages: the domain's errors with the status the JSON API gives them."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from civicline.domain.errors import DomainError
from civicline.gateway.console.web import Viewer, render
from civicline.gateway.errors import status_for

__all__ = ["error_page", "status_for"]


def error_page(request: Request, who: Viewer, exc: DomainError) -> HTMLResponse:
    code = status_for(exc)
    return render(
        request,
        "console_error.html",
        {"code": code, "message": str(exc)},
        who=who,
        status_code=code,
    )
