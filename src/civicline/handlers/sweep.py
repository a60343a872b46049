"""The sweeper: re-queue whatever the database says is unfinished.

Redis is only the fast path. If it lost its data, or a worker died mid-job, the inbox rows
still ``received`` and the outbox rows still ``queued``/``sending`` are queued again. Job ids
make this a no-op for work that is already waiting or running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicline.storage.base import JobQueue, UnitOfWorkFactory
from civicline.storage.queue import DELIVER_OUTBOUND, PROCESS_INBOUND

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    inbound_found: int
    inbound_queued: int
    outbound_found: int
    outbound_queued: int


async def sweep(
    *,
    uow_factory: UnitOfWorkFactory,
    queue: JobQueue,
    now: datetime,
    grace: timedelta,
    batch: int = 500,
) -> SweepResult:
    async with uow_factory() as uow:
        inbound = await uow.inbox.unprocessed_ids(received_before=now - grace, limit=batch)
        outbound = await uow.outbox.unfinished_ids(updated_before=now - grace, limit=batch)
    inbound_queued = sum([await queue.enqueue(PROCESS_INBOUND, i) for i in inbound])
    outbound_queued = sum([await queue.enqueue(DELIVER_OUTBOUND, i, ahead=True) for i in outbound])
    result = SweepResult(len(inbound), inbound_queued, len(outbound), outbound_queued)
    if inbound_queued or outbound_queued:
        log.info("sweeper re-queued unfinished work", extra={"result": result})
    return result
