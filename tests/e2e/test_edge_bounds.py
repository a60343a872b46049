"""Out-of-range numbers and dates, and streamed oversize bodies, get a clear 4xx at the edge
(issue 18, defects 7, 8 and 12): never a 500 from a database or date arithmetic overflowing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from civicline.gateway.bounds import form_int, row_id
from tests.support.gateway import Gateway

HUGE = str(2**64)  # past every 64-bit column
V2 = "/open311/v2"


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, (answer.status_code, answer.text)
    places = [issue["loc"][-1] for issue in answer.json()["detail"]]
    assert field in places, answer.text


async def test_huge_ids_and_offsets_are_refused(gateway: Gateway) -> None:
    boss = await gateway.staff("boss")
    done = {"reached": True, "note": ""}
    _refused(await boss.post(f"/api/v1/callbacks/{HUGE}", json=done), "outbound_id")
    respond = await boss.post(f"/api/v1/supervision/{HUGE}/response", json={"response": "ok"})
    _refused(respond, "order_id")
    close = await boss.post(f"/api/v1/supervision/{HUGE}/close", json={"accepted": True})
    _refused(close, "order_id")
    for path in ("/api/v1/supervision", "/api/v1/cases", "/api/v1/backlog"):
        _refused(await boss.get(path, params={"offset": HUGE}), "offset")
    attachment = await boss.get(f"/api/v1/cases/991231-00001/attachments/{HUGE}/0")
    _refused(attachment, "message_id")
    _refused(await boss.get(f"/api/v1/cases/991231-00001/attachments/1/{HUGE}"), "index")
    _refused(await boss.post(f"/api/v1/suggestions/{HUGE}/confirm"), "suggestion_id")
    # Twilio's status callback names our outbox row in its query.
    status = await gateway.citizen().post(
        "/webhooks/twilio/status", params={"outbound_id": HUGE}, data={"MessageStatus": "sent"}
    )
    _refused(status, "outbound_id")
    # The web chat's read receipts name outbox rows too.
    chat = gateway.citizen()
    await chat.get("/")
    receipts = await chat.post("/api/v1/webchat/receipts", json={"ids": [int(HUGE)]})
    assert receipts.status_code == 422, receipts.text


async def test_extreme_dates_are_refused(gateway: Gateway) -> None:
    public = gateway.citizen()
    for path in ("requests.json", "servicerequestupdates.json"):
        for name, value in (
            ("start_date", "9999-12-31T00:00:00Z"),
            ("end_date", "0001-01-02T00:00:00Z"),
            ("start_date", "9999-12-31"),
        ):
            answer = await public.get(f"{V2}/{path}", params={name: value})
            assert answer.status_code == 400, (path, name, answer.status_code, answer.text)
            assert name in answer.json()[0]["description"]
    boss = await gateway.staff("boss")
    rates = "/api/v1/stats/rates"
    _refused(await boss.get(rates, params={"until": "0.0"}), "until")  # not 1970-01-01
    _refused(await boss.get(rates, params={"since": "1700000000"}), "since")
    far = await boss.get(rates, params={"since": "9999-12-01", "until": "9999-12-31"})
    _refused(far, "until")
    for name, value in (("until", "9999-12-31"), ("since", "0001-01-01T00:00:00+00:00")):
        report = await boss.get("/api/v1/supervision/report", params={name: value})
        assert report.status_code == 422 and name in report.json()["detail"], report.text


async def _chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        yield b"x" * 8192
        sent += 8192


async def test_a_streamed_oversize_body_gets_413(gateway: Gateway) -> None:
    limit = gateway.services.settings.max_body_bytes
    chat = gateway.citizen()
    await chat.get("/")
    for path in ("/api/v1/webchat/messages", "/api/v1/auth/token"):
        # No Content-Length: httpx sends a generator chunked.
        answer = await chat.post(
            path, content=_chunks(limit * 2), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413, (path, answer.status_code, answer.text)
        assert answer.json()["detail"] == f"request body is larger than {limit} bytes"
    # A small streamed body still reaches the endpoint.
    small = await chat.post(
        "/api/v1/webchat/messages",
        content=_small(),
        headers={"content-type": "application/json"},
    )
    assert small.status_code == 202, small.text


async def _small() -> AsyncIterator[bytes]:
    yield b'{"client_message_id": "chunked-1", '
    yield '"text": "路灯坏了，晚上很黑"}'.encode()


async def test_the_public_board_bounds_its_page_and_dates(gateway: Gateway) -> None:
    public = gateway.citizen()
    # "²".isdigit() is true, and int("²") an error: 500 before.
    for query in ("page=²", "page=0", "until=9999-12-31", "since=0001-01-01"):
        answer = await public.get(f"/board?{query}")
        assert answer.status_code == 400, (query, answer.status_code)
    assert (await public.get("/board?page=2&since=2026-01-01")).status_code == 200


def test_form_numbers_are_ascii_digits_in_range() -> None:
    assert row_id("42") == 42 and row_id(" 7 ") == 7
    for text in ("²", "٣", "0", "-1", "", None, str(2**63), "9" * 5000):
        assert row_id(text) is None, text
    assert form_int("3", 1, 3) == 3 and form_int("4", 1, 3) is None


async def test_times_are_written_not_counted_in_seconds(gateway: Gateway) -> None:
    boss = await gateway.staff("boss")
    for when in (0, 1.5, "9999-12-31T00:00:00Z", "2026-12-10T15:00:00"):
        session = await boss.post(
            "/api/v1/board/sessions",
            json={"topic": "供暖", "leader": "王副市长", "starts_at": when},
        )
        _refused(session, "starts_at")  # 0 was 1970-01-01 (201) before
        call = {
            "call_id": "c-1",
            "caller": "13812345678",
            "transcript": "路灯坏了",
            "started_at": when,
            "ended_at": "2026-12-06T10:05:00+08:00",
        }
        _refused(await boss.post("/api/v1/hotline/transcripts", json=call), "started_at")


async def test_yes_no_and_numbers_in_bodies_are_written_as_such(gateway: Gateway) -> None:
    """Pydantic would read ``true`` as the number 1 and ``1`` or ``"yes"`` as true; the schema
    says boolean or integer, and so does the API (schemathesis: a supervision order issued
    with ``due_working_days: true`` was created, due in one working day)."""
    boss = await gateway.staff("boss")
    order = {"instruction": "请于本周内答复", "due_working_days": True}
    _refused(
        await boss.post("/api/v1/cases/261206-00001/supervision", json=order), "due_working_days"
    )
    _refused(await boss.post("/api/v1/supervision/1/close", json={"accepted": 1}), "accepted")
    _refused(await boss.post("/api/v1/callbacks/1", json={"reached": "yes"}), "reached")
    visit = {"reached": True, "answer": True}
    _refused(await boss.post("/api/v1/cases/261206-00001/visit", json=visit), "answer")
    call = {
        "call_id": "c-2",
        "caller": "13812345678",
        "transcript": "路灯坏了",
        "started_at": "2026-12-06T10:00:00+08:00",
        "ended_at": "2026-12-06T10:05:00+08:00",
    }
    for field in ("urgent", "sms_consent", "publish_consent"):
        answer = await boss.post("/api/v1/hotline/transcripts", json=call | {field: 1})
        _refused(answer, field)
