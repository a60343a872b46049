"""End to end over HTTP (issue 16, must show): a complaint filed at the city is handed down to
宁国市 (341881), which hands it to 河沥溪街道 (341881003); the township answers, the answer
reaches the citizen's chat and ends delivered; the city's, the county's and the township's
reports each count the case once, in the unit holding it; a refused move changes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from tests.support.gateway import Gateway
from tests.support.polling import eventually
from tests.support.units import COUNTY, OTHER_COUNTY, TOWNSHIP, unit_accounts

LAMP = "幸福路88号小区门口的路灯坏了一个星期了，晚上一片漆黑，老人出门很危险"


async def _file(gateway: Gateway) -> tuple[httpx.AsyncClient, str]:
    citizen = gateway.citizen()
    await citizen.get("/")
    sent = await citizen.post(
        "/api/v1/webchat/messages", json={"client_message_id": uuid.uuid4().hex, "text": LAMP}
    )
    assert sent.status_code == 202, sent.text

    async def number() -> str | None:
        messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return next((m["case_number"] for m in messages if m["case_number"]), None)

    return citizen, await eventually(number)


async def _unit_rows(staff: httpx.AsyncClient, unit: str | None) -> dict[str | None, int]:
    params: dict[str, Any] = {"group": ["total", "unit"], "period": "all"}
    if unit is not None:
        params["unit"] = unit
    answer = await staff.get("/api/v1/stats/rates", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["unit"] == (unit or "341800")
    return {
        (row["key"] if row["group"] == "unit" else "total"): row["counts"]["cases"]
        for row in body["rows"]
    }


async def test_city_to_county_to_township_answered_and_counted_once(gateway: Gateway) -> None:
    await unit_accounts(gateway)
    citizen, number = await _file(gateway)
    boss = await gateway.staff("boss")
    ningguo = await gateway.staff("ningguo")
    helixi = await gateway.staff("helixi")
    xuanzhou = await gateway.staff("xuanzhou")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert case["department"] == "housing_construction" and case["status"] == "assigned"

    # Refused moves: clear answers, nothing changes.
    outside = await boss.post(f"/api/v1/cases/{number}/hand-down", json={"unit": "999999"})
    assert outside.status_code == 422 and "not in the tree" in outside.json()["detail"]
    not_holder = await xuanzhou.post(f"/api/v1/cases/{number}/hand-down", json={"unit": COUNTY})
    assert not_holder.status_code == 403
    up_from_city = await boss.post(f"/api/v1/cases/{number}/report-up", json={"reason": "无"})
    assert up_from_city.status_code == 422

    first = await boss.post(
        f"/api/v1/cases/{number}/hand-down", json={"unit": COUNTY, "reason": "属地办理"}
    )
    assert first.status_code == 200, first.text
    assert first.json()["case"]["department"] == f"{COUNTY}.housing_construction"
    wrong = await ningguo.post(f"/api/v1/cases/{number}/hand-down", json={"unit": "341802001"})
    assert wrong.status_code == 422 and "not below" in wrong.json()["detail"]
    late = await ningguo.post(
        f"/api/v1/cases/{number}/hand-down", json={"unit": TOWNSHIP, "due_working_days": 60}
    )
    assert late.status_code == 422 and "after its parent's" in late.json()["detail"]
    second = await ningguo.post(f"/api/v1/cases/{number}/hand-down", json={"unit": TOWNSHIP})
    assert second.status_code == 200, second.text
    handed = second.json()
    assert handed["case"]["number"] == number  # one number, however often handed down
    assert handed["case"]["department"] == f"{TOWNSHIP}.office"
    chain = handed["assignments"]
    assert [(a["unit"], a["state"]) for a in chain] == [
        ("341800", "handed_down"),
        (COUNTY, "handed_down"),
        (TOWNSHIP, "holding"),
    ]
    assert chain[2]["unit_name"] == "河沥溪街道" and chain[2]["parent_id"] == chain[1]["id"]
    dues = [datetime.fromisoformat(a["due_at"]) for a in chain]
    assert dues[2] < dues[1] < dues[0]

    reply = await helixi.post(
        f"/api/v1/cases/{number}/replies", json={"text": "街道已安排人员更换路灯。"}
    )
    assert reply.status_code == 202, reply.text
    outbound_id = reply.json()["outbound_id"]

    async def answer() -> dict[str, Any] | None:
        messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return next((m for m in messages if m["id"] == f"out-{outbound_id}"), None)

    delivered = await eventually(answer)
    assert delivered["text"] == "街道已安排人员更换路灯。" and delivered["case_number"] == number
    receipt = await citizen.post("/api/v1/webchat/receipts", json={"ids": [outbound_id]})
    assert receipt.status_code == 204

    # The county follows its township's progress; another county does not.
    followed = (await ningguo.get(f"/api/v1/cases/{number}/assignments")).json()
    assert [(a["unit"], a["state"], a["late"]) for a in followed] == [
        ("341800", "handed_down", False),
        (COUNTY, "handed_down", False),
        (TOWNSHIP, "answered", False),
    ]
    assert (await xuanzhou.get(f"/api/v1/cases/{number}/assignments")).status_code == 403
    detail = (await boss.get(f"/api/v1/cases/{number}")).json()
    moves = [e for e in detail["history"] if e["to_status"] == "forwarded"]
    assert [(e["data"]["handing"], e["data"]["unit"]) for e in moves] == [
        ("down", COUNTY),
        ("down", TOWNSHIP),
    ]
    assert detail["status"] == "answered"
    assert [(a["unit"], a["state"]) for a in detail["assignments"]] == [
        ("341800", "handed_down"),
        (COUNTY, "handed_down"),
        (TOWNSHIP, "answered"),
    ]

    # Every level's report counts the case once, in the unit holding it.
    assert await _unit_rows(boss, None) == {"total": 1, COUNTY: 1}
    assert await _unit_rows(boss, COUNTY) == {"total": 1, TOWNSHIP: 1}
    assert await _unit_rows(boss, TOWNSHIP) == {"total": 1, TOWNSHIP: 1}
    assert await _unit_rows(boss, OTHER_COUNTY) == {}
    lead = await gateway.staff("ningguo_lead")
    assert await _unit_rows(lead, COUNTY) == {"total": 1, TOWNSHIP: 1}
    refused = await lead.get("/api/v1/stats/rates", params={"unit": OTHER_COUNTY})
    assert refused.status_code == 403
