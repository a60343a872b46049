"""A fake Twilio REST API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

Like Twilio it takes a form-encoded body (To, From, Body, StatusCallback, MediaUrl repeated),
requires HTTP basic auth with the account sid and auth token (401, error 20003, otherwise),
and answers 201 with a Message resource (sid ``SM`` + 32 hex, status ``queued``). Each accepted
request is recorded in ``messages``. ``fail_next(status, code=..., times=...)`` makes the next
requests fail with Twilio's error JSON (and an optional Retry-After header).

    async with running_fake_twilio() as fake:
        client = make_client(fake.account_sid, fake.auth_token, base_url=fake.url)
        ...
        assert fake.messages[0].body == "..."
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import math
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"

ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number is not a valid phone number.",
    21408: (
        "Permission to send an SMS has not been enabled for the region "
        "indicated by the 'To' number."
    ),
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}

# GSM 03.38: the basic set (one septet) and the extension set (two septets, escape + char).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def num_segments(body: str) -> int:
    """How many SMS segments Twilio would bill for ``body`` (GSM-7 or UCS-2)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        length = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        length = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)  # UTF-16 code units
        single, multi = 70, 67
    if length <= single:
        return 1
    return math.ceil(length / multi)


def twilio_date(when: datetime) -> str:
    """Twilio's RFC 2822 dates: ``Thu, 24 Aug 2023 05:01:45 +0000``."""
    return format_datetime(when.astimezone(UTC)).replace("-0000", "+0000")


def error_body(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass(frozen=True)
class RecordedMessage:
    sid: str
    account_sid: str
    to: str | None
    from_: str | None
    body: str | None
    status_callback: str | None
    media_urls: list[str]
    form: list[tuple[str, str]]  # every field as sent, in order
    headers: dict[str, str]


@dataclass
class _Failure:
    status: int
    code: int
    message: str | None
    retry_after: str | None
    remaining: int


@dataclass
class FakeTwilio:
    """The fake's state and its ASGI app (``app``); ``url`` is set once it is running."""

    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    url: str = ""
    messages: list[RecordedMessage] = field(default_factory=list)
    requests: int = 0  # every request to the Messages endpoint, accepted or not
    delay: float = 0.0  # seconds to wait before answering (to provoke client timeouts)
    _failures: list[_Failure] = field(default_factory=list)

    def fail_next(
        self,
        status: int,
        *,
        code: int | None = None,
        times: int = 1,
        message: str | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next ``times`` authenticated requests with this error (in order queued)."""
        self._failures.append(
            _Failure(
                status=status,
                code=code if code is not None else status,
                message=message,
                retry_after=None if retry_after is None else str(retry_after),
                remaining=times,
            )
        )

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json",
                    self._create_message,
                    methods=["POST"],
                )
            ]
        )

    def _authenticated(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        sid, _, token = decoded.partition(":")
        return secrets.compare_digest(sid, self.account_sid) and secrets.compare_digest(
            token, self.auth_token
        )

    def _next_failure(self) -> _Failure | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            self._failures.pop(0)
        return failure

    async def _create_message(self, request: Request) -> Response:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._authenticated(request):
            return JSONResponse(
                error_body(401, 20003),
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
        account_sid = request.path_params["account_sid"]
        if account_sid != self.account_sid:
            return JSONResponse(
                error_body(
                    404,
                    20404,
                    f"The requested resource /{API_VERSION}/Accounts/"
                    f"{account_sid}/Messages.json was not found",
                ),
                status_code=404,
            )
        failure = self._next_failure()
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            return JSONResponse(
                error_body(failure.status, failure.code, failure.message),
                status_code=failure.status,
                headers=headers,
            )

        form = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        fields: dict[str, str] = {}
        for key, value in form:
            fields.setdefault(key, value)
        media_urls = [value for key, value in form if key == "MediaUrl"]
        to, from_, body = fields.get("To"), fields.get("From"), fields.get("Body")
        if not to:
            return JSONResponse(error_body(400, 21604), status_code=400)
        if not from_ and not fields.get("MessagingServiceSid"):
            return JSONResponse(error_body(400, 21603), status_code=400)
        if not body and not media_urls and not fields.get("ContentSid"):
            return JSONResponse(error_body(400, 21602), status_code=400)

        sid = "SM" + secrets.token_hex(16)
        self.messages.append(
            RecordedMessage(
                sid=sid,
                account_sid=account_sid,
                to=to,
                from_=from_,
                body=body,
                status_callback=fields.get("StatusCallback"),
                media_urls=media_urls,
                form=form,
                headers=dict(request.headers),
            )
        )
        return JSONResponse(
            self._message_resource(sid, to, from_, body or "", media_urls, fields),
            status_code=201,
        )

    def _message_resource(
        self,
        sid: str,
        to: str,
        from_: str | None,
        body: str,
        media_urls: list[str],
        fields: dict[str, str],
    ) -> dict[str, Any]:
        now = twilio_date(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": fields.get("MessagingServiceSid"),
            "num_media": str(len(media_urls)),
            "num_segments": str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }


class _Server(uvicorn.Server):
    """uvicorn without signal handlers: Ctrl-C stays with pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def running_fake_twilio(
    *, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN
) -> AsyncIterator[FakeTwilio]:
    """Run a ``FakeTwilio`` with uvicorn on a free loopback port in the current event loop."""
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app, log_level="warning", lifespan="off", access_log=False, loop="none", ws="none"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
                raise RuntimeError("the fake Twilio server stopped during startup")
            await asyncio.sleep(0.01)
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=5)
        finally:
            sock.close()
