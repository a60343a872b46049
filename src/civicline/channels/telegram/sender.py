"""Replies to Telegram chats: ``sendMessage`` with the choices as a keyboard.

Delivery state: the Bot API answers ``sendMessage`` with the message it put in the chat, so a
reply is ``delivered`` as soon as the call returns (there is no "sent but not yet delivered"
stage, and bots get no read receipts: nothing moves it further).

Failures, as the delivery handler retries them:
* 403 (blocked by the user, account deleted, never started the bot): permanent;
* 400 (chat not found, a bad button): permanent, with Telegram's description;
* 429 flood control: retried no earlier than Telegram's ``retry_after``;
* 5xx, timeouts and network errors: retried with backoff.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from civicline.channels.sms import split_reply
from civicline.channels.telegram.keyboards import BadChoice, reply_markup
from civicline.domain.messages import Channel, DeliveryStatus, OutboundMessage
from civicline.handlers.ports import SendError, SendResult

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # UTF-16 code units in one message

_FORBIDDEN = [
    ("blocked", "telegram: blocked by the user"),
    ("deactivated", "telegram: the user deleted their account"),
    ("initiate", "telegram: the user never started the bot"),
    ("kicked", "telegram: the bot was removed from the chat"),
]


def _description(exc: TelegramAPIError) -> str:
    """Telegram's own words (``Bad Request: chat not found``), never aiogram's decoration,
    which adds the chat id."""
    text = exc.message.split("\n", 1)[0] if exc.message else type(exc).__name__
    return text[:200]


def classify_error(exc: Exception) -> SendError:
    """A failed Bot API call as a ``SendError`` (permanent or to retry, maybe after a wait)."""
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, TelegramRetryAfter):
        return SendError(
            f"telegram: flood control, retry after {exc.retry_after} s",
            permanent=False,
            retry_after=float(exc.retry_after),
        )
    if isinstance(exc, TelegramForbiddenError):
        description = exc.message.lower()
        reason = next(
            (label for word, label in _FORBIDDEN if word in description),
            "telegram: forbidden (403)",
        )
        return SendError(reason, permanent=True)
    if isinstance(exc, TelegramEntityTooLarge):
        return SendError("telegram: request too large (413)", permanent=True)
    if isinstance(exc, TelegramNetworkError):
        return SendError(f"telegram unreachable ({type(exc.__cause__).__name__})", permanent=False)
    if isinstance(exc, TelegramBadRequest):
        return SendError(f"telegram: {_description(exc)}", permanent=True)
    if isinstance(exc, TelegramMigrateToChat):
        return SendError("telegram: the chat became a supergroup", permanent=True)
    if isinstance(exc, (TelegramUnauthorizedError, TelegramNotFound)):
        return SendError(
            f"telegram: {_description(exc)} (check CIVICLINE_TELEGRAM_BOT_TOKEN)", permanent=True
        )
    if isinstance(exc, TelegramServerError):
        return SendError(f"telegram: server error ({_description(exc)})", permanent=False)
    if isinstance(exc, TelegramAPIError):
        return SendError(f"telegram: {_description(exc)}", permanent=False)
    if isinstance(exc, AiogramError):
        return SendError(f"telegram: unreadable answer ({type(exc).__name__})", permanent=False)
    if isinstance(exc, (TimeoutError, OSError)):
        return SendError(f"telegram unreachable ({type(exc).__name__})", permanent=False)
    return SendError(f"telegram send failed ({type(exc).__name__})", permanent=False)


class TelegramSender:
    """Sends outbox messages to Telegram chats (the chat id is the recipient address).

    Replies over 4,096 characters go as several messages; the keyboard rides on the last one.
    Texts are sent plain (no parse mode), so nothing a citizen or clerk wrote is read as markup.
    """

    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            chat_id = int(message.recipient_address)
        except ValueError:
            raise SendError("telegram: the recipient is not a chat id", permanent=True) from None
        try:
            markup = reply_markup(message.choices)
        except BadChoice as exc:
            raise SendError(f"telegram: {exc}", permanent=True) from None
        parts = split_reply(message.text, MAX_TEXT)
        if not parts:
            raise SendError("telegram: nothing to send (empty text)", permanent=True)
        sent_id = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                sent = await self.bot.send_message(
                    chat_id=chat_id, text=part, reply_markup=markup if last else None
                )
            except Exception as exc:
                raise classify_error(exc) from exc
            sent_id = sent.message_id
        log.info(
            "telegram sent",
            extra={"outbound_id": message.id, "parts": len(parts), "telegram_id": sent_id},
        )
        return SendResult(DeliveryStatus.DELIVERED, provider_message_id=str(sent_id))
