"""Staff open what citizens attached.

``GET /api/v1/cases/{number}/attachments/{message_id}/{index}``: the ``index``-th attachment of
inbound message ``message_id`` of case ``number``.

The same access rule as the case itself (``handlers.staff.case_thread``: staff see their own
department's cases, supervisors all). Telegram photos and documents are kept as file ids and
fetched from the Bot API only now (getFile, then the download), streamed through. SMS media are
links, shown on the case as they are; they are not served here.

The file is the citizen's, not ours: only common image types are shown inline; anything else is
a download (``application/octet-stream``), and every answer forbids sniffing and scripts, so a
document cannot run as a page of the console.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import StreamingResponse

from civicline.channels.telegram import FileUnavailable, open_file
from civicline.domain.messages import Channel
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.gateway.webhooks.telegram import telegram_of
from civicline.handlers import staff

router = APIRouter(prefix="/api/v1", tags=["staff"])

INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
TELEGRAM_KINDS = ("photo", "document")


@router.get(
    "/cases/{number}/attachments/{message_id}/{index}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}, "image/jpeg": {}}}},
)
async def open_attachment(
    number: str,
    message_id: int,
    index: Annotated[int, Path(ge=0)],
    user: UserDep,
    services: ServicesDep,
) -> StreamingResponse:
    """The ``index``-th attachment of inbound message ``message_id`` of the case."""
    thread = await staff.case_thread(number, user=user, uow=services.uow())
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
