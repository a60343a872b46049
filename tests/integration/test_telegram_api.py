"""The Telegram transport with the real aiogram Bot against a local fake Bot API: sending and its
failures, fetching files, long polling into the inbox, and the ``civicline telegram`` commands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civicline.channels.telegram import (
    FileUnavailable,
    Intake,
    Telegram,
    TelegramSender,
    build_dispatcher,
    make_bot,
    open_file,
)
from civicline.channels.telegram.polling import poll
from civicline.domain.messages import (
    SHARE_LOCATION,
    Channel,
    Choice,
    DeliveryStatus,
    OutboundMessage,
)
from civicline.gateway.cli import app
from civicline.handlers.ports import SendError
from civicline.storage import database
from tests.fakes.memory import MemoryInbox, MemoryQueue
from tests.fakes.telegram_api import (
    FakeTelegram,
    fake_telegram_in_thread,
    running_fake_telegram,
)
from tests.support.polling import eventually

CHAT = 5123456789
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "telegram"
SECRET = "webhook-secret_0123456789"


def update(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    data.update(changes)
    return data


def reply(text: str = "您的诉求已受理，案件编号 261127-00042。", **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        channel=Channel.TELEGRAM,
        recipient_address=str(CHAT),
        text=text,
        created_at=NOW,
        id=17,
        **fields,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with running_fake_telegram() as server:
        yield server


@pytest.fixture
async def telegram(fake: FakeTelegram) -> AsyncIterator[Telegram]:
    channel = Telegram(make_bot(fake.token, api_url=fake.url), build_dispatcher())
    yield channel
    await channel.close()


async def failure(sender: TelegramSender, message: OutboundMessage) -> SendError:
    with pytest.raises(SendError) as caught:
        await sender.send(message)
    return caught.value


async def test_a_reply_is_delivered_with_its_buttons(
    fake: FakeTelegram, telegram: Telegram
) -> None:
    sender = TelegramSender(telegram.bot)
    choices = [Choice(str(n), f"rate:261127-00042:{n}") for n in range(1, 6)]
    result = await sender.send(reply("请为本次办理评分", choices=choices))
    [call] = fake.sent_to(CHAT)
    assert result.status == DeliveryStatus.DELIVERED
    assert result.provider_message_id == "101"
    assert call.params["text"] == "请为本次办理评分"
    assert "parse_mode" not in call.params  # plain text: nothing read as markup
    [row] = call.params["reply_markup"]["inline_keyboard"]
    assert [(b["text"], b["callback_data"]) for b in row] == [
        (str(n), f"rate:261127-00042:{n}") for n in range(1, 6)
    ]


async def test_asking_for_the_location(fake: FakeTelegram, telegram: Telegram) -> None:
    sender = TelegramSender(telegram.bot)
    await sender.send(reply("问题在哪里？", choices=[Choice("发送位置", SHARE_LOCATION)]))
    [call] = fake.sent_to(CHAT)
    assert call.params["reply_markup"] == {
        "keyboard": [[{"text": "发送位置", "request_location": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


async def test_a_long_reply_goes_in_parts_with_the_buttons_on_the_last(
    fake: FakeTelegram, telegram: Telegram
) -> None:
    text = "经现场核查，已责令摊贩退回市场内经营，城管将每日巡查。" * 200  # 5,400 characters
    sender = TelegramSender(telegram.bot)
    result = await sender.send(reply(text, choices=[Choice("满意", "ok")]))
    first, second = fake.sent_to(CHAT)
    assert first.params["text"] + second.params["text"] == text
    assert "reply_markup" not in first.params and "reply_markup" in second.params
    assert result.provider_message_id == "102"


async def test_a_blocked_bot_fails_for_good(fake: FakeTelegram, telegram: Telegram) -> None:
    fake.block(CHAT)
    error = await failure(TelegramSender(telegram.bot), reply())
    assert error.permanent and error.reason == "telegram: blocked by the user"


async def test_flood_control_is_retried_after_telegrams_wait(
    fake: FakeTelegram, telegram: Telegram
) -> None:
    fake.flood(CHAT, retry_after=9)
    sender = TelegramSender(telegram.bot)
    error = await failure(sender, reply())
    assert not error.permanent and error.retry_after == 9.0
    assert str(CHAT) not in error.reason
    assert (await sender.send(reply())).status == DeliveryStatus.DELIVERED


async def test_an_unknown_chat_fails_for_good(fake: FakeTelegram, telegram: Telegram) -> None:
    fake.forget(CHAT)
    error = await failure(TelegramSender(telegram.bot), reply())
    assert error.permanent and error.reason == "telegram: Bad Request: chat not found"


async def test_server_errors_and_an_unreachable_api_are_retried(
    fake: FakeTelegram, telegram: Telegram
) -> None:
    fake.fail_next(502, "Bad Gateway", method="sendMessage")
    error = await failure(TelegramSender(telegram.bot), reply())
    assert not error.permanent and "Bad Gateway" in error.reason

    nowhere = make_bot(fake.token, api_url="http://127.0.0.1:9")
    try:
        error = await failure(TelegramSender(nowhere), reply())
    finally:
        await nowhere.session.close()
    assert not error.permanent and error.reason.startswith("telegram unreachable")


async def test_a_wrong_token_fails_for_good(fake: FakeTelegram) -> None:
    bot = make_bot("123:wrong", api_url=fake.url)
    try:
        error = await failure(TelegramSender(bot), reply())
    finally:
        await bot.session.close()
    assert error.permanent and "CIVICLINE_TELEGRAM_BOT_TOKEN" in error.reason
    assert "wrong" not in error.reason


async def test_a_file_is_fetched_and_streamed(fake: FakeTelegram, telegram: Telegram) -> None:
    content = b"\xff\xd8\xff\xe0" + b"jpeg" * 40_000  # 160 kB: several chunks
    file_id = fake.add_file(content, "photos/file_12.jpg")
    file = await open_file(telegram.bot, file_id)
    assert (file.name, file.media_type, file.size) == ("file_12.jpg", "image/jpeg", len(content))
    assert b"".join([chunk async for chunk in file.chunks]) == content

    with pytest.raises(FileUnavailable) as caught:
        await open_file(telegram.bot, "AgACAgUAAxkBAAInone")
    assert caught.value.missing

    fake.lose_download(file_id)  # getFile still answers; the download is 404
    with pytest.raises(FileUnavailable) as caught:
        await open_file(telegram.bot, file_id)
    assert caught.value.missing and caught.value.reason == "telegram: download answered HTTP 404"


async def test_polling_stores_updates_and_answers_buttons(
    fake: FakeTelegram, telegram: Telegram
) -> None:
    inbox, queue = MemoryInbox(), MemoryQueue()
    intake = Intake(inbox, queue, lambda: NOW)
    for name in ("message_zh.json", "callback_query.json", "group_message.json"):
        fake.push(update(name))
    stop = asyncio.Event()
    polling = asyncio.create_task(poll(telegram, intake, stop, poll_seconds=1))

    async def confirmed() -> bool:  # the next getUpdates confirms all three
        return any(c.params.get("offset") == "824011514" for c in fake.called("getUpdates"))

    await eventually(confirmed, within=10)
    stop.set()
    handled = await asyncio.wait_for(polling, 5)
    assert handled == 3 and fake.updates == []
    assert [m.provider_message_id for m in inbox.messages] == ["824011501", "824011507"]
    assert inbox.messages[1].choice == "confirm:yes"
    [answer] = fake.called("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "4382204138473951234"
    [first, *_] = fake.called("getUpdates")
    assert first.params["allowed_updates"] == ["message", "edited_message", "callback_query"]


async def test_polling_fetches_an_update_again_until_it_is_stored(
    fake: FakeTelegram, telegram: Telegram
) -> None:
    inbox, queue = MemoryInbox(), MemoryQueue()
    inbox.broken = True
    fake.push(update("message_en.json"))
    stop = asyncio.Event()
    intake = Intake(inbox, queue, lambda: NOW)
    polling = asyncio.create_task(poll(telegram, intake, stop, poll_seconds=1, min_delay=0.05))

    async def fetched_twice() -> bool:
        return len(fake.called("getUpdates")) >= 2

    await eventually(fetched_twice)
    assert inbox.rows == {}
    inbox.broken = False

    async def stored() -> bool:
        return bool(inbox.rows)

    await eventually(stored)
    stop.set()
    await asyncio.wait_for(polling, 5)
    assert [m.provider_message_id for m in inbox.messages] == ["824011502"]


async def test_polling_stops_at_once_while_waiting(fake: FakeTelegram, telegram: Telegram) -> None:
    stop = asyncio.Event()
    intake = Intake(MemoryInbox(), MemoryQueue(), lambda: NOW)
    polling = asyncio.create_task(poll(telegram, intake, stop, poll_seconds=5))

    async def waiting() -> bool:
        return bool(fake.requests)

    await eventually(waiting)
    stop.set()
    assert await asyncio.wait_for(polling, 1) == 0


def _cli_env(fake: FakeTelegram, **extra: str) -> dict[str, str]:
    return {
        "CIVICLINE_TELEGRAM_BOT_TOKEN": fake.token,
        "CIVICLINE_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "CIVICLINE_TELEGRAM_API_URL": fake.url,
        "CIVICLINE_PUBLIC_BASE_URL": "https://civic.example.gov",
        "CIVICLINE_LOG_LEVEL": "WARNING",
        **extra,
    }


def test_cli_sets_shows_and_deletes_the_webhook() -> None:
    runner = CliRunner()
    with fake_telegram_in_thread() as fake:
        fake.push(update("message_zh.json"))
        env = _cli_env(fake)
        result = runner.invoke(app, ["telegram", "set-webhook", "--drop-pending-updates"], env=env)
        assert result.exit_code == 0, result.output
        assert fake.webhook == {
            "url": "https://civic.example.gov/webhooks/telegram",
            "secret_token": SECRET,
            "allowed_updates": ["message", "edited_message", "callback_query"],
        }
        assert fake.updates == []  # dropped
        assert "Telegram answered ok=true" in result.output
        assert "webhook: https://civic.example.gov/webhooks/telegram" in result.output
        assert "bot: @civicline_12345_bot" in result.output

        custom = "https://hooks.example.gov/tg"
        env = _cli_env(fake, CIVICLINE_TELEGRAM_WEBHOOK_URL=custom)
        result = runner.invoke(app, ["telegram", "set-webhook", "--max-connections", "8"], env=env)
        assert result.exit_code == 0, result.output
        assert fake.webhook["url"] == custom and fake.webhook["max_connections"] == "8"

        result = runner.invoke(app, ["telegram", "info"], env=env)
        assert result.exit_code == 0 and f"webhook: {custom}" in result.output
        assert "max connections: 8" in result.output

        result = runner.invoke(app, ["telegram", "delete-webhook"], env=env)
        assert result.exit_code == 0 and "ok=true" in result.output and fake.webhook == {}

        refused = runner.invoke(
            app, ["telegram", "set-webhook", "--url", "http://insecure.example.gov"], env=env
        )
        assert refused.exit_code == 1
        assert "Telegram answered: Bad Request: bad webhook" in refused.output
        for output in (result.output, refused.output):
            assert fake.token not in output and SECRET not in output


def test_cli_explains_what_is_missing() -> None:
    runner = CliRunner()
    off = runner.invoke(app, ["telegram", "info"], env={"CIVICLINE_TELEGRAM_BOT_TOKEN": ""})
    assert off.exit_code == 2 and "CIVICLINE_TELEGRAM_BOT_TOKEN" in off.output
    token = "7123456789:AAEsecret-part"
    no_secret = runner.invoke(
        app,
        ["telegram", "info"],
        env={"CIVICLINE_TELEGRAM_BOT_TOKEN": token, "CIVICLINE_TELEGRAM_WEBHOOK_SECRET": ""},
    )
    assert no_secret.exit_code == 2
    assert "CIVICLINE_TELEGRAM_WEBHOOK_SECRET is required" in no_secret.output
    assert "secret-part" not in no_secret.output
    unreachable = runner.invoke(
        app,
        ["telegram", "info"],
        env={
            "CIVICLINE_TELEGRAM_BOT_TOKEN": token,
            "CIVICLINE_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "CIVICLINE_TELEGRAM_API_URL": "http://127.0.0.1:9",
        },
    )
    assert unreachable.exit_code == 1 and "cannot reach the Bot API" in unreachable.output
    assert "secret-part" not in unreachable.output


def test_cli_poll_answers_and_stops_cleanly_on_sigterm(tmp_path: Path, model_dir: Path) -> None:
    """The development loop: ``civicline telegram poll`` as its own process, on SQLite and the
    embedded Redis, with its worker: an update in, the bot's answer out, SIGTERM ends it."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'poll.db'}"
    database.upgrade(db_url)
    with fake_telegram_in_thread() as fake:
        fake.webhook = {"url": "https://civic.example.gov/webhooks/telegram"}
        fake.push(update("message_zh.json"))
        env = {
            **os.environ,
            **_cli_env(fake),
            "CIVICLINE_VAR_DIR": str(tmp_path / "var"),
            "CIVICLINE_DATABASE_URL": db_url,
            "CIVICLINE_MODEL_DIR": str(model_dir),
            "CIVICLINE_SECRET_KEY": "poll-test-key",
        }
        env.pop("CIVICLINE_REDIS_URL", None)  # the embedded Redis
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "civicline"), "telegram", "poll"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not fake.sent_to(CHAT) and process.poll() is None:
                assert time.monotonic() < deadline, "no answer from the polling bot"
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, output
    assert "stopped after 1 updates" in output
    assert fake.webhook == {}  # deleted before polling
    assert fake.sent_to(CHAT)[0].params["text"].strip()
    assert fake.token not in output and "烧烤店" not in output
