"""Where the routers put what they map: ``handlers.intake.accept``, as every channel does
(stored once per update id, then queued; if Redis is down the row waits for the sweeper)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from civicline.domain.messages import InboundMessage, storable_message
from civicline.handlers.intake import accept
from civicline.storage.base import InboxWriter, JobQueue

log = logging.getLogger(__name__)


class IntakeFailed(Exception):
    """The inbox could not store an update; Telegram should deliver it again.

    Raised instead of the storage error itself, whose text can quote the SQL parameters (the
    citizen's words), because aiogram logs the exceptions that leave a handler.
    """


class Intake:
    def __init__(self, inbox: InboxWriter, queue: JobQueue, clock: Callable[[], datetime]) -> None:
        self.inbox = inbox
        self.queue = queue
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    async def store(self, message: InboundMessage) -> bool:
        """Store ``message`` and queue its processing; False when its update was seen before."""
        try:
            accepted = await accept(storable_message(message), inbox=self.inbox, queue=self.queue)
        except Exception as exc:
            raise IntakeFailed(f"the inbox is unavailable ({type(exc).__name__})") from None
        log.info(
            "telegram update stored",
            extra={
                "update_id": message.provider_message_id,
                "inbound_id": accepted.id,
                "new": accepted.created,
            },
        )
        return accepted.created
