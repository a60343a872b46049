"""SMS over Twilio: parsing inbound webhooks and status callbacks, and sizing replies.

Paths: ``POST /webhooks/twilio/sms`` (an inbound SMS or MMS), ``POST /webhooks/twilio/status``
(delivery status callbacks for the messages we send).
Authentication: the ``X-Twilio-Signature`` header, an HMAC-SHA1 with the auth token over the
configured public URL of the webhook (``public_base_url`` + path, never the URL the request
arrived on behind a proxy) and the sorted form parameters.
Message types: text, up to 1,600 characters; MMS media URLs are kept as attachments, not
downloaded. Senders must be phone numbers: short codes and alphanumeric sender ids (carrier
and service messages) are refused, since no reply can reach them.
Settings: ``twilio_account_sid``, ``twilio_auth_token``, ``twilio_from_number``,
``public_base_url``, ``sms_default_region``.

The inbound webhook answers with an empty TwiML ``<Response/>``. The acknowledgement (the case
number) goes out as a separate outbound message through the REST API, so it is tracked like
every other reply (delivery receipts, retries) and the webhook stays fast.

Keywords (STOP, START, HELP, status, my cases, a rating) are the conversation's business:
``civicline.bots.commands`` reads them on every channel; STOP and START act on SMS only.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import phonenumbers
from twilio.rest import Client

from civicline.channels import twilio_api
from civicline.channels.base import SendResult
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    guess_language,
)

MAX_BODY = 1600
MAX_MEDIA = 10
log = logging.getLogger(__name__)

STATUS_PATH = "/webhooks/twilio/status"
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

_PHONE_CHARS = re.compile(r"\+?[0-9 ().-]{3,32}")
_SID = re.compile(r"[A-Za-z0-9]{2,64}")


@functools.lru_cache(maxsize=4096)  # citizens write again; parsing cost 0.05 ms a message
def normalize_phone(raw: str, default_region: str = "CN") -> str:
    """The E.164 form of a phone number; numbers without a country code are read in the region."""
    candidate = raw.strip()
    if not _PHONE_CHARS.fullmatch(candidate):
        raise InvalidInput("sender is not a phone number")
    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("sender is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("sender is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise InvalidInput(f"missing {name}")
    return value


def _sid(params: Mapping[str, str]) -> str:
    sid = _required(params, "MessageSid")
    if not _SID.fullmatch(sid):
        raise InvalidInput("malformed MessageSid")
    return sid


def _media_urls(params: Mapping[str, str]) -> list[str]:
    raw = params.get("NumMedia", "0").strip() or "0"
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput("NumMedia is not a number")
    count = int(raw)
    if count > MAX_MEDIA:
        raise InvalidInput(f"more than {MAX_MEDIA} media")
    return [_required(params, f"MediaUrl{i}") for i in range(count)]


def to_inbound(params: Mapping[str, str], *, now: datetime, default_region: str) -> InboundMessage:
    """An inbound message from Twilio's webhook form.

    Text may be empty only beside media; the language is then left unset.
    """
    sid = _sid(params)
    sender = normalize_phone(_required(params, "From"), default_region)
    body = params.get("Body", "")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"message longer than {MAX_BODY} characters")
    text = body.strip()
    media = _media_urls(params)
    if not text and not media:
        raise InvalidInput("empty message")
    return InboundMessage(
        channel=Channel.SMS,
        provider_message_id=sid,
        sender_address=sender,
        text=text,
        received_at=now,
        language=guess_language(text) if text else None,
        attachments=media,
    )


# GSM 03.38: the basic character set (without the escape) and the extension table.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: Literal["GSM-7", "UCS-2"]
    count: int


def _gsm_septets(ch: str) -> int | None:
    if ch in _GSM_BASIC:
        return 1
    if ch in _GSM_EXTENDED:
        return 2
    return None


def _utf16_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _pack(sizes: list[int], single: int, per_part: int) -> int:
    """Parts needed when a character (an escape pair, a surrogate pair) never straddles two."""
    if not sizes:
        return 0
    if sum(sizes) <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            count, used = count + 1, 0
        used += size
    return count


def count_segments(text: str) -> Segments:
    """How many SMS segments a body takes; an empty body takes none.

    GSM-7: 160 septets alone, 153 per segment when concatenated. UCS-2: 70 UTF-16 units alone,
    67 per segment. Twilio's optional Smart Encoding (replacing curly quotes and the like) is
    not modelled, so this is an upper bound when it is on.
    """
    septets = [_gsm_septets(ch) for ch in text]
    if all(size is not None for size in septets):
        return Segments("GSM-7", _pack([s for s in septets if s is not None], 160, 153))
    return Segments("UCS-2", _pack([_utf16_units(ch) for ch in text], 70, 67))


_SENTENCE_END = re.compile(r"[。！？]+[”’」』）]*|[.!?]+[\"')\]]*(?=\s)|\n")
_CLAUSE_END = re.compile(r"[，；：、]")
_SPACE = re.compile(r"\s")


def _fit(text: str, limit: int) -> int:
    """The longest prefix (in characters) that stays within ``limit`` UTF-16 units."""
    used = 0
    for index, ch in enumerate(text):
        used += _utf16_units(ch)
        if used > limit:
            return index
    return len(text)


def _last_cut(pattern: re.Pattern[str], text: str, end: int, *, at_start: bool) -> int:
    cuts = (m.start() if at_start else m.end() for m in pattern.finditer(text, 0, end + 1))
    return max((cut for cut in cuts if cut <= end), default=0)


def _cut(text: str, end: int) -> int:
    """Where to end the next part: a sentence end, then a clause end, then a space, else hard."""
    tiers = (
        (_SENTENCE_END, False),
        (_CLAUSE_END, False),
        (_SPACE, True),
    )
    for floor in (max(end // 2, 1), 1):
        for pattern, at_start in tiers:
            cut = _last_cut(pattern, text, end, at_start=at_start)
            if cut >= floor:
                return cut
    return end


def split_reply(text: str, max_chars: int = MAX_BODY) -> list[str]:
    """A reply as one or more message bodies of at most ``max_chars`` each.

    Length is counted in UTF-16 units (an emoji outside the BMP counts two), which is never
    less than Twilio's character count. Whitespace at a cut is dropped; nothing else is.
    """
    if max_chars < 2:
        raise ValueError("max_chars must be at least 2")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        end = _fit(rest, max_chars)
        if end == len(rest):
            parts.append(rest)
            break
        cut = _cut(rest, end)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts


@dataclass(frozen=True, slots=True)
class Receipt:
    status: DeliveryStatus
    error: str | None
    provider_message_id: str


_RECEIPT_STATUS: dict[str, DeliveryStatus | None] = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
    **dict.fromkeys(
        (
            "queued",
            "accepted",
            "scheduled",
            "sending",
            "receiving",
            "received",
            "read",
            "partially_delivered",
        ),
        None,
    ),
}


def to_receipt(params: Mapping[str, str]) -> Receipt | None:
    """A delivery receipt from a status callback, or None for a status that moves nothing.

    Twilio's queued/accepted/scheduled/sending happen between our send call and the carrier,
    where our outbox already says ``sending``; receiving/received/read and partially_delivered
    do not occur for the single-recipient SMS we send.
    """
    sid = _sid(params)
    twilio_status = _required(params, "MessageStatus").lower()
    if twilio_status not in _RECEIPT_STATUS:
        raise InvalidInput("unknown MessageStatus")
    status = _RECEIPT_STATUS[twilio_status]
    if status is None:
        return None
    error = None
    if status == DeliveryStatus.FAILED:
        code = params.get("ErrorCode", "").strip()
        error = (
            f"twilio error {code}"
            if code.isascii() and code.isdigit()
            else f"twilio {twilio_status}"
        )
    return Receipt(status=status, error=error, provider_message_id=sid)


class SmsSender:
    """Sends outbox messages as SMS through Twilio's REST API, with a status callback.

    Replies over 1,600 characters go as several messages; the callback rides on the last one,
    so the outbox row follows the part that completes the reply.
    """

    channel = Channel.SMS

    def __init__(self, client: Client, *, from_number: str, public_base_url: str) -> None:
        self.client = client
        self.from_number = from_number
        self.callback_base = twilio_api.public_url(public_base_url, STATUS_PATH, "")

    async def send(self, message: OutboundMessage) -> SendResult:
        parts = split_reply(message.text)
        sid = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                sid, _ = await twilio_api.send_sms(
                    self.client,
                    to=message.recipient_address,
                    from_=self.from_number,
                    body=part,
                    status_callback=f"{self.callback_base}?outbound_id={message.id}"
                    if last
                    else None,
                )
            except Exception as exc:
                raise twilio_api.classify_error(exc) from exc
        segments = count_segments(message.text)
        log.info(
            "sms sent",
            extra={
                "outbound_id": message.id,
                "parts": len(parts),
                "segments": segments.count,
                "encoding": segments.encoding,
            },
        )
        return SendResult(DeliveryStatus.SENT, provider_message_id=sid)
