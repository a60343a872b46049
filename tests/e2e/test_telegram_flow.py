"""Telegram end to end: recorded updates posted to the gateway's webhook with the secret, the
real worker and dialogue, and the real aiogram Bot answering through a fake Bot API on loopback.

The dialogue's wording and steps are the bots package's business; these tests follow whatever
buttons the bot offers until it names a case number, and otherwise rely only on: a complaint
gets an answer in the same chat, ``/help`` gets an answer, ``/status <number>`` names it.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicline.domain.messages import Channel
from tests.fakes.telegram_api import BOT_USER, Call, FakeTelegram, running_fake_telegram
from tests.support.gateway import Gateway, serving
from tests.support.places import Places
from tests.support.polling import eventually

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
SECRET = "e2e-webhook-secret_42"
CASE_NUMBER = re.compile(r"\b\d{6}-\d{5}\b")
ZHANG, ALICE = 5123456789, 6234567890
_update_ids = itertools.count(900_000_001)


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def as_chat(data: dict[str, Any], chat_id: int, **message_changes: Any) -> dict[str, Any]:
    """The update from another private chat (a citizen of its own), with a fresh update id."""
    data = json.loads(json.dumps(data))
    data["update_id"] = next(_update_ids)
    kind = next(k for k in ("message", "edited_message", "callback_query") if k in data)
    event = data[kind]
    event["from"]["id"] = chat_id
    chat = event["message"]["chat"] if kind == "callback_query" else event["chat"]
    chat["id"] = chat_id
    if kind != "callback_query":
        event.update(message_changes)
    return data


@dataclass
class Tg:
    gateway: Gateway
    fake: FakeTelegram
    client: httpx.AsyncClient

    async def post(
        self, update: dict[str, Any] | bytes, secret: str | bytes | None = SECRET
    ) -> Any:
        headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        return await self.client.post("/webhooks/telegram", content=body, headers=headers)

    async def answers(self, chat: int, count: int, within: float = 20) -> list[Call]:
        async def enough() -> list[Call]:
            sent = self.fake.sent_to(chat)
            return sent if len(sent) >= count else []

        return list(await eventually(enough, within))

    async def stored(self, chat: int) -> list[Any]:
        services = self.gateway.services
        async with services.uow() as uow:
            return await uow.inbox.conversation(Channel.TELEGRAM, str(chat), limit=50)

    async def press(self, chat: int, answer: Call, data: str) -> Any:
        """The citizen presses the button with ``data`` under the bot's message ``answer``."""
        update = as_chat(payload("callback_query.json"), chat)
        query = update["callback_query"]
        query["id"] = str(next(_update_ids))
        query["data"] = data
        query["message"] = {
            "message_id": answer.result["message_id"],
            "from": BOT_USER,
            "chat": answer.result["chat"],
            "date": answer.result["date"],
            "text": answer.params["text"],
            "reply_markup": answer.params["reply_markup"],
        }
        response = await self.post(update)
        assert response.status_code == 200, response.text
        # The spinner stops with the webhook's own answer.
        assert response.json() == {
            "method": "answerCallbackQuery",
            "callback_query_id": query["id"],
        }
        return response

    async def until_case(self, chat: int, first: dict[str, Any]) -> tuple[str, list[Call]]:
        """Send ``first``, then follow the bot's buttons until an answer names a case number."""
        assert (await self.post(first)).status_code == 200
        seen = 1
        for _ in range(5):
            answers = await self.answers(chat, seen)
            last = answers[-1]
            if found := CASE_NUMBER.search(last.params["text"]):
                return found.group(), answers
            markup = last.params.get("reply_markup") or {}
            if markup.get("inline_keyboard"):
                await self.press(chat, last, markup["inline_keyboard"][0][0]["callback_data"])
            elif any(b.get("request_location") for row in markup.get("keyboard", []) for b in row):
                assert (await self.post(as_chat(payload("location.json"), chat))).status_code == 200
            else:
                raise AssertionError("the bot asked for something these tests cannot give")
            seen = len(answers) + 1
        raise AssertionError("no case number after five answers")


@pytest.fixture
async def tg(places: Places) -> AsyncIterator[Tg]:
    async with (
        running_fake_telegram() as fake,
        places.services(
            telegram_bot_token=fake.token,
            telegram_webhook_secret=SECRET,
            telegram_api_url=fake.url,
        ) as services,
        serving(services) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=10) as http,
    ):
        yield Tg(gateway, fake, http)


