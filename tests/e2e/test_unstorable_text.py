"""Text no database can store (NUL, a lone surrogate) is refused at the edge with a clear 4xx
on every endpoint that takes text, and one such message in a batch never fails the others."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from civicline.domain.messages import Channel, InboundMessage
from civicline.storage.database import UnstorableText
from tests.support.gateway import PASSWORD, Gateway
from tests.support.polling import eventually

NUL = "路灯坏了\x00"
LONE = "路灯坏了\ud800"
# The bodies as a client would send them: JSON escapes, since neither can be raw in JSON.
NUL_JSON = "路灯坏了\\u0000"
LONE_JSON = "路灯坏了\\ud800"


def _json(template: str, text: str) -> bytes:
    return template.replace("TEXT", text).encode()


def _refused(answer: httpx.Response, *place: str | int) -> None:
    assert answer.status_code == 422, (answer.status_code, answer.text)
    [error] = answer.json()["detail"]
    assert error["loc"] == list(place), error
    assert "NUL" in error["msg"] or "surrogate" in error["msg"]
    assert "路灯" not in answer.text  # the text is not echoed back


@pytest.mark.parametrize("text", [NUL_JSON, LONE_JSON])
async def test_web_chat_refuses_unstorable_text(gateway: Gateway, text: str) -> None:
    async with gateway.citizen() as client:
        await client.get("/")
        answer = await client.post(
            "/api/v1/webchat/messages",
            content=_json('{"client_message_id": "m1", "text": "TEXT"}', text),
            headers={"content-type": "application/json"},
        )
        _refused(answer, "body", "text")
        # A valid pair of surrogates is one character (an emoji), and welcome.
        emoji = await client.post(
            "/api/v1/webchat/messages",
            content=b'{"client_message_id": "m2", "text": "\\ud83d\\ude00 \\u8def\\u706f"}',
            headers={"content-type": "application/json"},
        )
        assert emoji.status_code == 202, emoji.text
        stored = (await client.get("/api/v1/webchat/messages")).json()["messages"]
    assert [m["text"] for m in stored if m["direction"] == "inbound"] == ["😀 路灯"]


async def test_staff_and_operator_fields_and_usernames_are_refused(gateway: Gateway) -> None:
    boss = await gateway.staff("boss")
    json_type = {"content-type": "application/json"}
    for text in (NUL_JSON, LONE_JSON):
        username = _json('{"username": "TEXT", "password": "whatever1"}', text)
        answer = await boss.post("/api/v1/auth/token", content=username, headers=json_type)
        _refused(answer, "body", "username")
        reply = _json('{"text": "TEXT"}', text)
        answer = await boss.post(
            "/api/v1/cases/991231-00001/replies", content=reply, headers=json_type
        )
        _refused(answer, "body", "text")
        transcript = _json('{"call_id": "c1", "caller": "13912345678", "transcript": "TEXT"}', text)
        answer = await boss.post(
            "/api/v1/hotline/transcripts", content=transcript, headers=json_type
        )
        _refused(answer, "body", "transcript")
        nested = _json('{"ids": [1], "extra": {"deep": ["TEXT"]}}', text)
        answer = await boss.post("/api/v1/webchat/receipts", content=nested, headers=json_type)
        _refused(answer, "body", "extra", "deep", 0)
    _refused(await boss.get("/api/v1/cases", params={"department": NUL}), "query", "department")
    _refused(await boss.get("/api/v1/cases/261127-%00"), "path")
    # The console's sign-in form.
    async with gateway.citizen() as browser:
        answer = await browser.post(
            "/console/login", data={"username": f"li{NUL}", "password": PASSWORD, "csrf": "x"}
        )
    _refused(answer, "body", "username")


async def test_open311_refuses_unstorable_text_in_its_own_format(gateway: Gateway) -> None:
    async with gateway.citizen() as client:
        answer = await client.post(
            "/open311/v2/requests.json",
            data={"service_code": "street_lights", "description": NUL, "api_key": "k"},
        )
        found = await client.get("/open311/v2/requests.json", params={"service_code": NUL})
    for response in (answer, found):
        assert response.status_code == 400, response.text
        [error] = response.json()
        assert error["code"] == 400 and "NUL" in error["description"]


def _webchat(provider_id: str, text: str, gateway: Gateway) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WEBCHAT,
        provider_message_id=provider_id,
        sender_address="x" * 32,
        text=text,
        received_at=gateway.services.now(),
    )


async def test_one_unstorable_message_never_fails_29_concurrent_posts(gateway: Gateway) -> None:
    """29 citizens post at once while a message no database can store reaches the inbox
    writer behind the edge's back, into the same flush: the 29 are stored and answered 202."""
    batcher = gateway.services.inbox._batcher
    flushes: list[list[str]] = []
    flush = batcher._flush
    slow = asyncio.Event()

    async def held(pending: Sequence[Any]) -> Sequence[object]:
        ids = [p.message.provider_message_id for p in pending]
        flushes.append(ids)
        if any(i.startswith("hold") for i in ids):
            await slow.wait()  # a slow flush: everything else queues up behind it
        return await flush(pending)

    batcher._flush = held  # type: ignore[assignment]
    clients = [gateway.citizen() for _ in range(29)]
    await asyncio.gather(*(c.get("/") for c in clients))
    for round_ in range(2):
        flushes.clear()
        slow.clear()
        holder = asyncio.create_task(
            gateway.services.inbox.add(_webchat(f"hold{round_}", "等", gateway))
        )
        await eventually(lambda: asyncio.sleep(0, result=bool(flushes)))
        posts = [
            asyncio.create_task(
                c.post(
                    "/api/v1/webchat/messages",
                    json={"client_message_id": uuid.uuid4().hex, "text": f"第{round_}轮：路灯坏了"},
                )
            )
            for c in clients
        ]
        await eventually(lambda: asyncio.sleep(0, result=len(batcher._pending) == 29))
        poison = _webchat(f"poison-{round_}", (LONE, NUL)[round_], gateway)
        poisoned = asyncio.create_task(gateway.services.inbox.add(poison))
        await asyncio.sleep(0)
        slow.set()
        await holder
        with pytest.raises(UnstorableText):
            await poisoned
        assert [(await p).status_code for p in posts] == [202] * 29
        assert len(flushes[1]) == 30 and flushes[1][-1] == f"poison-{round_}"  # one flush
    async with gateway.services.uow() as uow:
        for client in clients:
            conversation = client.cookies["civicline_chat"]
            stored = await uow.inbox.conversation(Channel.WEBCHAT, conversation, limit=10)
            assert [m.text for m in stored] == [f"第{r}轮：路灯坏了" for r in range(2)]
    await asyncio.gather(*(c.aclose() for c in clients))


async def test_nothing_of_it_was_stored_as_json(gateway: Gateway) -> None:
    """The edge reads a body only to look for escapes: a body that is not JSON is left to
    the endpoint, which answers as it always did."""
    async with gateway.citizen() as client:
        await client.get("/")
        broken = await client.post(
            "/api/v1/webchat/messages",
            content=b'{"text": "\\u0000 oops',
            headers={"content-type": "application/json"},
        )
    assert broken.status_code == 422
    assert json.dumps(broken.json())  # FastAPI's own answer for bad JSON
