"""The SMS webhook's fast lane (gateway/webhooks/sms.py): the usual signed SMS is stored and
answered with the route's TwiML without FastAPI's route; anything else reaches the route with
its body untouched (which refuses it as before)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send
from twilio.request_validator import RequestValidator

from civicline.domain.messages import Channel
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import Services
from civicline.gateway.webhooks.sms import TwilioSmsFastLane
from tests.support.places import Places

PATH = "/webhooks/twilio/sms"
BASE = "https://civic.example.gov"
TOKEN = "f" * 32
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
SENDER = "+8613912345678"


@pytest.fixture
async def sms_services(places: Places) -> AsyncIterator[Services]:
    async with places.services(
        public_base_url=BASE,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=TOKEN,
        twilio_from_number="+14155550100",
        twilio_api_base_url="http://127.0.0.1:9",
    ) as services:
        yield services


def _form(**changes: str) -> dict[str, str]:
    params: dict[str, str] = json.loads((FIXTURES / "inbound_sms_zh.json").read_text("utf-8"))
    params.update({"From": SENDER, "MessageSid": "SMlane1"}, **changes)
    return params


def _signed(params: dict[str, str], url: str = BASE + PATH) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, params))


class Route:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _through_lane(
    services: Services, body: bytes, signature: str | None, query: bytes = b""
) -> tuple[Route, int, bytes]:
    route = Route()
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    if signature is not None:
        headers.append((b"x-twilio-signature", signature.encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "query_string": query,
        "headers": headers,
        "app": SimpleNamespace(state=SimpleNamespace(services=services)),
    }
    incoming: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await TwilioSmsFastLane(route)(scope, receive, send)
    return route, sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _stored(services: Services) -> list[str]:
    async with services.uow() as uow:
        found = await uow.inbox.conversation(Channel.SMS, SENDER, limit=10)
    return [m.provider_message_id for m in found]


async def test_a_signed_sms_is_stored_and_answered_by_the_lane(sms_services: Services) -> None:
    params = _form()
    route, status, body = await _through_lane(
        sms_services, urlencode(params).encode(), _signed(params)
    )
    assert route.bodies == []
    assert (status, body) == (200, b'<?xml version="1.0" encoding="UTF-8"?><Response/>')
    route, status, _ = await _through_lane(
        sms_services, urlencode(params).encode(), _signed(params)
    )
    assert route.bodies == [] and status == 200  # a redelivery: still one row
    assert await _stored(sms_services) == ["SMlane1"]


@pytest.mark.parametrize(
    ("case", "params", "signature", "query"),
    [
        ("unsigned", _form(), None, b""),
        ("signed for another form", _form(), _signed(_form(Body="别的")), b""),
        ("a query string", _form(), _signed(_form(), BASE + PATH + "?x=1"), b"x=1"),
        ("a short code", _form(From="10086"), _signed(_form(From="10086")), b""),
        ("no MessageSid", _form(MessageSid=""), _signed(_form(MessageSid="")), b""),
    ],
)
async def test_anything_else_reaches_the_route(
    sms_services: Services,
    case: str,
    params: dict[str, str],
    signature: str | None,
    query: bytes,
) -> None:
    body = urlencode(params).encode()
    route, status, _ = await _through_lane(sms_services, body, signature, query)
    assert (route.bodies, status) == ([body], 299), case
    async with sms_services.uow() as uow:
        assert await uow.inbox.conversation(Channel.SMS, SENDER, limit=10) == []


async def test_the_lane_and_the_route_answer_alike(sms_services: Services) -> None:
    app = create_app(sms_services.settings, sms_services)
    app.state.services = sms_services
    transport = httpx.ASGITransport(app=app)
    first, second = _form(MessageSid="SMlaneA"), _form(MessageSid="SMlaneB")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        lane = await client.post(PATH, data=first, headers={"X-Twilio-Signature": _signed(first)})
        # Signed with a query string, the same kind of request goes to FastAPI's route.
        route = await client.post(
            PATH + "?via=route",
            data=second,
            headers={"X-Twilio-Signature": _signed(second, BASE + PATH + "?via=route")},
        )
        forged = await client.post(PATH, data=first, headers={"X-Twilio-Signature": "forged"})
    assert (lane.status_code, route.status_code, forged.status_code) == (200, 200, 403)
    assert lane.headers.items() == route.headers.items()
    assert lane.content == route.content
    assert sorted(await _stored(sms_services)) == ["SMlaneA", "SMlaneB"]
