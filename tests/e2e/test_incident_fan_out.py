"""One water outage reported on web chat, SMS and Telegram becomes one incident with three
reporters; one staff answer reaches all three, each on their own channel. The report from
another road of the district is not merged by itself: staff confirm the suggestion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.test_sms_flow import OUR_NUMBER, Sms
from tests.e2e.test_telegram_flow import CASE_NUMBER, SECRET, Tg, as_chat, payload
from tests.e2e.test_webchat_flow import _bot_reply, _open_chat, _say
from tests.fakes.telegram_api import FakeTelegram, running_fake_telegram
from tests.fakes.twilio_server import FakeTwilio, running_fake_twilio
from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually
from tests.support.ports import free_port

CHAT = 7_000_001
PHONE = "+8613700001111"


@dataclass
class Channels:
    gateway: Gateway
    sms: Sms
    tg: Tg


def both_channels(twilio: FakeTwilio, telegram: FakeTelegram, port: int) -> dict[str, object]:
    """Settings for SMS over the fake Twilio and Telegram over the fake Bot API."""
    return {
        "public_base_url": f"http://127.0.0.1:{port}",
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_from_number": OUR_NUMBER,
        "twilio_api_base_url": twilio.url,
        "telegram_bot_token": telegram.token,
        "telegram_webhook_secret": SECRET,
        "telegram_api_url": telegram.url,
    }


@pytest.fixture
async def channels(places: Places) -> AsyncIterator[Channels]:
    async with running_fake_twilio() as twilio, running_fake_telegram() as telegram:
        port = free_port()
        async with (
            places.services(**both_channels(twilio, telegram, port)) as services,
            serving(services, port) as gateway,
            httpx.AsyncClient(base_url=gateway.url, timeout=10) as http,
        ):
            yield Channels(gateway, Sms(gateway, twilio, http), Tg(gateway, telegram, http))


async def test_one_outage_three_channels_one_answer(channels: Channels) -> None:
    web = await _open_chat(channels.gateway)
    assert (await _say(web, "幸福路一带从早上开始停水了，到现在还没来水")).status_code == 202
    [ack] = await _bot_reply(web)
    lead = ack["case_number"]

    # Another road: maybe the same water main, maybe not. Never merged automatically.
    assert (
        await channels.sms.text("人民路这边也停水了，家里一滴水都没有", PHONE)
    ).status_code == 200
    [sms_ack] = await channels.sms.sent_to(PHONE, 1)
    assert lead not in sms_ack.body
    found = CASE_NUMBER.search(sms_ack.body)
    assert found is not None
    elsewhere = found.group()

    # A house on the outage's road: one event surely.
    first = as_chat(payload("message_zh.json"), CHAT, text="幸福路18号停水一整天了，一滴水都没有")
    joined, _ = await channels.tg.until_case(CHAT, first)

    clerk = await channels.gateway.staff("boss")
    queue = [c["number"] for c in (await clerk.get("/api/v1/cases")).json()]
    assert lead in queue and elsewhere in queue and joined not in queue
    assert (await clerk.get(f"/api/v1/cases/{joined}")).json()["status"] == "merged"
    [suggestion] = (await clerk.get(f"/api/v1/cases/{lead}/suggestions")).json()
    assert (suggestion["case"], suggestion["lead"]) == (elsewhere, lead)
    decided = await clerk.post(f"/api/v1/suggestions/{suggestion['id']}/confirm")
    assert decided.status_code == 200, decided.text
    case = (await clerk.get(f"/api/v1/cases/{lead}")).json()
    assert case["reporters"] == 3 and case["district"] == "宣州区"
    queue = [c["number"] for c in (await clerk.get("/api/v1/cases")).json()]
    assert lead in queue and elsewhere not in queue  # staff see one incident

    answer = "主水管抢修中，预计今晚八点前恢复供水。"
    posted = await clerk.post(f"/api/v1/cases/{lead}/replies", json={"text": answer})
    assert posted.status_code == 202, posted.text

    replies = await _bot_reply(web, count=2)
    assert replies[-1]["text"] == answer
    texts = [m.body for m in await channels.sms.sent_to(PHONE, 2)]
    assert texts[-1] == answer

    async def on_telegram() -> bool:
        return any(c.params.get("text") == answer for c in channels.tg.fake.sent_to(CHAT))

    assert await eventually(on_telegram)
