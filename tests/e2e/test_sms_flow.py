"""SMS end to end: signed Twilio webhooks in, the real twilio client out to a fake Twilio
REST server on loopback, status callbacks back in."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from civicline.domain.messages import Channel
from tests.fakes.twilio_server import FakeTwilio, running_fake_twilio
from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually
from tests.support.ports import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
OUR_NUMBER = "+14155550100"


def payload(name: str, **changes: str) -> dict[str, str]:
    params: dict[str, str] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    params.update(changes)
    return params


@dataclass
class Sms:
    gateway: Gateway
    fake: FakeTwilio
    client: httpx.AsyncClient

    def sign(self, path: str, params: dict[str, str]) -> str:
        url = self.gateway.services.settings.public_base_url + path
        return str(RequestValidator(self.fake.auth_token).compute_signature(url, params))

    async def post(
        self, path: str, params: dict[str, str], signature: str | None = "sign"
    ) -> httpx.Response:
        headers = {}
        if signature == "sign":
            signature = self.sign(path, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(path, data=params, headers=headers)

    async def text(self, body: str, sender: str = "+8613912345678") -> httpx.Response:
        sid = "SM" + uuid.uuid4().hex
        params = payload("inbound_sms_zh.json", Body=body, From=sender, MessageSid=sid, SmsSid=sid)
        return await self.post("/webhooks/twilio/sms", params)

    async def sent_to(self, number: str, count: int) -> list[Any]:
        async def enough() -> list[Any]:
            got = [m for m in self.fake.messages if m.to == number]
            return got if len(got) >= count else []

        return list(await eventually(enough))


@pytest.fixture
async def sms(places: Places) -> AsyncIterator[Sms]:
    async with running_fake_twilio() as fake:
        port = free_port()  # picked once the fake Twilio holds its own port
        async with (
            places.services(
                public_base_url=f"http://127.0.0.1:{port}",
                twilio_account_sid=fake.account_sid,
                twilio_auth_token=fake.auth_token,
                twilio_from_number=OUR_NUMBER,
                twilio_api_base_url=fake.url,
            ) as services,
            serving(services, port) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=10) as http,
        ):
            yield Sms(gateway, fake, http)


async def test_sms_complaint_gets_its_case_number_and_the_staff_answer(sms: Sms) -> None:
    answer = await sms.post("/webhooks/twilio/sms", payload("inbound_sms_zh.json"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    assert "<Response/>" in answer.text

    [ack] = await sms.sent_to("+8613912345678", 1)
    assert ack.from_ == OUR_NUMBER
    number = ack.body.split("案件编号 ")[1][:12]
    assert "outbound_id=" in (ack.status_callback or "")

    boss = await sms.gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert case["channel"] == "sms" and case["category"] == "environment"

    # Twilio reports the acknowledgement delivered.
    outbound_id = ack.status_callback.split("outbound_id=")[1]
    path = f"/webhooks/twilio/status?outbound_id={outbound_id}"
    receipt = payload("status_delivered.json", MessageSid=ack.sid, SmsSid=ack.sid)
    assert (await sms.post(path, receipt)).status_code == 204
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert [m["status"] for m in case["messages"] if m["direction"] == "outbound"] == ["delivered"]

    clerk = await sms.gateway.staff("boss")
    await clerk.post(
        f"/api/v1/cases/{number}/replies",
        json={"text": "已约谈烧烤店经营者，今晚起十点前停止营业。"},
    )
    _, reply = await sms.sent_to("+8613912345678", 2)
    assert reply.body == "已约谈烧烤店经营者，今晚起十点前停止营业。"

    # A replayed webhook (same MessageSid) opens nothing new.
    again = await sms.post("/webhooks/twilio/sms", payload("inbound_sms_zh.json"))
    assert again.status_code == 200
    await sms.text("查询 " + number)
    replies = await sms.sent_to("+8613912345678", 3)
    assert len(replies) == 3 and number in replies[-1].body
    every_state = {"status": ["received", "assigned", "answered"]}
    cases = (await boss.get("/api/v1/cases", params=every_state)).json()
    assert [c["number"] for c in cases] == [number]


async def test_forged_missing_and_malformed_webhooks_are_refused(sms: Sms) -> None:
    params = payload("inbound_sms_en.json")
    assert (await sms.post("/webhooks/twilio/sms", params, signature=None)).status_code == 403
    assert (await sms.post("/webhooks/twilio/sms", params, signature="Zm9yZ2Vk")).status_code == 403
    tampered = dict(params, Body="something else")
    forged = sms.sign("/webhooks/twilio/sms", params)
    assert (await sms.post("/webhooks/twilio/sms", tampered, signature=forged)).status_code == 403
    without_sender = {k: v for k, v in params.items() if k != "From"}
    missing = await sms.post("/webhooks/twilio/sms", without_sender)
    assert missing.status_code == 422 and "From" in missing.json()["detail"]
    too_long = await sms.post("/webhooks/twilio/sms", dict(params, Body="x" * 1601))
    assert too_long.status_code == 422
    full = await sms.post(
        "/webhooks/twilio/sms", dict(params, Body="路" * 1600, MessageSid="SM" + "1" * 32)
    )
    assert full.status_code == 200
    bad_status = await sms.post(
        "/webhooks/twilio/status?outbound_id=1", payload("status_sent.json", MessageStatus="weird")
    )
    assert bad_status.status_code == 422
    unknown = await sms.post(
        "/webhooks/twilio/status?outbound_id=999999", payload("status_delivered.json")
    )
    assert unknown.status_code == 204  # nothing of ours: acknowledged, nothing moved


async def test_unknown_case_number_by_sms(sms: Sms) -> None:
    await sms.text("查询 991231-00001", sender="+8613912340000")
    [reply] = await sms.sent_to("+8613912340000", 1)
    assert "没有找到案件 991231-00001" in reply.body


async def test_stop_silences_replies_until_start(sms: Sms) -> None:
    who = "+8613912341111"
    await sms.text("小区门口的路灯坏了一个星期，晚上很黑", sender=who)
    [ack] = await sms.sent_to(who, 1)
    number = ack.body.split("案件编号 ")[1][:12]
    await sms.text("STOP", sender=who)
    boss = await sms.gateway.staff("boss")

    await eventually(lambda: _all_processed(sms))  # the STOP is handled
    reply = await boss.post(f"/api/v1/cases/{number}/replies", json={"text": "已修复"})
    outbound_id = reply.json()["outbound_id"]

    async def failed() -> bool:
        case = (await boss.get(f"/api/v1/cases/{number}")).json()
        row = next(
            m for m in case["messages"] if m["id"] == outbound_id and m["direction"] == "outbound"
        )
        return row["status"] == "failed" and "opted out" in (row["last_error"] or "")

    await eventually(failed)
    assert len([m for m in sms.fake.messages if m.to == who]) == 1

    await sms.text("START", sender=who)
    replies = await sms.sent_to(who, 2)
    assert "again" in replies[-1].body or "恢复" in replies[-1].body


async def _all_processed(sms: Sms) -> bool:
    services = sms.gateway.services
    async with services.uow() as uow:
        return not await uow.inbox.unprocessed_ids(received_before=services.now(), limit=10)


async def test_twilio_errors_retry_or_fail_for_good(sms: Sms) -> None:
    sms.fake.fail_next(429, code=20429, times=1)
    await sms.text("人民路上的井盖丢了，很危险", sender="+8613912342222")
    [ack] = await sms.sent_to("+8613912342222", 1)  # the second try went through
    assert "案件编号" in ack.body

    sms.fake.fail_next(400, code=21610, times=1)
    number = ack.body.split("案件编号 ")[1][:12]
    boss = await sms.gateway.staff("boss")
    reply = await boss.post(f"/api/v1/cases/{number}/replies", json={"text": "已补上井盖"})
    outbound_id = reply.json()["outbound_id"]

    async def failed() -> dict[str, Any] | None:
        case = (await boss.get(f"/api/v1/cases/{number}")).json()
        row = next(
            m for m in case["messages"] if m["id"] == outbound_id and m["direction"] == "outbound"
        )
        return row if row["status"] == "failed" else None

    row = await eventually(failed)
    assert "21610" in row["last_error"] and row["attempts"] == 1


async def test_mms_photos_are_kept_with_the_case(sms: Sms) -> None:
    mms = payload("inbound_mms.json")
    assert (await sms.post("/webhooks/twilio/sms", mms)).status_code == 200
    sender = mms["From"]
    [ack] = await sms.sent_to(sender, 1)
    number = ack.body.split("案件编号 ")[1][:12]
    boss = await sms.gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    [first] = [m for m in case["messages"] if m["direction"] == "inbound"]
    assert first["attachments"] == [mms["MediaUrl0"], mms["MediaUrl1"]]

    photo_only = {k: v for k, v in mms.items() if k != "Body"}
    photo_only.update(MessageSid="SM" + uuid.uuid4().hex, From="+8613912343333")
    assert (await sms.post("/webhooks/twilio/sms", photo_only)).status_code == 200
    [triage_ack] = await sms.sent_to("+8613912343333", 1)
    assert "尽快确定承办部门" in triage_ack.body  # no words: staff place it


async def test_phone_numbers_and_texts_stay_out_of_the_logs(
    sms: Sms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    who = "+8613912349876"
    await sms.text("我叫王隐私，幸福路18号楼下烧烤店油烟太大", sender=who)
    [ack] = await sms.sent_to(who, 1)
    number = ack.body.split("案件编号 ")[1][:12]
    outbound_id = ack.status_callback.split("outbound_id=")[1]
    receipt = payload("status_delivered.json", To=who, MessageSid=ack.sid, SmsSid=ack.sid)
    await sms.post(f"/webhooks/twilio/status?outbound_id={outbound_id}", receipt)
    # Messages and every structured field (extras, args) of every record.
    logged = caplog.text + "\n".join(str(vars(record)) for record in caplog.records)
    assert number in logged
    for secret in (who, who[1:], "13912349876", "王隐私", "烧烤店"):
        assert secret not in logged


async def test_a_long_answer_goes_in_parts_with_one_callback(sms: Sms) -> None:
    who = "+8613912345555"
    await sms.text("和平路菜市场周边摊贩占道经营严重，人行道都被摊子占满了", sender=who)
    [ack] = await sms.sent_to(who, 1)
    number = ack.body.split("案件编号 ")[1][:12]
    long_answer = "经现场核查，已责令摊贩退回市场内经营，城管将每日巡查。" * 80  # 2,160 chars
    boss = await sms.gateway.staff("boss")
    assert (
        await boss.post(f"/api/v1/cases/{number}/replies", json={"text": long_answer})
    ).status_code == 202
    _, first, second = await sms.sent_to(who, 3)
    assert first.body + second.body == long_answer
    assert len(first.body) <= 1600 and first.body.endswith("。")
    assert first.status_callback is None and "outbound_id=" in second.status_callback


async def test_a_nul_in_a_text_is_replaced_and_the_text_kept(sms: Sms) -> None:
    """Refusing Twilio's webhook would lose the message: the text is kept, with U+FFFD where
    the character no database can store was."""
    answer = await sms.text("井盖丢了\x00，在解放路", sender="+8613900001111")
    assert answer.status_code == 200, answer.text
    async with sms.gateway.services.uow() as uow:
        [stored] = await uow.inbox.conversation(Channel.SMS, "+8613900001111", limit=5)
    assert stored.text == "井盖丢了\ufffd，在解放路"