async def test_a_complaint_opens_a_case_and_the_answer_reaches_the_chat(tg: Tg) -> None:
    answer = await tg.post(payload("message_zh.json"))
    assert answer.status_code == 200 and answer.json() == {}
    [first] = await tg.answers(ZHANG, 1)
    assert first.params["chat_id"] == str(ZHANG)

    tg.fake.calls.clear()
    number, answers = await tg.until_case(ALICE, as_chat(payload("message_zh.json"), ALICE))
    boss = await tg.gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert case["channel"] == "telegram"
    inbound = [m for m in case["messages"] if m["direction"] == "inbound"]
    assert "烧烤店" in inbound[0]["text"]
    outbound = [m for m in case["messages"] if m["direction"] == "outbound"]
    assert outbound and all(m["status"] == "delivered" for m in outbound)  # no read receipts

    clerk_answer = "已约谈烧烤店经营者，今晚起十点前停止营业。"
    posted = await boss.post(f"/api/v1/cases/{number}/replies", json={"text": clerk_answer})
    assert posted.status_code == 202
    answers = await tg.answers(ALICE, len(answers) + 1)
    assert answers[-1].params["text"] == clerk_answer


async def test_help_and_status_commands(tg: Tg) -> None:
    await tg.post(payload("command_help_mention.json"))
    [help_answer] = await tg.answers(ZHANG, 1)
    assert help_answer.params["text"].strip()
    await tg.post(payload("command_status.json"))  # /status 261127-00042: no such case here
    _, status = await tg.answers(ZHANG, 2)
    assert "261127-00042" in status.params["text"]


async def test_a_forged_or_missing_secret_is_refused_and_nothing_stored(tg: Tg) -> None:
    update = payload("message_zh.json")
    missing = await tg.post(update, secret=None)
    assert missing.status_code == 401
    assert "X-Telegram-Bot-Api-Secret-Token" in missing.json()["detail"]
    assert (await tg.post(update, secret="e2e-webhook-secret_43")).status_code == 401
    assert (await tg.post(update, secret=SECRET + "x")).status_code == 401
    assert (await tg.post(update, secret="秘密".encode())).status_code == 401  # no crash
    assert await tg.stored(ZHANG) == []
    assert tg.fake.calls == []


async def test_malformed_updates_are_refused_and_nothing_stored(tg: Tg) -> None:
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'"update"', b"[" * 60_000):
        answer = await tg.post(body)
        assert answer.status_code == 400, body
        assert "detail" in answer.json()
    no_chat = payload("message_zh.json")
    del no_chat["message"]["chat"]
    answer = await tg.post(no_chat)
    assert answer.status_code == 400
    assert answer.json()["detail"] == "not a Telegram update: invalid or missing message.chat"
    assert "烧烤店" not in answer.text  # the reason names fields, never values
    bad_id = await tg.post({"update_id": "abc"})
    assert bad_id.status_code == 400 and "update_id" in bad_id.json()["detail"]
    too_big = await tg.post({"update_id": 1, "message": {"text": "x" * 70_000}})
    assert too_big.status_code == 413
    assert await tg.stored(ZHANG) == []


async def test_a_replayed_update_is_stored_and_answered_once(tg: Tg) -> None:
    update = payload("command_help_mention.json")
    assert (await tg.post(update)).status_code == 200
    assert (await tg.post(update)).status_code == 200
    await tg.answers(ZHANG, 1)
    again = await tg.post(update)
    assert again.status_code == 200 and again.json() == {}
    stored = await tg.stored(ZHANG)
    assert [m.provider_message_id for m in stored] == [str(update["update_id"])]
    # Another update that would get an answer proves the worker has caught up.
    await tg.post(as_chat(payload("command_start.json"), ZHANG))
    await tg.answers(ZHANG, 2)
    assert len(tg.fake.sent_to(ZHANG)) == 2


async def test_what_is_not_served_is_acknowledged_and_dropped(tg: Tg) -> None:
    for name in (
        "group_message.json",
        "channel_post.json",
        "sticker.json",
        "unknown_update_type.json",
        "contact_other.json",
    ):
        answer = await tg.post(payload(name))
        assert answer.status_code == 200 and answer.json() == {}, name
    assert await tg.stored(ZHANG) == [] and await tg.stored(-1001876543210) == []


async def test_a_blocked_user_makes_the_reply_fail_visibly(tg: Tg) -> None:
    number, _ = await tg.until_case(ALICE, as_chat(payload("message_en.json"), ALICE))
    tg.fake.block(ALICE)
    boss = await tg.gateway.staff("boss")
    reply = await boss.post(f"/api/v1/cases/{number}/replies", json={"text": "Fixed today."})
    outbound_id = reply.json()["outbound_id"]

    async def failed() -> dict[str, Any] | None:
        case = (await boss.get(f"/api/v1/cases/{number}")).json()
        row = next(
            m for m in case["messages"] if m["direction"] == "outbound" and m["id"] == outbound_id
        )
        return row if row["status"] == "failed" else None

    row = await eventually(failed)
    assert row["last_error"] == "telegram: blocked by the user" and row["attempts"] == 1


async def test_flood_control_delays_the_retry_and_then_delivers(tg: Tg) -> None:
    chat = 6000000001
    tg.fake.flood(chat, retry_after=3)  # longer than the first backoff (2 s)
    await tg.post(as_chat(payload("command_help_mention.json"), chat))
    [delivered] = await tg.answers(chat, 1, within=30)
    tries = [c for c in tg.fake.requests if c.method == "sendMessage" and c.chat_id == str(chat)]
    assert len(tries) == 2
    assert tries[1].at - tries[0].at >= 2.9  # not before Telegram's retry_after
    assert delivered.params["text"] == tries[1].params["text"]


