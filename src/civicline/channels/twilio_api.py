"""Twilio REST plumbing shared by the SMS channel (and later the voice line).

Not a channel itself: no webhook path of its own. It holds
* the asynchronous Twilio client (``make_client`` / ``close_client``), talking to
  ``https://api.twilio.com`` or, when ``twilio_api_base_url`` is set, to another base URL
  (a local fake Twilio server in tests, or an egress proxy);
* ``send_sms`` (Messages API, ``create_async``: never a blocking call);
* ``classify_error``: a Twilio or network failure as a ``SendError`` (permanent or transient),
  whose reason holds the HTTP status and Twilio error code but never a phone number or text;
* ``verify_signature`` / ``public_url``: checking ``X-Twilio-Signature`` on inbound webhooks
  against the public URL Twilio called.

Settings: ``twilio_account_sid``, ``twilio_auth_token``, ``twilio_api_base_url``,
``public_base_url``.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import hmac
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import (
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from civicline.handlers.ports import SendError

TWILIO_API = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0

# Twilio error codes worth naming in a failure reason (https://www.twilio.com/docs/api/errors).
ERROR_LABELS: dict[int, str] = {
    20003: "authentication failed",
    20404: "resource not found",
    20429: "too many requests",
    21211: "invalid To number",
    21408: "region not enabled",
    21606: "From number cannot send to this destination",
    21608: "trial account: To number not verified",
    21610: "recipient replied STOP",
    21612: "cannot route to this number",
    21614: "not a mobile number",
    30007: "carrier filtered",
}
TRANSIENT_STATUSES = frozenset({408, 429})

# Twilio's exceptions do not carry the response headers, so the http client notes the
# Retry-After of the last response here (per task) and send_sms attaches it to the exception.
_last_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "civicline_twilio_retry_after", default=None
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _is_twilio_api(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme == "https" and (
        host == "api.twilio.com" or (host.startswith("api.") and host.endswith(".twilio.com"))
    )


class RewritingHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's aiohttp client, optionally sending ``https://api.twilio.com`` calls elsewhere.

    With ``base_url`` (e.g. ``http://127.0.0.1:8765``) every request to the Twilio REST API
    host (also its edge/region forms ``api.<edge>.<region>.twilio.com``) goes to that base,
    path and query unchanged. Without it, requests are unchanged.

    ``timeout`` (seconds) applies to each whole request unless the caller passes its own;
    twilio's async client would otherwise send requests with no timeout at all.
    The aiohttp session is opened on first use (inside the running loop), so the client may be
    built outside a loop; ``close()`` closes it and the client cannot be used afterwards.
    """

    session: aiohttp.ClientSession | None

    def __init__(self, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None
        self._closed = False

    def rewrite(self, url: str) -> str:
        if self.base_url is None or not _is_twilio_api(url):
            return url
        parts = urlsplit(url)
        return self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (twilio's signature)
        allow_redirects: bool = False,
    ) -> Any:
        if self._closed:
            raise RuntimeError("the Twilio http client is closed")
        if self.session is None:
            self.session = aiohttp.ClientSession()
        _last_retry_after.set(None)
        if auth is not None:
            # aiohttp deprecates its BasicAuth helper: send the header ourselves.
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {credentials}"}
            auth = None
        response: Response = await super().request(
            method,
            self.rewrite(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        if response.status_code >= 400 and response.headers is not None:
            _last_retry_after.set(parse_retry_after(response.headers.get("Retry-After")))
        return response

    async def close(self) -> None:
        self._closed = True
        session, self.session = self.session, None
        if session is not None:
            await session.close()


def make_client(
    account_sid: str,
    auth_token: str,
    *,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Client:
    """The Twilio REST client on aiohttp. Create it once per process (in the app lifespan)
    and close it on shutdown with ``await close_client(client)``.

    ``base_url`` replaces ``https://api.twilio.com`` (settings: ``twilio_api_base_url``).
    No I/O happens here; the connection pool opens on the first request.
    """
    if not account_sid or not auth_token:
        raise ValueError("a Twilio account sid and auth token are required")
    http_client = RewritingHttpClient(base_url=base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


async def close_client(client: Client) -> None:
    """Close the client's aiohttp session (idempotent)."""
    http_client = client.http_client
    if isinstance(http_client, RewritingHttpClient):
        await http_client.close()


async def send_sms(
    client: Client,
    *,
    to: str,
    from_: str,
    body: str,
    status_callback: str | None,
    media_urls: list[str] | None = None,
) -> tuple[str, str]:
    """Send one message; return Twilio's message sid and its status (normally ``queued``).

    Raises what the client raises (``TwilioRestException``, aiohttp / timeout / OS errors):
    turn it into a ``SendError`` with ``classify_error``.
    """
    try:
        message = await client.messages.create_async(
            to=to,
            from_=from_,
            body=body,
            status_callback=status_callback if status_callback else values.unset,
            media_url=list(media_urls) if media_urls else values.unset,
        )
    except (TwilioRestException, TwilioServiceException) as exc:
        exc.retry_after = _last_retry_after.get()
        raise
    sid = message.sid
    if not sid:
        raise RuntimeError("Twilio answered without a message sid")
    return str(sid), str(message.status or "queued")


def _rest_error(status: int, code: int | None, retry_after: float | None) -> SendError:
    label = ERROR_LABELS.get(code) if code is not None else None
    reason = f"twilio HTTP {status}"
    if code is not None and code != status:
        reason += f" error {code}"
    if label:
        reason += f" ({label})"
    transient = status in TRANSIENT_STATUSES or status >= 500
    return SendError(
        reason, permanent=not transient, retry_after=retry_after if transient else None
    )


def classify_error(exc: Exception) -> SendError:
    """A failed send as a ``SendError``.

    429, 408, 5xx and network errors are transient (``retry_after`` from a Retry-After header
    when Twilio sent one); other 4xx are permanent (bad number, STOP, region, credentials).
    The reason names the HTTP status and Twilio error code only: Twilio's own message text can
    quote the phone number, so it is never copied.
    """
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        status = exc.status if isinstance(exc.status, int) else 0
        code = exc.code if isinstance(exc.code, int) else None
        retry_after = getattr(exc, "retry_after", None)
        return _rest_error(
            status, code, retry_after if isinstance(retry_after, (int, float)) else None
        )
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return SendError("twilio request timed out", permanent=False)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return SendError(f"twilio unreachable ({type(exc).__name__})", permanent=False)
    return SendError(f"twilio send failed ({type(exc).__name__})", permanent=False)


def public_url(base_url: str, path: str, query: str) -> str:
    """The URL Twilio called (and signed): the configured public base URL + path + query.

    Behind a proxy the scheme and host the app sees are not the ones Twilio used, so the
    URL is always rebuilt from ``public_base_url``; ``query`` is the raw query string.
    """
    if path and not path.startswith("/"):
        path = "/" + path
    return base_url.rstrip("/") + path + (f"?{query}" if query else "")


def verify_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``X-Twilio-Signature`` matches the URL and the POSTed form parameters."""
    if not signature or not auth_token:
        return False
    # One HMAC for the usual case; the SDK's full check (the URL with and without its port,
    # since Twilio has signed both ways) only when that does not match.
    if hmac.compare_digest(compute_signature(auth_token, url, params), signature):
        return True
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The SDK's ``RequestValidator.compute_signature`` for a form of single values, without
    building a validator a request: base64 HMAC-SHA1 of the URL followed by each parameter's
    name and value, by name."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
