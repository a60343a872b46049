"""Clear 4xx answers for bad input and refused actions, 503 when the database connection is
lost; a body size limit; the error bodies as the OpenAPI document declares them.

Every JSON error is ``{"detail": ...}``: a sentence (a refused action, a rule no schema can
say: "a report spans at most 732 days"), or FastAPI's list of field problems. ``problems``
declares that shape for the statuses a route can answer, so a client (and schemathesis) finds
every status and body in the document."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicline.domain.errors import (
    AlreadyStored,
    Claimed,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from civicline.domain.visits import AlreadyBooked, Full
from civicline.storage.database import unreachable

log = logging.getLogger(__name__)

STATUS_FOR: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (IllegalTransition, 409),
    (NotAllowed, 403),
    (Claimed, 409),  # someone else is answering the case
    (AlreadyStored, 409),  # written at the same moment by another request
    (InvalidInput, 422),
    (Full, 409),  # no appointment left that day
    (AlreadyBooked, 409),  # the same phone or chat holds one there that day
]


class Issue(BaseModel):
    """One field's problem, as FastAPI reports validation errors."""

    model_config = ConfigDict(extra="allow")  # FastAPI adds input and ctx

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every JSON error body."""

    detail: str | list[Issue] = Field(description="what is wrong: a sentence, or per field")


MEANING = {
    400: "the request cannot be read",
    401: "sign in first (a bearer token), or the credentials are wrong",
    403: "not allowed to this user or client",
    404: "no such thing, or not visible to this user",
    409: "the case's state or someone else's claim refuses it, or the appointment is taken",
    413: "the request body is too large",
    422: "the input breaks a rule",
    429: "too many requests: wait (Retry-After when known)",
    503: "the database is unreachable just now: try again",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of routes that may answer these statuses with a Problem."""
    return {code: {"model": Problem, "description": MEANING[code]} for code in codes}


# What any request can meet: the body limit, the edge's refusal of unstorable text (in the
# path too), a lost database.
EVERY_REQUEST = problems(400, 413, 422, 503)


def status_for(exc: DomainError) -> int:
    """The status a refusal gets, in the API and on the console's pages alike."""
    return next((code for kind, code in STATUS_FOR if isinstance(exc, kind)), 400)


def error_response(scope: Scope, exc: Exception) -> JSONResponse | None:
    """The answer to a refused action or a lost database, or None for any other error (a
    bug: the server answers 500 and logs it)."""
    if isinstance(exc, DomainError):
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))
    if isinstance(exc, DBAPIError) and unreachable(exc):
        # A killed connection or a restarting database: nothing was stored, so try again.
        log.warning("database unreachable", extra={"path": scope["path"]})
        return JSONResponse(
            {"detail": "the database is unreachable just now: try again"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def domain_or_database_error(request: Request, exc: Exception) -> JSONResponse:
        answer = error_response(request.scope, exc)
        if answer is None:
            raise exc
        return answer

    async def http_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path only; the
            # path's other routes (GET and POST apart) are allowed too.
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_allowed(request))}
        return await http_exception_handler(request, exc)

    app.add_exception_handler(DomainError, domain_or_database_error)
    app.add_exception_handler(DBAPIError, domain_or_database_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> list[str]:
    """The methods some route takes at this path (asked of the routes, nested routers too)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether declared (Content-Length) or
    streamed (chunked): the app reading a streamed body past the limit gets an exception, and
    whatever it answers to that (FastAPI: 400, "error parsing the body") is replaced by 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads or {}  # paths that take files, and their own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        seen = 0
        too_large = False
        answered = False

        async def limited() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def unless_too_large(message: Message) -> None:
            nonlocal answered
            if too_large:
                return  # the app's answer to a body it could not read
            answered = True
            await send(message)

        try:
            await self.app(scope, limited, unless_too_large)
        except Exception:
            if not too_large:
                raise
        if too_large and not answered:
            await self._too_large(send, limit)

    async def _too_large(self, send: Send, limit: int) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {limit} bytes"}, status_code=413
        )
        await response({"type": "http"}, _empty_receive, send)


class _TooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
