"""One way in: every channel hands the message it parsed and verified to ``accept``: web chat,
SMS, Telegram, Open311, e-mail (``handlers.letters.accept_mail``), hotline transcripts
(``handlers.hotline.file_transcript``), form and paper letters (``letters.file_letter``).

The message is stored once per channel and provider message id, so a redelivered webhook
makes no second row, then its processing is queued (``handlers.inbound`` takes it from there).
When Redis is away, stored is enough: the sweeper queues it once Redis is back. Nothing is
classified here, so a webhook answers as soon as the row is committed. Where someone waits
for the case number (an operator filing a call, a citizen sending the mailbox form, a clerk
registering a letter) nothing is queued: the caller processes the stored row at once, and if
that is cut short the sweeper queues it.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicline.domain.messages import InboundMessage
from civicline.storage.base import HitCounter, InboxWriter, JobQueue, LimitedInboxWriter
from civicline.storage.queue import queue_inbound


@dataclass(frozen=True, slots=True)
class Accepted:
    message: InboundMessage  # as stored, with its id
    created: bool  # False: a redelivery of a message stored before; nothing was queued

    @property
    def id(self) -> int:
        assert self.message.id is not None
        return self.message.id


async def accept(
    message: InboundMessage, *, inbox: InboxWriter, queue: JobQueue | None
) -> Accepted:
    """Store ``message`` unless its provider id was seen, and queue a new one's processing
    (``queue`` None: the caller processes it at once)."""
    stored, created = await inbox.add(message)
    accepted = Accepted(stored, created)
    if created and queue is not None:
        await queue_inbound(queue, accepted.id)
    return accepted


async def accept_within(
    message: InboundMessage,
    limit: HitCounter,
    key: str,
    *,
    inbox: LimitedInboxWriter,
    queue: JobQueue,
) -> Accepted | None:
    """``accept`` for a rate-limited sender: the hit on ``key`` is counted with the store
    (one Redis call per stored batch); None when over the limit, and nothing is stored."""
    added = await inbox.add_within(message, limit, key)
    if added is None:
        return None
    accepted = Accepted(*added)
    if accepted.created:
        await queue_inbound(queue, accepted.id)
    return accepted
