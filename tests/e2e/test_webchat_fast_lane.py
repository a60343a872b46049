"""The web chat's fast lane (gateway/api/webchat.py): the usual message is stored, queued and
answered without FastAPI's route, with the route's bytes; anything else reaches the route with
its body untouched."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from civicline.domain.messages import Channel
from civicline.gateway.api.webchat import WebchatFastLane
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import Services

PATH = "/api/v1/webchat/messages"
CONVERSATION = "lane" + "x" * 28
TEXT = "幸福路的路灯坏了一个星期"


class Route:
    """Stands for the app behind the lane: records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _through_lane(
    services: Services,
    body: bytes,
    *,
    cookie: str | None = CONVERSATION,
    content_type: bytes = b"application/json",
    query: bytes = b"",
    chunks: int = 1,
) -> tuple[Route, int, dict[bytes, bytes], bytes]:
    route = Route()
    lane = WebchatFastLane(route, path=PATH)
    headers = [(b"content-type", content_type)]
    if cookie is not None:
        headers.append((b"cookie", f"theme=dark; civicline_chat={cookie}".encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": PATH,
        "query_string": query,
        "headers": headers,
        "app": SimpleNamespace(state=SimpleNamespace(services=services)),
    }
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    incoming: list[Message] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await lane(scope, receive, send)
    start, *rest = sent
    return route, start["status"], dict(start["headers"]), b"".join(m["body"] for m in rest)


def _body(**fields: Any) -> bytes:
    return json.dumps({"client_message_id": "m-1", "text": TEXT} | fields).encode()


async def test_the_usual_message_is_stored_and_answered_by_the_lane(services: Services) -> None:
    route, status, headers, body = await _through_lane(services, _body(), chunks=3)
    assert route.bodies == []
    assert status == 202
    assert headers == {
        b"content-length": str(len(body)).encode(),
        b"content-type": b"application/json",
    }
    answer = json.loads(body)
    assert answer["duplicate"] is False
    async with services.uow() as uow:
        stored = await uow.inbox.conversation(Channel.WEBCHAT, CONVERSATION, limit=10)
    assert [(m.id, m.text, m.provider_message_id) for m in stored] == [
        (answer["message_id"], TEXT, f"{CONVERSATION}:m-1")
    ]

    route, status, _, again = await _through_lane(services, _body())
    assert route.bodies == [] and status == 200
    assert json.loads(again) == {"message_id": answer["message_id"], "duplicate": True}


@pytest.mark.parametrize(
    ("case", "body", "options"),
    [
        ("no cookie", _body(), {"cookie": None}),
        ("a cookie that is no conversation", _body(), {"cookie": "short"}),
        ("a query string", _body(), {"query": b"x=1"}),
        ("a form", b"client_message_id=m-1&text=hi", {"content_type": b"text/plain"}),
        ("JSON with a charset", _body(), {"content_type": b"application/json; charset=utf-8"}),
        ("a NUL escape", _body(text="路灯\\u0000坏了").replace(b"\\\\", b"\\"), {}),
        ("a lone surrogate", _body(text="\\ud800").replace(b"\\\\", b"\\"), {}),
        ("not JSON", b"{not json", {}),
        ("a bad message id", _body(client_message_id="a b"), {}),
        ("no text", json.dumps({"client_message_id": "m-1"}).encode(), {}),
        ("blank text", _body(text="   "), {}),
        ("text over the limit", _body(text="路" * 4001), {}),
    ],
)
async def test_anything_else_reaches_the_route_with_its_body(
    services: Services, case: str, body: bytes, options: dict[str, Any]
) -> None:
    route, status, _, _ = await _through_lane(services, body, chunks=2, **options)
    assert route.bodies == [body], case
    assert status == 299
    async with services.uow() as uow:
        assert await uow.inbox.conversation(Channel.WEBCHAT, CONVERSATION, limit=10) == []


async def test_the_lane_and_the_route_answer_alike(services: Services) -> None:
    app = create_app(services.settings, services)
    app.state.services = services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.cookies.set("civicline_chat", CONVERSATION)
        lane = await client.post(PATH, json={"client_message_id": "a", "text": TEXT})
        # A query string sends the same kind of request to FastAPI's route.
        route = await client.post(
            PATH + "?via=route", json={"client_message_id": "b", "text": TEXT}
        )
        replayed = await client.post(
            PATH + "?via=route", json={"client_message_id": "a", "text": TEXT}
        )
    assert (lane.status_code, route.status_code, replayed.status_code) == (202, 202, 200)
    assert lane.headers.items() == route.headers.items()
    assert route.json() == {"message_id": lane.json()["message_id"] + 1, "duplicate": False}
    assert replayed.json() == {"message_id": lane.json()["message_id"], "duplicate": True}
