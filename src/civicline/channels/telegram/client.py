"""The aiogram Bot: one per process, talking to the Bot API (or a local fake), and file fetching.

``make_bot`` builds no connection; the aiohttp session opens on the first request and is
closed with ``await bot.session.close()`` on shutdown. Requests time out after 10 s (aiogram's
default is 60 s, longer than a delivery job should hang).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import AiogramError, TelegramBadRequest, TelegramNotFound

REQUEST_TIMEOUT = 10.0
DOWNLOAD_TIMEOUT = 60
# The update types the routers handle; setWebhook and getUpdates ask for these only.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")  # the name goes into a Content-Disposition header


def make_bot(token: str, *, api_url: str, timeout: float = REQUEST_TIMEOUT) -> Bot:
    """The bot for ``token`` on the Bot API at ``api_url`` (``https://api.telegram.org``)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    return Bot(token, session=session)


class FileUnavailable(Exception):
    """A file Telegram will not hand over: unknown or expired id, over 20 MB, or unreachable.

    ``missing`` tells "no such file" (404) from "could not fetch it now" (502). The reason never
    holds the download URL, which carries the bot token.
    """

    def __init__(self, reason: str, *, missing: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


@dataclass
class TelegramFile:
    name: str
    media_type: str | None  # guessed from the file name Telegram gave it
    size: int | None
    chunks: AsyncIterator[bytes]


async def open_file(bot: Bot, file_id: str) -> TelegramFile:
    """Start downloading a file a citizen sent (getFile, then the file URL), streaming.

    The first chunk is read here, so a failure shows before any byte is sent on.
    """
    try:
        file = await bot.get_file(file_id)
    except (TelegramBadRequest, TelegramNotFound):
        raise FileUnavailable("telegram: no such file (or over 20 MB)", missing=True) from None
    except AiogramError as exc:
        raise FileUnavailable(
            f"telegram: getFile failed ({type(exc).__name__})", missing=False
        ) from None
    if not file.file_path:
        raise FileUnavailable("telegram: the file cannot be downloaded", missing=True)
    url = bot.session.api.file_url(bot.token, file.file_path)
    stream = bot.session.stream_content(url, timeout=DOWNLOAD_TIMEOUT, raise_for_status=True)
    try:
        first = await anext(stream, b"")
    except aiohttp.ClientResponseError as exc:
        # Its text names the URL, token included: keep only the status.
        raise FileUnavailable(
            f"telegram: download answered HTTP {exc.status}", missing=exc.status == 404
        ) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise FileUnavailable(
            f"telegram: download failed ({type(exc).__name__})", missing=False
        ) from None

    async def chunks() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()

    name = _SAFE_NAME.sub("_", PurePosixPath(file.file_path).name) or "file"
    return TelegramFile(
        name=name,
        media_type=mimetypes.guess_type(name)[0],
        size=file.file_size,
        chunks=chunks(),
    )
