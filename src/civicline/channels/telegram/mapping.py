"""Telegram objects as domain ``InboundMessage``s: the transport's whole contract with the dialogue.

* provider id: the update id (one stored message per update; redelivery stores nothing new);
* sender: the chat id (private chats only: there it equals the user id);
* language: the Telegram client's ``language_code`` when it is Chinese or English;
* text: the message text or caption, slash commands unchanged (``/status 261127-00042``,
  ``/start@CivicBot``): the dialogue reads them;
* photo: ``photo:<file id of the largest size>``; document: ``document:<file id>``;
* location: ``(latitude, longitude)``; contact: ``shared_phone`` when it is the sender's own;
* button press: ``choice`` = the callback data; edit: ``edited`` with the new text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Chat, Message, User

from civicline.domain.messages import Channel, InboundMessage, Language


def language_of(user: User | None) -> Language | None:
    code = (user.language_code or "").lower() if user is not None else ""
    if code.startswith("zh"):
        return Language.ZH
    if code.startswith("en"):
        return Language.EN
    return None


def is_private(chat: Chat) -> bool:
    return chat.type == ChatType.PRIVATE


def _message(update_id: int, message: Message, **fields: Any) -> InboundMessage:
    fields.setdefault("text", "")
    fields.setdefault("received_at", message.date)
    return InboundMessage(
        channel=Channel.TELEGRAM,
        provider_message_id=str(update_id),
        sender_address=str(message.chat.id),
        language=language_of(message.from_user),
        **fields,
    )


def attachments_of(message: Message) -> list[str]:
    """The message's photo (its largest size) and document as ``kind:<file id>``."""
    found = []
    if message.photo:
        largest = max(
            message.photo, key=lambda size: (size.width * size.height, size.file_size or 0)
        )
        found.append(f"photo:{largest.file_id}")
    if message.document is not None:
        found.append(f"document:{message.document.file_id}")
    return found


def text_message(update_id: int, message: Message) -> InboundMessage:
    """A typed message or a slash command."""
    return _message(update_id, message, text=message.text or "")


def media_message(update_id: int, message: Message) -> InboundMessage:
    """A photo or document, with its caption as the text."""
    return _message(
        update_id, message, text=message.caption or "", attachments=attachments_of(message)
    )


def location_message(update_id: int, message: Message) -> InboundMessage | None:
    if message.location is None:
        return None
    where = (message.location.latitude, message.location.longitude)
    return _message(update_id, message, location=where)


def contact_message(update_id: int, message: Message) -> InboundMessage | None:
    """The citizen's own phone number; someone else's card (another user, or none) is ignored."""
    contact, sender = message.contact, message.from_user
    if contact is None or sender is None or contact.user_id != sender.id:
        return None
    return _message(update_id, message, shared_phone=contact.phone_number)


def _edited_at(message: Message) -> datetime:
    # aiogram types ``edit_date`` as a plain unix time, unlike ``date``.
    if message.edit_date is None:
        return message.date
    return datetime.fromtimestamp(message.edit_date, UTC)


def edited_message(update_id: int, message: Message) -> InboundMessage:
    """The new text (or caption) of a message the citizen edited."""
    return _message(
        update_id,
        message,
        text=message.text or message.caption or "",
        attachments=attachments_of(message),
        received_at=_edited_at(message),
        edited=True,
    )


def button_press(
    update_id: int, callback: CallbackQuery, *, now: datetime
) -> InboundMessage | None:
    """An inline button pressed under one of our messages in a private chat."""
    if callback.data is None or callback.message is None:
        return None  # a game button, or a button under an inline-mode message: not ours
    chat = callback.message.chat
    if not is_private(chat):
        return None
    return InboundMessage(
        channel=Channel.TELEGRAM,
        provider_message_id=str(update_id),
        sender_address=str(chat.id),
        text="",
        received_at=now,
        language=language_of(callback.from_user),
        choice=callback.data,
    )
