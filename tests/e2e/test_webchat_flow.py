"""End to end over HTTP: a citizen's web chat message becomes a case, staff answer it, the
answer reaches the citizen's page and ends delivered."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.gateway import Gateway
from tests.support.polling import eventually


async def _open_chat(gateway: Gateway) -> httpx.AsyncClient:
    client = gateway.citizen()
    page = await client.get("/")
    assert page.status_code == 200 and "webchat.js" in page.text
    assert "civicline_chat" in client.cookies
    return client


async def _say(
    client: httpx.AsyncClient, text: str, message_id: str | None = None
) -> httpx.Response:
    return await client.post(
        "/api/v1/webchat/messages",
        json={"client_message_id": message_id or uuid.uuid4().hex, "text": text},
    )


async def _messages(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/webchat/messages")
    assert answer.status_code == 200
    return list(answer.json()["messages"])


async def _bot_reply(client: httpx.AsyncClient, count: int = 1) -> list[dict[str, Any]]:
    async def replies() -> list[dict[str, Any]]:
        out = [m for m in await _messages(client) if m["direction"] == "outbound"]
        return out if len(out) >= count else []

    return await eventually(replies)


async def test_complaint_to_case_to_answer_delivered(gateway: Gateway) -> None:
    citizen = await _open_chat(gateway)
    sent = await _say(
        citizen, "幸福路88号小区门口的路灯坏了一个星期了，晚上一片漆黑，老人出门很危险"
    )
    assert sent.status_code == 202, sent.text

    [ack] = await _bot_reply(citizen)
    number = ack["case_number"]
    assert number and number in ack["text"]
    assert ack["status"] == "sent"

    boss = await gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert case["category"] == "urban_rural_construction"
    assert case["department"] == "housing_construction"
    assert case["status"] == "assigned"
    assert case["classified_by"] == "local"

    clerk = await gateway.staff("li")
    queue = (await clerk.get("/api/v1/cases")).json()
    assert number in [c["number"] for c in queue]
    reply = await clerk.post(
        f"/api/v1/cases/{number}/replies", json={"text": "已安排维修人员今天更换路灯。"}
    )
    assert reply.status_code == 202, reply.text
    outbound_id = reply.json()["outbound_id"]

    replies = await _bot_reply(citizen, count=2)
    answer = replies[-1]
    assert answer["id"] == f"out-{outbound_id}" and answer["text"] == "已安排维修人员今天更换路灯。"
    assert answer["case_number"] == number
    receipt = await citizen.post("/api/v1/webchat/receipts", json={"ids": [outbound_id]})
    assert receipt.status_code == 204

    detail = (await clerk.get(f"/api/v1/cases/{number}")).json()
    assert detail["status"] == "answered"
    staff_message = next(
        m for m in detail["messages"] if m["id"] == outbound_id and m["direction"] == "outbound"
    )
    assert staff_message["status"] == "delivered"
    assert staff_message["author"] == "staff:li"
    assert [e["to_status"] for e in detail["history"] if e["kind"] == "transition"] == [
        "accepted",
        "assigned",
        "answered",
    ]

    closed = await clerk.post(f"/api/v1/cases/{number}/close", json={"reason": "路灯已更换"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


async def test_english_complaint_and_status_query(gateway: Gateway) -> None:
    citizen = await _open_chat(gateway)
    await _say(
        citizen, "The bus on route 21 skipped our stop at Central Station three times this week"
    )
    [ack] = await _bot_reply(citizen)
    number = ack["case_number"]
    assert "case" in ack["text"] and number in ack["text"]

    await _say(citizen, f"status {number}")
    replies = await _bot_reply(citizen, count=2)
    assert number in replies[-1]["text"] and "Department" in replies[-1]["text"]

    await _say(citizen, "status 991231-12345")
    replies = await _bot_reply(citizen, count=3)
    assert "found no case" in replies[-1]["text"]


async def test_greeting_opens_no_case(gateway: Gateway) -> None:
    citizen = await _open_chat(gateway)
    await _say(citizen, "你好")
    [reply] = await _bot_reply(citizen)
    assert reply["case_number"] is None
    boss = await gateway.staff("boss")
    assert (await boss.get("/api/v1/cases", params={"queue": "triage"})).json() == []
    assert (await boss.get("/api/v1/cases")).json() == []


async def test_same_message_twice_makes_one_case(gateway: Gateway) -> None:
    citizen = await _open_chat(gateway)
    text = "人民路和解放路路口的红绿灯坏了，早高峰车辆乱成一团"
    first = await _say(citizen, text, "retry-1")
    second = await _say(citizen, text, "retry-1")
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["message_id"] == second.json()["message_id"]
    assert second.json()["duplicate"] is True

    [ack] = await _bot_reply(citizen)
    assert ack["case_number"]
    messages = await _messages(citizen)
    assert [m["direction"] for m in messages] == ["inbound", "outbound"]
    boss = await gateway.staff("boss")
    everything = (await boss.get("/api/v1/cases", params={"queue": "reply"})).json() + (
        await boss.get("/api/v1/cases", params={"queue": "triage"})
    ).json()
    assert len(everything) == 1


async def test_staff_of_another_department_cannot_touch_the_case(gateway: Gateway) -> None:
    citizen = await _open_chat(gateway)
    await _say(citizen, "我们小区的电梯三天两头坏，物业一直不修，老人上下楼太难了")
    [ack] = await _bot_reply(citizen)
    number = ack["case_number"]
    other = await gateway.staff("zhao")
    assert (await other.get(f"/api/v1/cases/{number}")).status_code == 403
    assert (
        await other.post(f"/api/v1/cases/{number}/replies", json={"text": "x"})
    ).status_code == 403
    assert (
        await other.get("/api/v1/cases", params={"department": "housing_construction"})
    ).status_code == 403
    assert number not in [c["number"] for c in (await other.get("/api/v1/cases")).json()]
