"""Delivery: move an outbox message through sending to sent or failed, and record receipts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, DeliveryStatus
from civicline.handlers.ports import Sender, SendError
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

PENDING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
# Answers on these channels are call-back tasks (回访) or letters by post: staff phone the
# citizen and mark the task done (``handlers.callbacks``), or a clerk posts the answer and
# records its tracking number (``handlers.letters.record_post``); no sender touches them.
PEOPLE_DELIVER = frozenset({Channel.HOTLINE, Channel.LETTER})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 300.0

    def delay(self, attempt: int, hint: float | None = None) -> float:
        backoff = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        return max(backoff, hint or 0.0)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: DeliveryStatus | None  # None: nothing to do, already finished
    retry_in: float | None = None


async def deliver(
    outbound_id: int,
    *,
    uow_factory: UnitOfWorkFactory,
    senders: Mapping[Channel, Sender],
    policy: RetryPolicy,
    now: datetime,
) -> DeliveryOutcome:
    """Send one outbox message. Safe to run again: finished messages are left alone.

    A message found in ``sending`` was being sent when a worker died; it is sent again
    (at least once), and channels that can pass the outbox id to the provider do so.
    """
    async with uow_factory() as uow:
        message = await uow.outbox.get(outbound_id, lock=True)
        if message.status not in PENDING or message.channel in PEOPLE_DELIVER:
            return DeliveryOutcome(None)
        handle = ContactHandle(message.channel, message.recipient_address)
        if await uow.citizens.is_opted_out(handle):
            message.status = DeliveryStatus.FAILED
            message.last_error = "not sent: the citizen opted out (STOP)"
            message.updated_at = now
            await uow.outbox.save(message)
            await uow.commit()
            return DeliveryOutcome(DeliveryStatus.FAILED)
        message.status = DeliveryStatus.SENDING
        message.attempts += 1
        message.updated_at = now
        await uow.outbox.save(message)
        await uow.commit()

    sender = senders.get(message.channel)
    try:
        if sender is None:
            raise SendError(f"channel {message.channel} is not enabled", permanent=True)
        result = await sender.send(message)
    except SendError as exc:
        return await _record_failure(outbound_id, exc, uow_factory(), policy, now)

    async with uow_factory() as uow:
        message = await uow.outbox.get(outbound_id, lock=True)
        if message.status == DeliveryStatus.SENDING:
            message.status = result.status
            message.provider_message_id = result.provider_message_id
            message.last_error = None
            message.updated_at = now
            await uow.outbox.save(message)
            await uow.commit()
        log.info("outbound sent", extra={"outbound_id": outbound_id, "channel": message.channel})
        return DeliveryOutcome(message.status)


async def _record_failure(
    outbound_id: int, error: SendError, uow: UnitOfWork, policy: RetryPolicy, now: datetime
) -> DeliveryOutcome:
    async with uow:
        message = await uow.outbox.get(outbound_id, lock=True)
        message.last_error = error.reason[:500]
        message.updated_at = now
        retry = not error.permanent and message.attempts < policy.max_attempts
        message.status = DeliveryStatus.QUEUED if retry else DeliveryStatus.FAILED
        await uow.outbox.save(message)
        await uow.commit()
    log.warning(
        "outbound send failed",
        extra={"outbound_id": outbound_id, "permanent": not retry, "attempt": message.attempts},
    )
    if retry:
        return DeliveryOutcome(
            DeliveryStatus.QUEUED, policy.delay(message.attempts, error.retry_after)
        )
    return DeliveryOutcome(DeliveryStatus.FAILED)


async def record_receipt(
    outbound_id: int,
    status: DeliveryStatus,
    *,
    uow: UnitOfWork,
    now: datetime,
    channel: Channel,
    recipient: str | None = None,
    error: str | None = None,
) -> bool:
    """Apply a delivery receipt; False when it does not belong or would move backwards."""
    async with uow:
        try:
            message = await uow.outbox.get(outbound_id, lock=True)
        except NotFound:
            return False
        if message.channel != channel or (
            recipient is not None and message.recipient_address != recipient
        ):
            return False
        if not message.can_move_to(status):
            return False
        message.status = status
        message.updated_at = now
        if error:
            message.last_error = error[:500]
        await uow.outbox.save(message)
        await uow.commit()
        return True
