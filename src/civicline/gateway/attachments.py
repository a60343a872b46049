"""Opening what a citizen attached: shared by the staff API and the console (same access rule
as the case, ``handlers.case_actions.case_thread``).

Telegram photos and documents are kept as file ids and fetched from the Bot API only now
(getFile, then the download), streamed through. SMS media are links, shown on the case as they
are; they are not served here.

The file is the citizen's, not ours: only common image types are shown inline; anything else is
a download (``application/octet-stream``), and every answer forbids sniffing and scripts, so a
document cannot run as a page of the console.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from civicline.channels.telegram import FileUnavailable, open_file
from civicline.domain.accounts import StaffUser
from civicline.domain.messages import Channel
from civicline.gateway.bootstrap import Services
from civicline.gateway.deps import telegram_of
from civicline.handlers import case_actions

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
TELEGRAM_KINDS = ("photo", "document")


async def serve_attachment(
    number: str, message_id: int, index: int, user: StaffUser, services: Services
) -> StreamingResponse:
    """The ``index``-th attachment of inbound message ``message_id`` of the case."""
    thread = await case_actions.case_thread(number, user=user, uow=services.uow())
    message = next((m for m in thread.inbound if m.id == message_id), None)
    if message is None or index >= len(message.attachments):
        raise HTTPException(404, f"case {number} has no attachment {index} on message {message_id}")
    kind, _, file_id = message.attachments[index].partition(":")
    if message.channel != Channel.TELEGRAM or kind not in TELEGRAM_KINDS or not file_id:
        raise HTTPException(404, "this attachment is a link, not a stored file: open it directly")
    telegram = telegram_of(services)
    try:
        file = await open_file(telegram.bot, file_id)
    except FileUnavailable as exc:
        raise HTTPException(404 if exc.missing else 502, exc.reason) from None
    inline = file.media_type in INLINE_TYPES
    headers = {
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{file.name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(
        file.chunks,
        media_type=file.media_type if inline else "application/octet-stream",
        headers=headers,
    )
