"""Complaint text and phone numbers never reach a log, at any level."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.support.gateway import Gateway
from tests.support.polling import eventually

SECRET_TEXT = "我叫张秘密，电话13912345678，住在隐私路7号，楼下的路灯坏了一个星期"


async def test_nothing_personal_is_logged(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    citizen = gateway.citizen()
    await citizen.get("/")
    await citizen.post(
        "/api/v1/webchat/messages",
        json={"client_message_id": uuid.uuid4().hex, "text": SECRET_TEXT},
    )

    async def case_number() -> str | None:
        messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return next((m["case_number"] for m in messages if m["case_number"]), None)

    number = await eventually(case_number)
    boss = await gateway.staff("boss")
    await boss.post(f"/api/v1/cases/{number}/replies", json={"text": "张秘密您好，已派人维修"})
    await eventually(lambda: _replied(citizen))

    # Messages and every structured field (extras, args) of every record.
    logged = caplog.text + "\n".join(str(vars(record)) for record in caplog.records)
    assert number in logged  # the case number is what we log
    for secret in ("张秘密", "13912345678", "隐私路", "已派人维修"):
        assert secret not in logged


async def _replied(citizen) -> bool:  # type: ignore[no-untyped-def]
    messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
    return sum(m["direction"] == "outbound" for m in messages) == 2
