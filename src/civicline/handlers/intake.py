"""One way in: every channel that leaves the work to a worker hands the message it parsed and
verified to ``accept`` (web chat, SMS, Telegram, Open311).

The message is stored once per channel and provider message id, so a redelivered webhook
makes no second row, then its processing is queued (``handlers.inbound`` takes it from there).
When Redis is away, stored is enough: the sweeper queues it once Redis is back. Nothing is
classified here, so a webhook answers as soon as the row is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicline.domain.messages import InboundMessage
from civicline.storage.base import InboxWriter, JobQueue
from civicline.storage.queue import queue_inbound


@dataclass(frozen=True, slots=True)
class Accepted:
    message: InboundMessage  # as stored, with its id
    created: bool  # False: a redelivery of a message stored before; nothing was queued

    @property
    def id(self) -> int:
        assert self.message.id is not None
        return self.message.id


async def accept(message: InboundMessage, *, inbox: InboxWriter, queue: JobQueue) -> Accepted:
    """Store ``message`` unless its provider id was seen, and queue a new one's processing."""
    stored, created = await inbox.add(message)
    accepted = Accepted(stored, created)
    if created:
        await queue_inbound(queue, accepted.id)
    return accepted
