"""The Telegram channel over recorded updates: each update type through the real Dispatcher and
routers into the inbox, the keyboards, the error mapping, and the settings it needs."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, Update
from pydantic import ValidationError

from civicline.channels.telegram import (
    Intake,
    IntakeFailed,
    Telegram,
    build_dispatcher,
    classify_error,
    make_bot,
    reply_markup,
)
from civicline.channels.telegram.keyboards import BadChoice
from civicline.channels.telegram.mapping import attachments_of
from civicline.channels.telegram.routers import webhook_answer
from civicline.domain.messages import SHARE_LOCATION, Channel, Choice, InboundMessage, Language
from civicline.gateway.settings import Settings
from civicline.handlers.ports import SendError
from civicline.storage.queue import PROCESS_INBOUND
from tests.fakes.memory import MemoryInbox, MemoryQueue
from tests.fakes.telegram_api import DEFAULT_TOKEN

FIXTURES = Path(__file__).parent.parent / "fixtures" / "telegram"
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
ZHANG, ALICE, LI = "5123456789", "6234567890", "5987654321"


def update(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    data.update(changes)
    return data


class Harness:
    def __init__(self, telegram: Telegram) -> None:
        self.telegram = telegram
        self.inbox = MemoryInbox()
        self.queue = MemoryQueue()
        self.intake = Intake(self.inbox, self.queue, lambda: NOW)

    async def feed(self, data: dict[str, Any]) -> Any:
        parsed = Update.model_validate(data, context={"bot": self.telegram.bot})
        return await self.telegram.feed(parsed, self.intake)

    async def stored(self, name: str, **changes: Any) -> InboundMessage | None:
        before = len(self.inbox.rows)
        await self.feed(update(name, **changes))
        if len(self.inbox.rows) == before:
            return None
        return list(self.inbox.rows.values())[-1]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    telegram = Telegram(make_bot(DEFAULT_TOKEN, api_url="http://127.0.0.1:9"), build_dispatcher())
    yield Harness(telegram)
    await telegram.close()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def test_a_chinese_complaint(harness: Harness) -> None:
    stored = await harness.stored("message_zh.json")
    assert stored == InboundMessage(
        channel=Channel.TELEGRAM,
        provider_message_id="824011501",
        sender_address=ZHANG,
        text=update("message_zh.json")["message"]["text"],
        received_at=at(1795741200),
        language=Language.ZH,
        id=1,
    )
    assert harness.queue.jobs == [(PROCESS_INBOUND, 1)]


async def test_languages_come_from_the_client(harness: Harness) -> None:
    english = await harness.stored("message_en.json")
    other = await harness.stored("message_other_language.json")
    assert english is not None and english.language == Language.EN
    assert english.sender_address == ALICE
    assert other is not None and other.language is None and other.text.startswith("Мусор")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("command_start.json", "/start"),
        ("command_status.json", "/status 261127-00042"),
        ("command_help_mention.json", "/help@civicline_12345_bot"),
    ],
)
async def test_commands_pass_through_as_text(harness: Harness, name: str, text: str) -> None:
    stored = await harness.stored(name)
    assert stored is not None
    assert stored.text == text and stored.choice is None and not stored.edited


async def test_an_edit_carries_the_new_text(harness: Harness) -> None:
    stored = await harness.stored("edited_message.json")
    assert stored is not None
    assert stored.edited and "凌晨三点" in stored.text
    assert stored.provider_message_id == "824011506"
    assert stored.received_at == at(1795741325)  # the edit, not the original message


async def test_a_button_press_is_a_choice_and_is_answered(harness: Harness) -> None:
    data = update("callback_query.json")
    answer = await harness.feed(data)
    stored = list(harness.inbox.rows.values())[-1]
    assert stored.choice == "confirm:yes"
    assert stored.text == "" and stored.sender_address == ZHANG
    assert stored.received_at == NOW and stored.language == Language.ZH
    assert isinstance(answer, AnswerCallbackQuery)
    assert answer.callback_query_id == data["callback_query"]["id"]
    assert webhook_answer(answer) == {
        "method": "answerCallbackQuery",
        "callback_query_id": "4382204138473951234",
    }


async def test_a_button_under_an_inline_mode_message_is_answered_not_stored(
    harness: Harness,
) -> None:
    data = update("callback_query.json")
    query = dict(data["callback_query"])
    del query["message"]
    query["inline_message_id"] = "AgAAAN0cAQBa8w0A"
    answer = await harness.feed({"update_id": 824011599, "callback_query": query})
    assert isinstance(answer, AnswerCallbackQuery) and harness.inbox.rows == {}


async def test_a_location(harness: Harness) -> None:
    stored = await harness.stored("location.json")
    assert stored is not None
    assert stored.location == (31.230416, 121.473701) and stored.text == ""


async def test_a_photo_keeps_its_largest_size_and_caption(harness: Harness) -> None:
    stored = await harness.stored("photo_caption.json")
    assert stored is not None
    assert stored.attachments == ["photo:AgACAgUAAxkBAAIEvGdbXz1aPhoto-large-1280"]
    assert stored.text == "人民路与解放路路口的井盖丢了，很危险"
    assert stored.language == Language.ZH


def test_the_largest_photo_wins_whatever_the_order() -> None:
    data = update("photo_caption.json")["message"]
    data["photo"].reverse()
    message = Message.model_validate(data)
    assert attachments_of(message) == ["photo:AgACAgUAAxkBAAIEvGdbXz1aPhoto-large-1280"]


async def test_a_document(harness: Harness) -> None:
    stored = await harness.stored("document.json")
    assert stored is not None
    assert stored.attachments == ["document:BQACAgUAAxkBAAIEvmdbX3Document-noise-log"]
    assert stored.text == ""


async def test_the_citizens_own_phone_only(harness: Harness) -> None:
    own = await harness.stored("contact_own.json")
    assert own is not None
    assert own.shared_phone == "8613912345678" and own.text == ""
    assert await harness.stored("contact_other.json") is None


@pytest.mark.parametrize(
    "name",
    ["group_message.json", "channel_post.json", "sticker.json", "unknown_update_type.json"],
)
async def test_what_is_not_served_is_dropped_quietly(harness: Harness, name: str) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert await harness.feed(update(name)) is None
    assert harness.inbox.rows == {} and harness.queue.jobs == []
    # aiogram warns about unknown update types with the whole update in the warning text.
    assert not seen, [str(w.message)[:60] for w in seen]


async def test_a_redelivered_update_is_stored_once(harness: Harness) -> None:
    await harness.feed(update("message_zh.json"))
    await harness.feed(update("message_zh.json"))
    assert len(harness.inbox.rows) == 1 and len(harness.queue.jobs) == 1


async def test_a_storage_failure_says_nothing_of_the_text(harness: Harness) -> None:
    harness.inbox.broken = True
    with pytest.raises(IntakeFailed) as caught:
        await harness.feed(update("message_zh.json"))
    assert "烧烤店" not in str(caught.value) and caught.value.__suppress_context__


def test_plain_choices_are_an_inline_keyboard_one_a_row() -> None:
    markup = reply_markup([Choice("是，噪音扰民", "confirm:yes"), Choice("不是", "confirm:no")])
    assert isinstance(markup, InlineKeyboardMarkup)
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [[("是，噪音扰民", "confirm:yes")], [("不是", "confirm:no")]]


def test_short_labels_share_rows_of_five() -> None:
    markup = reply_markup([Choice(str(n), f"rate:{n}") for n in range(1, 7)])
    assert isinstance(markup, InlineKeyboardMarkup)
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [
        ["1", "2", "3", "4", "5"],
        ["6"],
    ]


def test_sharing_the_location_is_a_one_time_reply_keyboard() -> None:
    markup = reply_markup([Choice("发送我的位置", SHARE_LOCATION), Choice("跳过", "skip")])
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.one_time_keyboard and markup.resize_keyboard
    [[location], [skip]] = markup.keyboard
    assert location.text == "发送我的位置" and location.request_location
    assert skip.text == "跳过" and not skip.request_location
    # As aiogram sends it: a JSON object under reply_markup.
    dumped = SendMessage(chat_id=1, text="x", reply_markup=markup).model_dump(exclude_none=True)
    assert dumped["reply_markup"]["keyboard"][0][0] == {
        "text": "发送我的位置",
        "request_location": True,
    }


def test_no_choices_no_keyboard_and_bad_choices_are_refused() -> None:
    assert reply_markup([]) is None
    with pytest.raises(BadChoice, match="1-64 bytes"):
        reply_markup([Choice("太长", "x" * 65)])
    with pytest.raises(BadChoice, match="label"):
        reply_markup([Choice(" ", "ok")])


def _method() -> SendMessage:
    return SendMessage(chat_id=5123456789, text="您好")


@pytest.mark.parametrize(
    ("exc", "permanent", "reason"),
    [
        (
            TelegramForbiddenError(_method(), "Forbidden: bot was blocked by the user"),
            True,
            "telegram: blocked by the user",
        ),
        (
            TelegramForbiddenError(_method(), "Forbidden: user is deactivated"),
            True,
            "telegram: the user deleted their account",
        ),
        (
            TelegramBadRequest(_method(), "Bad Request: chat not found"),
            True,
            "telegram: Bad Request: chat not found",
        ),
        (
            TelegramUnauthorizedError(_method(), "Unauthorized"),
            True,
            "telegram: Unauthorized (check CIVICLINE_TELEGRAM_BOT_TOKEN)",
        ),
        (TelegramNotFound(_method(), "Not Found"), True, None),
        (
            TelegramServerError(_method(), "Internal Server Error"),
            False,
            "telegram: server error (Internal Server Error)",
        ),
        (TelegramNetworkError(_method(), "Request timeout error"), False, None),
        (TimeoutError(), False, "telegram unreachable (TimeoutError)"),
    ],
)
def test_errors_are_permanent_or_retried(
    exc: Exception, permanent: bool, reason: str | None
) -> None:
    error = classify_error(exc)
    assert error.permanent is permanent and error.retry_after is None
    if reason is not None:
        assert error.reason == reason
    assert "5123456789" not in error.reason


def test_flood_control_says_when_to_retry() -> None:
    error = classify_error(TelegramRetryAfter(_method(), "Too Many Requests: retry after 7", 7))
    assert not error.permanent and error.retry_after == 7.0
    assert "5123456789" not in error.reason  # aiogram's own text names the chat


def test_a_send_error_stays_as_it_is() -> None:
    error = SendError("x", permanent=True)
    assert classify_error(error) is error


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_telegram_is_off_without_a_token_and_needs_a_secret_with_one() -> None:
    assert not _settings().telegram_enabled
    assert _settings(telegram_bot_token="").telegram_bot_token is None
    assert _settings(telegram_api_url="").telegram_api_url == "https://api.telegram.org"
    with pytest.raises(ValidationError) as caught:
        _settings(telegram_bot_token=DEFAULT_TOKEN)
    assert "CIVICLINE_TELEGRAM_WEBHOOK_SECRET is required" in str(caught.value)
    assert DEFAULT_TOKEN not in str(caught.value)  # the error never prints the token
    with pytest.raises(ValidationError, match="does not look like a bot token"):
        _settings(telegram_bot_token="not a token", telegram_webhook_secret="s3cret")
    with pytest.raises(ValidationError, match="A-Z, a-z, 0-9"):
        _settings(telegram_bot_token=DEFAULT_TOKEN, telegram_webhook_secret="has spaces")
    on = _settings(telegram_bot_token=DEFAULT_TOKEN, telegram_webhook_secret="s3cret_-A")
    assert on.telegram_enabled
