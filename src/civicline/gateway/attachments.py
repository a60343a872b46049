"""Opening what a citizen attached: shared by the staff API and the console (same access rule
as the case, ``handlers.case_actions.case_thread``).

Telegram photos and documents are kept as file ids and fetched from the Bot API only now
(getFile, then the download), streamed through. SMS media are links, shown on the case as they
are; they are not served here. Scans, photos and PDFs that came with letters (the mailbox form,
e-mail, the registry's scans) are kept in the file store and referenced as ``file:<sha256>``;
their names are the ones the letter gave (``meta.letter.files`` or ``meta.mail.files``, in the
order of the references).

The file is the citizen's, not ours: only common image types are shown inline; anything else is
a download, a PDF as ``application/pdf``, the rest as ``application/octet-stream`` (a stored
file's type is read again from its bytes, not taken from the sender); every answer forbids
sniffing and scripts, so a document cannot run as a page of the console.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from civicline.domain.accounts import StaffUser
from civicline.domain.letters import file_type
from civicline.domain.messages import Channel, InboundMessage
from civicline.gateway.bootstrap import Services
from civicline.gateway.deps import telegram_of
from civicline.handlers import case_actions

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
TELEGRAM_KINDS = ("photo", "document")
STORED = "file"  # ``file:<sha256>``: in the file store


async def serve_attachment(
    number: str, message_id: int, index: int, user: StaffUser, services: Services
) -> StreamingResponse:
    """The ``index``-th attachment of inbound message ``message_id`` of the case."""
    thread = await case_actions.case_thread(number, user=user, uow=services.uow())
    message = next((m for m in thread.inbound if m.id == message_id), None)
    if message is None or index >= len(message.attachments):
        raise HTTPException(404, f"case {number} has no attachment {index} on message {message_id}")
    kind, _, file_id = message.attachments[index].partition(":")
    if kind == STORED and file_id:
        return await _stored(message, index, file_id, services)
    if message.channel != Channel.TELEGRAM or kind not in TELEGRAM_KINDS or not file_id:
        raise HTTPException(404, "this attachment is a link, not a stored file: open it directly")
    telegram = telegram_of(services)
    from civicline.channels.telegram import FileUnavailable, open_file

    try:
        file = await open_file(telegram.bot, file_id)
    except FileUnavailable as exc:
        raise HTTPException(404 if exc.missing else 502, exc.reason) from None
    return _response(file.chunks, file.media_type, file.name)


async def _stored(
    message: InboundMessage, index: int, digest: str, services: Services
) -> StreamingResponse:
    return await stored_file(digest, stored_name(message, index), services)


async def stored_file(
    digest: str,
    name: str,
    services: Services,
    sniff: Callable[[bytes], str | None] = file_type,
) -> StreamingResponse:
    """A file of the store by its hash, its type read again from its bytes with ``sniff``."""
    data = await services.files.get(digest)
    if data is None:
        raise HTTPException(404, "the file is no longer in the file store")

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return _response(chunks(), sniff(data), name)


def stored_name(message: InboundMessage, index: int) -> str:
    """The name the letter gave its ``index``-th file, or ``file-N``."""
    facts: dict[str, Any] = message.meta.get("letter") or message.meta.get("mail") or {}
    files = facts.get("files") or []
    named = files[index].get("name") if index < len(files) else None
    return str(named) if named else f"file-{index + 1}"


def content_disposition(kind: str, name: str) -> str:
    """``inline``/``attachment`` with the name as ASCII and as UTF-8 (RFC 6266, RFC 5987):
    a Chinese file name survives, and no quote or line break reaches the header."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _response(chunks: AsyncIterator[bytes], media_type: str | None, name: str) -> StreamingResponse:
    inline = media_type in INLINE_TYPES
    shown = media_type if inline or media_type == "application/pdf" else None
    headers = {
        "Content-Disposition": content_disposition("inline" if inline else "attachment", name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(
        chunks, media_type=shown or "application/octet-stream", headers=headers
    )
