"""Fast lanes: the hot webhook paths' usual request answered before FastAPI routes it.

A lane takes the POSTs to one path, reads the body and asks its ``answer`` function, which
does the route's work for the usual request (valid, signed, within the limits) and returns the
route's answer, or None for anything else: that request goes on to the app with its body
untouched, so every refusal (422, 403, 404 …) is the route's own. Errors are answered as the
app's handlers answer them (``errors.error_response``: 503 when the database is away), or
raised to the server (500). Lanes sit inside ``BodyLimit`` (413 as before) and
``TrustedProxies``; in the intake's profile FastAPI's routing, dependency solving and
response model were about half of a web chat request's CPU (README, benchmarks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicline.gateway.errors import error_response

Answer = Callable[[Scope, bytes], Awaitable[Response | None]]


class FastLane:
    def __init__(self, app: ASGIApp, path: str, answer: Answer) -> None:
        self.app = app
        self.path = path
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = await read_body(receive)
        try:
            response = None if more else await self.answer(scope, body)
        except Exception as exc:
            response = error_response(scope, exc)
            if response is None:
                raise
        if response is None:
            await self.app(scope, replay(body, more, receive), send)
            return
        await response(scope, receive, send)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a (lower-case) request header."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether reading stopped before its end (a disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` for the app: the body read so far, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more}

    return replayed
