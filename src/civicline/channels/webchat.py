"""Web chat: the citizen page at ``/`` and its JSON endpoints.

Paths: ``GET /`` (the page), ``POST /api/v1/webchat/messages`` (a citizen message),
``GET /api/v1/webchat/messages`` (the conversation), ``POST /api/v1/webchat/receipts``
(the page confirms it showed replies: that is delivery).
Authentication: none. A conversation cookie (``civicline_chat``, 192 random bits, HttpOnly,
SameSite=Lax) names the conversation; it is the citizen's address on this channel.
Message types: text (up to ``webchat_max_length`` characters).
Settings: ``webchat_max_length``, ``webchat_rate_limit_per_minute``.

Sending is publishing: a reply is ``sent`` once the page may fetch it, and ``delivered``
when the page sends its receipt.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from civicline.channels.base import SendResult
from civicline.domain.bounds import MAX_ROW_ID
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    Language,
    OutboundMessage,
    guess_language,
)

COOKIE = "civicline_chat"
_CONVERSATION_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
VISIBLE = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


def new_conversation_id() -> str:
    return secrets.token_urlsafe(24)


def valid_conversation_id(value: str | None) -> bool:
    return bool(value and _CONVERSATION_RE.match(value))


class ChatMessageIn(BaseModel):
    client_message_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    text: str
    language: Literal["zh", "en"] | None = None


class ChatMessageAccepted(BaseModel):
    message_id: int
    duplicate: bool


class ChatMessageOut(BaseModel):
    id: str
    direction: Literal["inbound", "outbound"]
    text: str
    created_at: datetime
    status: str
    case_number: str | None = None


class Conversation(BaseModel):
    messages: list[ChatMessageOut]


class Receipts(BaseModel):
    ids: list[Annotated[int, Strict(), Field(ge=1, le=MAX_ROW_ID)]] = Field(max_length=200)


def to_inbound(conversation_id: str, payload: ChatMessageIn, *, now: datetime) -> InboundMessage:
    text = payload.text.strip()
    return InboundMessage(
        channel=Channel.WEBCHAT,
        provider_message_id=f"{conversation_id}:{payload.client_message_id}",
        sender_address=conversation_id,
        text=text,
        received_at=now,
        language=Language(payload.language) if payload.language else guess_language(text),
    )


def conversation_view(
    inbound: list[InboundMessage],
    outbound: list[OutboundMessage],
    case_numbers: dict[int, str],
) -> Conversation:
    """Both directions, oldest first; replies appear once they are sent."""
    items = [
        ChatMessageOut(
            id=f"in-{m.id}",
            direction="inbound",
            text=m.text,
            created_at=m.received_at,
            status=m.status,
            case_number=case_numbers.get(m.case_id) if m.case_id else None,
        )
        for m in inbound
    ] + [
        ChatMessageOut(
            id=f"out-{m.id}",
            direction="outbound",
            text=m.text,
            created_at=m.created_at,
            status=m.status,
            case_number=case_numbers.get(m.case_id) if m.case_id else None,
        )
        for m in outbound
        if m.status in VISIBLE
    ]
    items.sort(key=lambda item: item.created_at)
    return Conversation(messages=items)


class WebchatSender:
    channel = Channel.WEBCHAT

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(DeliveryStatus.SENT, provider_message_id=f"webchat-{message.id}")