async def test_staff_open_a_photo_from_the_chat(tg: Tg) -> None:
    photo = b"\xff\xd8\xff\xe0JFIF" + bytes(range(256)) * 300
    file_id = tg.fake.add_file(photo, "photos/file_7.jpg")
    update = as_chat(payload("photo_caption.json"), ALICE)
    for size in update["message"]["photo"]:
        size["file_id"] = file_id if size["width"] == 1280 else "AgACAgUAAxkBAAIsmall"
    number, _ = await tg.until_case(ALICE, update)

    boss = await tg.gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    [with_photo] = [m for m in case["messages"] if m["attachments"]]
    assert with_photo["attachments"] == [f"photo:{file_id}"]
    path = f"/api/v1/cases/{number}/attachments/{with_photo['id']}/0"
    opened = await boss.get(path)
    assert opened.status_code == 200 and opened.content == photo
    assert opened.headers["content-type"] == "image/jpeg"
    assert opened.headers["x-content-type-options"] == "nosniff"

    assert (
        await boss.get(f"/api/v1/cases/{number}/attachments/{with_photo['id']}/1")
    ).status_code == 404
    assert (await boss.get(f"/api/v1/cases/{number}/attachments/999999/0")).status_code == 404
    assert (await boss.get("/api/v1/cases/991231-00001/attachments/1/0")).status_code == 404
    assert (await tg.client.get(path)).status_code == 401
    other = "zhao" if case["department"] != "transport" else "li"
    outsider = await tg.gateway.staff(other)
    assert (await outsider.get(path)).status_code == 403
    tg.fake.lose_download(file_id)
    gone = await boss.get(path)
    assert gone.status_code == 404 and tg.fake.token not in gone.text


async def test_a_document_is_a_download_not_a_page(tg: Tg) -> None:
    page = b"<html><script>alert(1)</script></html>"
    file_id = tg.fake.add_file(page, "documents/file_3.html")
    update = as_chat(payload("photo_caption.json"), ALICE)
    message = update["message"]
    del message["photo"]
    message["document"] = {"file_id": file_id, "file_unique_id": "AgADx", "file_name": "a.html"}
    number, _ = await tg.until_case(ALICE, update)
    boss = await tg.gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    [with_file] = [m for m in case["messages"] if m["attachments"]]
    opened = await boss.get(f"/api/v1/cases/{number}/attachments/{with_file['id']}/0")
    assert opened.status_code == 200 and opened.content == page
    assert opened.headers["content-type"] == "application/octet-stream"
    assert opened.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in opened.headers["content-security-policy"]


async def test_telegram_off_refuses_the_webhook(gateway: Gateway) -> None:
    async with gateway.citizen() as client:
        answer = await client.post(
            "/webhooks/telegram",
            json=payload("message_zh.json"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    assert answer.status_code == 404
    assert "CIVICLINE_TELEGRAM_BOT_TOKEN" in answer.json()["detail"]


async def test_names_phones_texts_and_the_token_stay_out_of_the_logs(
    tg: Tg, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number, _ = await tg.until_case(ZHANG, payload("message_zh.json"))
    await tg.post(payload("contact_own.json"))
    await tg.post(payload("edited_message.json"))
    tg.fake.block(ZHANG)
    boss = await tg.gateway.staff("boss")
    await boss.post(f"/api/v1/cases/{number}/replies", json={"text": "张伟您好，已派人处理"})
    await tg.post(payload("message_zh.json"), secret="wrong")
    await tg.post(b"{broken")
    await eventually(lambda: _settled(boss, number))

    # Messages and every structured field (extras, args) of every record.
    logged = caplog.text + "\n".join(str(vars(record)) for record in caplog.records)
    assert number in logged and "824011501" in logged  # case numbers and update ids are logged
    for secret in (
        "烧烤店",
        "凌晨三点",
        "已派人处理",
        "zhangwei_sh",
        "13912345678",
        tg.fake.token,
        tg.fake.token.split(":")[1],
        SECRET,
    ):
        assert secret not in logged, secret


async def _settled(boss: httpx.AsyncClient, number: str) -> bool:
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    return all(
        m["status"] in ("delivered", "failed")
        for m in case["messages"]
        if m["direction"] == "outbound"
    )


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
async def test_unstorable_characters_are_replaced_and_the_text_kept(tg: Tg, bad: str) -> None:
    """Refusing Telegram's update would only make it come again (or get lost): the text is
    kept, with U+FFFD where the character no database can store was."""
    update = as_chat(payload("message_zh.json"), ALICE, text=f"井盖丢了{bad}，在解放路")
    assert (await tg.post(update)).status_code == 200
    [stored] = await tg.stored(ALICE)
    assert stored.text == "井盖丢了\ufffd，在解放路"
