"""The hotline's voice line end to end: signed Twilio voice webhooks in (recorded payloads),
TwiML out, cases filed once per CallSid, SMS receipts out through the fake Twilio server."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from civicline.channels.voice import ZH_DIGITS
from civicline.storage.tables import CaseRow, InboundMessageRow
from tests.fakes.twilio_server import FakeTwilio, running_fake_twilio
from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually
from tests.support.ports import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twilio"
OUR_NUMBER = "+14155550100"
ZH_CALLER = "+8613912345678"
EN_CALLER = "+12015550123"
VOICE = "/webhooks/twilio/voice"


def payload(name: str, **changes: str) -> dict[str, str]:
    params: dict[str, str] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    params.update(changes)
    return params


def twiml(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


@dataclass
class Line:
    gateway: Gateway
    fake: FakeTwilio
    client: httpx.AsyncClient

    @property
    def base(self) -> str:
        return self.gateway.services.settings.public_base_url

    def sign(self, path: str, params: dict[str, str]) -> str:
        return str(
            RequestValidator(self.fake.auth_token).compute_signature(self.base + path, params)
        )

    async def post(
        self, path: str, params: dict[str, str], signature: str | None = "sign"
    ) -> httpx.Response:
        """POST ``path`` (with its query) as Twilio would: the form, signed over the URL."""
        headers = {}
        if signature == "sign":
            signature = self.sign(path, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return await self.client.post(path, data=params, headers=headers)

    async def follow(self, url: str, params: dict[str, str]) -> httpx.Response:
        """POST to an absolute URL our TwiML gave Twilio."""
        assert url.startswith(self.base)
        parts = urlsplit(url)
        return await self.post(parts.path + (f"?{parts.query}" if parts.query else ""), params)

    async def cases(self) -> list[dict[str, Any]]:
        boss = await self.gateway.staff("boss")
        every = {"status": ["received", "assigned", "answered"], "limit": 100}
        return list((await boss.get("/api/v1/cases", params=every)).json())

    async def case(self, number: str) -> dict[str, Any]:
        boss = await self.gateway.staff("boss")
        answer = await boss.get(f"/api/v1/cases/{number}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def sent_to(self, number: str, count: int) -> list[Any]:
        async def enough() -> list[Any]:
            got = [m for m in self.fake.messages if m.to == number]
            return got if len(got) >= count else []

        return list(await eventually(enough))

    async def stored(self) -> tuple[int, int]:
        """Inbox rows and cases in the database."""
        async with self.gateway.services.engine.connect() as conn:
            inbox = await conn.scalar(select(func.count()).select_from(InboundMessageRow))
            cases = await conn.scalar(select(func.count()).select_from(CaseRow))
        return int(inbox or 0), int(cases or 0)


@pytest.fixture
async def line(places: Places) -> AsyncIterator[Line]:
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
            yield Line(gateway, fake, http)


def _gather(root: ET.Element) -> ET.Element:
    gather = root.find("Gather")
    assert gather is not None
    return gather


async def test_a_spoken_complaint_is_filed_read_back_and_texted(line: Line) -> None:
    greeting = twiml(await line.post(VOICE, payload("voice_incoming_zh.json")))
    assert verbs(greeting) == ["Say", "Gather", "Redirect"]
    assert greeting[0].get("language") == "zh-CN" and "一二三四五" in (greeting[0].text or "")
    gather = _gather(greeting)
    assert gather.attrib | {"action": ""} == {
        "input": "speech",
        "language": "zh-CN",
        "speechTimeout": "auto",
        "method": "POST",
        "actionOnEmptyResult": "true",
        "action": "",
    }
    action = gather.attrib["action"]
    assert action.startswith(line.base + VOICE + "/speech?attempt=1&started=")
    [prompt] = list(gather)
    assert prompt.tag == "Say" and prompt.get("language") == "zh-CN"
    assert greeting[2].text == action  # silence: the same URL, without a SpeechResult

    speech = payload("voice_speech_zh.json")
    answer = twiml(await line.follow(action, speech))
    assert verbs(answer)[-1] == "Hangup"
    said = [say.text or "" for say in answer.findall("Say")]
    assert all(say.get("language") == "zh-CN" for say in answer.findall("Say"))

    [receipt] = await line.sent_to(ZH_CALLER, 1)
    assert receipt.from_ == OUR_NUMBER
    number = receipt.body.split("案件编号 ")[1][:12]
    digits = "，".join("".join(ZH_DIGITS[d] for d in part) for part in number.split("-"))
    assert said.count(digits) == 2  # read twice, digit by digit
    assert any("短信" in text for text in said)

    case = await line.case(number)
    assert case["channel"] == "hotline" and case["category"] == "urban_rural_construction"
    [message] = [m for m in case["messages"] if m["direction"] == "inbound"]
    assert "路灯坏了" in message["text"]

    # Twilio retries the action (a timeout on its side): the same case, no second text.
    again = twiml(await line.follow(action, speech))
    assert [say.text for say in again.findall("Say")].count(digits) == 2
    assert [c["number"] for c in await line.cases()] == [number]
    assert len([m for m in line.fake.messages if m.to == ZH_CALLER]) == 1
    assert await line.stored() == (1, 1)


async def test_forged_or_missing_signatures_are_refused_and_store_nothing(line: Line) -> None:
    speech = payload("voice_speech_zh.json")
    path = VOICE + "/speech?attempt=1&started=1795000000"
    for target, params in [
        (VOICE, payload("voice_incoming_zh.json")),
        (path, speech),
        (VOICE + "/recorded", payload("voice_recorded.json")),
        (VOICE + "/transcription", payload("voice_transcription_completed.json")),
    ]:
        assert (await line.post(target, params, signature=None)).status_code == 403
        assert (await line.post(target, params, signature="Zm9yZ2Vk")).status_code == 403
    # Signed for other words, or for another attempt: the signature covers both.
    forged = line.sign(path, speech)
    tampered = dict(speech, SpeechResult="别的内容")
    assert (await line.post(path, tampered, signature=forged)).status_code == 403
    other_query = path.replace("attempt=1", "attempt=2")
    assert (await line.post(other_query, speech, signature=forged)).status_code == 403
    assert await line.stored() == (0, 0)
    assert line.fake.messages == []


async def test_voice_webhooks_are_404_without_twilio(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        for path in (VOICE, VOICE + "/speech", VOICE + "/recorded", VOICE + "/transcription"):
            answer = await client.post(path, data=payload("voice_incoming_zh.json"))
            assert answer.status_code == 404


async def test_silence_gets_one_retry_then_a_recording_whose_transcription_is_filed(
    line: Line,
) -> None:
    greeting = twiml(await line.post(VOICE, payload("voice_incoming_en.json")))
    assert greeting[0].get("language") == "en-US" and _gather(greeting).get("language") == "en-US"
    silence = payload("voice_speech_empty.json", **_caller("voice_incoming_en.json"))

    retry = twiml(await line.follow(_gather(greeting).attrib["action"], silence))
    assert verbs(retry) == ["Gather", "Redirect"]
    second = _gather(retry).attrib["action"]
    assert "attempt=2" in second and "Sorry" in (_gather(retry)[0].text or "")

    fallback = twiml(await line.follow(second, silence))
    assert verbs(fallback) == ["Say", "Record", "Say", "Hangup"]
    record = fallback[1].attrib
    assert record["maxLength"] == "120" and record["transcribe"] == "true"
    assert record["action"] == line.base + VOICE + "/recorded"
    assert record["transcribeCallback"].startswith(line.base + VOICE + "/transcription?started=")
    assert await line.stored() == (0, 0)  # nothing said, nothing filed yet

    goodbye = twiml(await line.post(VOICE + "/recorded", payload("voice_recorded.json")))
    assert verbs(goodbye) == ["Say", "Say", "Hangup"]

    transcription = payload("voice_transcription_completed.json")
    answer = await line.follow(record["transcribeCallback"], transcription)
    assert answer.status_code == 204
    [receipt] = await line.sent_to(EN_CALLER, 1)
    number = receipt.body.split("case ")[1][:12]
    case = await line.case(number)
    [message] = [m for m in case["messages"] if m["direction"] == "inbound"]
    assert "street light" in message["text"]
    assert message["attachments"] == [f"recording:{transcription['RecordingUrl']}"]
    # Twilio posts the callback again: still one case.
    assert (await line.follow(record["transcribeCallback"], transcription)).status_code == 204
    assert await line.stored() == (1, 1)


def _caller(name: str) -> dict[str, str]:
    call = payload(name)
    return {key: call[key] for key in ("CallSid", "From", "Caller")}


async def test_a_failed_transcription_still_files_the_call_with_its_recording(line: Line) -> None:
    failed = payload("voice_transcription_failed.json")
    assert (await line.post(VOICE + "/transcription", failed)).status_code == 204
    [receipt] = await line.sent_to(ZH_CALLER, 1)
    number = receipt.body.split("案件编号 ")[1][:12]
    case = await line.case(number)
    # Nobody knows yet what it is about: the 12345 centre listens and routes it.
    assert case["category"] == "other" and case["department"] == "hotline_center"
    [message] = [m for m in case["messages"] if m["direction"] == "inbound"]
    assert "请收听录音" in message["text"]
    assert message["attachments"] == [f"recording:{failed['RecordingUrl']}"]


async def test_callers_without_a_number_are_told_so_and_nothing_is_stored(line: Line) -> None:
    anonymous = payload("voice_incoming_anonymous.json")
    answer = twiml(await line.post(VOICE, anonymous))
    assert verbs(answer) == ["Say", "Say", "Hangup"]
    assert [say.get("language") for say in answer.findall("Say")] == ["zh-CN", "en-US"]
    speech = dict(payload("voice_speech_zh.json"), **_caller("voice_incoming_anonymous.json"))
    assert verbs(twiml(await line.post(VOICE + "/speech", speech)))[-1] == "Hangup"
    assert await line.stored() == (0, 0)


async def test_callers_numbers_and_words_stay_out_of_the_logs(
    line: Line, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    speech = payload("voice_speech_zh.json")
    answer = twiml(await line.post(VOICE + "/speech?attempt=1", speech))
    [receipt] = await line.sent_to(ZH_CALLER, 1)
    number = receipt.body.split("案件编号 ")[1][:12]
    assert verbs(answer)[-1] == "Hangup"
    logged = caplog.text + "\n".join(str(vars(record)) for record in caplog.records)
    assert number in logged and speech["CallSid"] in logged
    for secret in (ZH_CALLER, ZH_CALLER[1:], "13912345678", "幸福路", "路灯"):
        assert secret not in logged
