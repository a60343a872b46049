"""Messages in and out: the inbox and the outbox of the gateway."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from civicline.domain.text import storable, storable_value


class Channel(enum.StrEnum):
    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    SMS = "sms"
    HOTLINE = "hotline"
    VOICE = "voice"
    OPEN311 = "open311"
    EMAIL = "email"  # the mayor's mailbox over IMAP/SMTP
    MAILBOX = "mailbox"  # the mayor's mailbox web form (书记市长信箱)
    LETTER = "letter"  # a paper letter registered by a clerk; answers go by post
    VISIT = "visit"  # a visit to a reception venue registered by a clerk (domain.visits)


class ChannelKind(enum.StrEnum):
    """What a stored inbound message is, which says who processes it (``handlers.inbound``)."""

    CONVERSATION = "conversation"  # a citizen writing to the bot: web chat, SMS, Telegram
    TRANSCRIPT = "transcript"  # a call written down by the hotline
    SERVICE_REQUEST = "service_request"  # a report from an Open311 app
    LETTER = "letter"  # the mayor's mailbox (form, e-mail) and paper letters


KIND_OF_CHANNEL = {
    Channel.HOTLINE: ChannelKind.TRANSCRIPT,
    Channel.OPEN311: ChannelKind.SERVICE_REQUEST,
    Channel.EMAIL: ChannelKind.LETTER,
    Channel.MAILBOX: ChannelKind.LETTER,
    Channel.LETTER: ChannelKind.LETTER,
}


def kind_of(channel: Channel) -> ChannelKind:
    return KIND_OF_CHANNEL.get(channel, ChannelKind.CONVERSATION)


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


# Where a delivery may go next. A receipt can arrive before the send call has returned,
# so sending -> delivered is allowed; delivered and failed are final.
DELIVERY_MOVES: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.QUEUED: frozenset({DeliveryStatus.SENDING, DeliveryStatus.FAILED}),
    DeliveryStatus.SENDING: frozenset(
        {
            DeliveryStatus.SENT,
            DeliveryStatus.DELIVERED,
            DeliveryStatus.QUEUED,
            DeliveryStatus.FAILED,
        }
    ),
    DeliveryStatus.SENT: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}),
    DeliveryStatus.DELIVERED: frozenset(),
    DeliveryStatus.FAILED: frozenset(),
}


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


def guess_language(text: str) -> Language:
    """Chinese if the text holds any CJK ideograph, English otherwise."""
    if any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text):
        return Language.ZH
    return Language.EN


@dataclass(frozen=True, slots=True)
class Choice:
    """A button offered with an outbound message; pressing it comes back as ``choice``."""

    label: str
    data: str  # at most 64 bytes: Telegram's limit for callback data


# A choice with this data asks the citizen to share their location (a channel that cannot
# do that leaves it out).
SHARE_LOCATION = "@location"


@dataclass(slots=True)
class InboundMessage:
    channel: Channel
    provider_message_id: str
    sender_address: str
    text: str
    received_at: datetime
    language: Language | None = None
    id: int | None = None
    citizen_id: int | None = None
    case_id: int | None = None
    status: InboundStatus = InboundStatus.RECEIVED
    attachments: list[str] = field(default_factory=list)  # "photo:<file id>", "document:<id>"
    location: tuple[float, float] | None = None  # latitude, longitude shared by the citizen
    choice: str | None = None  # the data of a button the citizen pressed
    shared_phone: str | None = None  # a phone number the citizen shared (Telegram contact)
    edited: bool = False  # the citizen edited an earlier message; this is its new text
    meta: dict[str, Any] = field(default_factory=dict)  # channel facts (hotline call, Open311)


def storable_message(message: InboundMessage) -> InboundMessage:
    """``message`` with each character no database can store replaced by U+FFFD: for a
    provider's message (Telegram, Twilio), which refusing would lose."""
    return replace(
        message,
        provider_message_id=storable(message.provider_message_id),
        sender_address=storable(message.sender_address),
        text=storable(message.text),
        attachments=[storable(a) for a in message.attachments],
        choice=None if message.choice is None else storable(message.choice),
        shared_phone=None if message.shared_phone is None else storable(message.shared_phone),
        meta=storable_value(message.meta),
    )


@dataclass(slots=True)
class OutboundMessage:
    channel: Channel
    recipient_address: str
    text: str
    created_at: datetime
    case_id: int | None = None
    citizen_id: int | None = None
    in_reply_to: int | None = None
    author: str = "bot"
    id: int | None = None
    status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    provider_message_id: str | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    choices: list[Choice] = field(default_factory=list)

    def can_move_to(self, target: DeliveryStatus) -> bool:
        return target in DELIVERY_MOVES[self.status]
