"""Telegram through aiogram 3: one bot, one Dispatcher, routers that only map updates.

Path: ``POST /webhooks/telegram`` (``civicline.gateway.webhooks.telegram``); for development,
``civicline telegram poll`` reads the same updates by long polling.
Authentication: the ``X-Telegram-Bot-Api-Secret-Token`` header, which Telegram sends with
every update once ``setWebhook`` was given ``secret_token`` (``civicline telegram
set-webhook``); compared in constant time with the configured secret.
Message types (private chats only; groups, channels and other update types are acknowledged
and dropped): text and slash commands, photos and documents (kept as file ids, fetched only
when staff open them), locations, the citizen's own contact card, inline-button presses
(callback queries, answered at once) and edited messages.
Settings: ``telegram_bot_token``, ``telegram_webhook_secret``, ``telegram_api_url``,
``telegram_webhook_url``.

Every update becomes at most one ``InboundMessage`` whose provider id is the update id, so a
redelivered update is stored once. Replies go out with ``sendMessage``; Telegram's answer means
the message is in the chat, so it is recorded ``delivered`` at once (bots get no read receipts,
so nothing moves it further).
"""

from civicline.channels.telegram.client import (
    ALLOWED_UPDATES,
    FileUnavailable,
    TelegramFile,
    make_bot,
    open_file,
)
from civicline.channels.telegram.intake import Intake, IntakeFailed
from civicline.channels.telegram.keyboards import reply_markup
from civicline.channels.telegram.routers import Telegram, build_dispatcher, drop_unknown
from civicline.channels.telegram.sender import TelegramSender, classify_error

__all__ = [
    "ALLOWED_UPDATES",
    "FileUnavailable",
    "Intake",
    "IntakeFailed",
    "Telegram",
    "TelegramFile",
    "TelegramSender",
    "build_dispatcher",
    "classify_error",
    "drop_unknown",
    "make_bot",
    "open_file",
    "reply_markup",
]
