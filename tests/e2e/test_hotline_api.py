"""The hotline operator API over HTTP: file a call, see the suggestion, the SMS receipt through
the real Twilio client to the fake Twilio server, and call-backs for callers without SMS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from tests.fakes.twilio_server import FakeTwilio, running_fake_twilio
from tests.support.gateway import PASSWORD, Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually
from tests.support.ports import free_port

CALLER = "13912345678"  # as operators type it: no country code
CALLER_E164 = "+8613912345678"


def call(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_id": f"CA{uuid.uuid4().hex}",
        "caller": CALLER,
        "started_at": "2026-11-27T09:58:00+08:00",
        "ended_at": "2026-11-27T10:02:30+08:00",
        "transcript": [
            {"speaker": "operator", "text": "您好，12345热线。"},
            {"speaker": "caller", "text": "幸福路18号小区门口的路灯坏了一个星期了，晚上很黑。"},
        ],
        "sms_consent": True,
    }
    body.update(changes)
    return body


@dataclass
class Hotline:
    gateway: Gateway
    fake: FakeTwilio
    operator: httpx.AsyncClient
    staff: httpx.AsyncClient


@pytest.fixture
async def hotline(places: Places) -> AsyncIterator[Hotline]:
    async with running_fake_twilio() as fake:
        port = free_port()
        async with (
            places.services(
                public_base_url=f"http://127.0.0.1:{port}",
                twilio_account_sid=fake.account_sid,
                twilio_auth_token=fake.auth_token,
                twilio_from_number="+14155550100",
                twilio_api_base_url=fake.url,
            ) as services,
            serving(services, port) as gateway,
        ):
            await create_user(
                services.uow(),
                services.taxonomy,
                "wang",
                PASSWORD,
                Role.OPERATOR,
                None,
                now=services.now(),
            )
            operator = await gateway.staff("wang")
            staff = await gateway.staff("li")
            try:
                yield Hotline(gateway, fake, operator, staff)
            finally:
                await operator.aclose()
                await staff.aclose()


async def test_a_filed_call_gets_its_number_by_sms_once(hotline: Hotline) -> None:
    body = call()
    filed = await hotline.operator.post("/api/v1/hotline/transcripts", json=body)
    assert filed.status_code == 201, filed.text
    number = filed.json()["case_number"]
    assert filed.json()["department"] == "housing_construction" and filed.json()["sms_receipt"]

    async def receipt() -> list[Any]:
        return [m for m in hotline.fake.messages if m.to == CALLER_E164]

    [sent] = await eventually(receipt)
    assert number in sent.body
    again = await hotline.operator.post("/api/v1/hotline/transcripts", json=body)
    assert again.status_code == 200 and again.json()["case_number"] == number
    assert not again.json()["created"]
    case = await hotline.staff.get(f"/api/v1/cases/{number}")
    assert case.status_code == 200 and case.json()["channel"] == "hotline"


async def test_the_suggestion_then_the_operators_correction(hotline: Hotline) -> None:
    text = "公交车司机开车打电话，很危险"
    suggested = await hotline.operator.post("/api/v1/hotline/suggest", json={"transcript": text})
    assert suggested.status_code == 200
    assert suggested.json()["category"] == "transport"
    filed = await hotline.operator.post(
        "/api/v1/hotline/transcripts",
        json=call(transcript=text, category="politics_law", sms_consent=False),
    )
    assert filed.json()["category"] == "politics_law"
    assert filed.json()["department"] == "public_security"


async def test_without_consent_the_answer_is_a_call_back(hotline: Hotline) -> None:
    filed = await hotline.operator.post("/api/v1/hotline/transcripts", json=call(sms_consent=False))
    number = filed.json()["case_number"]
    reply = await hotline.staff.post(
        f"/api/v1/cases/{number}/replies", json={"text": "路灯已安排维修，三天内修好。"}
    )
    assert reply.status_code == 202, reply.text

    seen_by_staff = (await hotline.staff.get("/api/v1/callbacks")).json()
    [task] = (await hotline.operator.get("/api/v1/callbacks")).json()
    assert [t["caller"] for t in seen_by_staff] == [None]  # staff never see the number
    assert (task["case_number"], task["caller"]) == (number, CALLER_E164)
    assert task["answer"] == "路灯已安排维修，三天内修好。"
    assert not hotline.fake.messages  # nothing went by SMS

    refused = await hotline.staff.post(
        f"/api/v1/callbacks/{task['outbound_id']}", json={"reached": True}
    )
    assert refused.status_code == 403
    unexplained = await hotline.operator.post(
        f"/api/v1/callbacks/{task['outbound_id']}", json={"reached": False}
    )
    assert unexplained.status_code == 422
    done = await hotline.operator.post(
        f"/api/v1/callbacks/{task['outbound_id']}", json={"reached": True, "note": "已告知"}
    )
    assert done.status_code == 200 and done.json()["status"] == "delivered"
    twice = await hotline.operator.post(
        f"/api/v1/callbacks/{task['outbound_id']}", json={"reached": True}
    )
    assert twice.status_code == 422
    assert (await hotline.operator.get("/api/v1/callbacks")).json() == []
    case = (await hotline.staff.get(f"/api/v1/cases/{number}")).json()
    assert case["history"][-1]["data"] == {"call_back": task["outbound_id"], "reached": True}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"caller": "not a phone"}, 422),
        ({"category": "potholes_on_mars"}, 422),
        ({"transcript": [{"speaker": "operator", "text": "您好"}]}, 422),
        ({"started_at": "2026-11-27T09:58:00"}, 422),  # no time zone
        ({"transcript": [{"speaker": "robot", "text": "beep"}]}, 422),
        ({"call_id": ""}, 422),
    ],
)
async def test_bad_calls_are_refused(hotline: Hotline, change: dict[str, Any], status: int) -> None:
    answer = await hotline.operator.post("/api/v1/hotline/transcripts", json=call(**change))
    assert answer.status_code == status, answer.text


async def test_only_operators_file_calls(hotline: Hotline) -> None:
    staff = await hotline.staff.post("/api/v1/hotline/transcripts", json=call())
    anonymous = await hotline.gateway.citizen().post("/api/v1/hotline/transcripts", json=call())
    assert (staff.status_code, anonymous.status_code) == (403, 401)


async def test_the_callers_number_is_shown_only_to_roles_that_need_it(hotline: Hotline) -> None:
    spoken = "幸福路18号路灯坏了，有问题打我电话13912345678"
    filed = await hotline.operator.post(
        "/api/v1/hotline/transcripts",
        json=call(transcript=spoken, sms_consent=False, category="urban_rural_construction"),
    )
    number = filed.json()["case_number"]
    as_staff = (await hotline.staff.get(f"/api/v1/cases/{number}")).json()
    as_operator = (await hotline.operator.get(f"/api/v1/cases/{number}")).json()
    assert "13912345678" not in str(as_staff) and as_staff["contact"] is None
    queue = (await hotline.staff.get("/api/v1/cases")).json()
    assert "13912345678" not in str(queue)
    assert as_operator["contact"] == CALLER_E164 and "13912345678" in as_operator["summary"]


async def test_the_operator_chooses_the_unit_where_it_happened(hotline: Hotline) -> None:
    # The caller names only a road; the operator knows it is in 宁国市 and says so.
    filed = await hotline.operator.post(
        "/api/v1/hotline/transcripts", json=call(unit="341881", sms_consent=False)
    )
    assert filed.status_code in (200, 201), filed.text
    case = (await hotline.operator.get(f"/api/v1/cases/{filed.json()['case_number']}")).json()
    assert case["department"] == "341881.housing_construction", case  # 宁国市住建局
    unknown = await hotline.operator.post(
        "/api/v1/hotline/transcripts", json=call(unit="999999", sms_consent=False)
    )
    assert unknown.status_code == 422, unknown.text
