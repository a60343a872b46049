"""Where the routers put what they map: the inbox (once per update id), then the job queue.

Exactly what the SMS webhook does: store, and queue ``process_inbound`` only for a new row;
if Redis is down the row waits for the sweeper. Nothing is classified here, so a webhook
answers as soon as the row is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from redis.exceptions import RedisError

from civicline.domain.messages import InboundMessage, storable_message
from civicline.handlers.inbox import receive
from civicline.handlers.sweep import PROCESS_INBOUND
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
            stored, created = await receive(storable_message(message), inbox=self.inbox)
        except Exception as exc:
            raise IntakeFailed(f"the inbox is unavailable ({type(exc).__name__})") from None
        assert stored.id is not None
        if created:
            try:
                await self.queue.enqueue(PROCESS_INBOUND, stored.id)
            except (RedisError, OSError):
                log.warning(
                    "queue unavailable; left for the sweeper", extra={"inbound_id": stored.id}
                )
        log.info(
            "telegram update stored",
            extra={
                "update_id": message.provider_message_id,
                "inbound_id": stored.id,
                "new": created,
            },
        )
        return created
