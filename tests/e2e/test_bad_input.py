"""Bad input gets a clear 4xx and never a 500."""

from __future__ import annotations

import uuid

import httpx

from tests.support.gateway import Gateway
from tests.support.polling import eventually


async def _chat(gateway: Gateway) -> httpx.AsyncClient:
    client = gateway.citizen()
    await client.get("/")
    return client


async def _post(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(
        "/api/v1/webchat/messages", json={"client_message_id": uuid.uuid4().hex, "text": text}
    )


async def test_webchat_rejects_bad_messages_clearly(gateway: Gateway) -> None:
    client = await _chat(gateway)
    empty = await _post(client, "   ")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    long = await _post(client, "x" * 20_000)
    assert long.status_code == 422 and "4000" in long.json()["detail"]
    huge = await _post(client, "路" * 30_000)
    assert huge.status_code == 413 and "larger than" in huge.json()["detail"]
    broken = await client.post(
        "/api/v1/webchat/messages",
        content=b'{"text": "oops',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 422
    missing = await client.post("/api/v1/webchat/messages", json={"text": "没有编号"})
    assert missing.status_code == 422
    bad_id = await client.post(
        "/api/v1/webchat/messages", json={"client_message_id": "<x>", "text": "hi"}
    )
    assert bad_id.status_code == 422
    assert (await gateway.citizen().get("/api/v1/webchat/messages")).status_code == 404
    # Nothing of that was stored.
    assert (await client.get("/api/v1/webchat/messages")).json()["messages"] == []


async def test_staff_api_answers_4xx(gateway: Gateway) -> None:
    anonymous = gateway.citizen()
    assert (await anonymous.get("/api/v1/cases")).status_code == 401
    assert (
        await anonymous.get("/api/v1/cases", headers={"Authorization": "Bearer forged.token"})
    ).status_code == 401
    wrong = await anonymous.post("/api/v1/auth/token", json={"username": "li", "password": "nope"})
    assert wrong.status_code == 401
    nobody = await anonymous.post(
        "/api/v1/auth/token", json={"username": "ghost", "password": "nope"}
    )
    assert nobody.status_code == 401

    boss = await gateway.staff("boss")
    assert (await boss.get("/api/v1/cases/991231-00001")).status_code == 404
    assert (
        await boss.post("/api/v1/cases/991231-00001/replies", json={"text": "hi"})
    ).status_code == 404
    assert (await boss.get("/api/v1/cases", params={"limit": 0})).status_code == 422
    assert (await boss.get("/api/v1/cases", params={"department": "nowhere"})).status_code == 404

    citizen = await _chat(gateway)
    await _post(citizen, "解放路上的井盖丢了，很危险，车和人都容易掉进去")

    async def case_number() -> str | None:
        messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return next((m["case_number"] for m in messages if m["case_number"]), None)

    number = await eventually(case_number)
    illegal = await boss.post(f"/api/v1/cases/{number}/close", json={"reason": "done"})
    assert illegal.status_code == 409 and "cannot go from" in illegal.json()["detail"]
    assert (await boss.post(f"/api/v1/cases/{number}/frobnicate", json={})).status_code == 422
    no_reason = await boss.post(f"/api/v1/cases/{number}/forward", json={"department": "transport"})
    assert no_reason.status_code == 422
    unknown = await boss.post(
        f"/api/v1/cases/{number}/forward", json={"department": "nowhere", "reason": "r"}
    )
    assert unknown.status_code == 422
    empty_reply = await boss.post(f"/api/v1/cases/{number}/replies", json={"text": ""})
    assert empty_reply.status_code == 422
    forwarded = await boss.post(
        f"/api/v1/cases/{number}/forward",
        json={"department": "transport", "reason": "道路归交通局"},
    )
    assert forwarded.status_code == 200 and forwarded.json()["department"] == "transport"


async def test_a_flood_from_one_conversation_is_refused(gateway: Gateway) -> None:
    limit = gateway.services.settings.webchat_rate_limit_per_minute
    client = await _chat(gateway)
    codes = [(await _post(client, f"第{i}条：路灯坏了")).status_code for i in range(limit + 1)]
    assert codes[:limit] == [202] * limit
    assert codes[-1] == 429
    other = await _chat(gateway)
    assert (await _post(other, "另一位市民：路灯坏了")).status_code == 202
