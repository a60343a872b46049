"""Delivery: move an outbox message through sending to sent or failed, and record receipts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, DeliveryStatus, OutboundMessage
from civicline.handlers.ports import Sender, SendError, SendResult
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
    [outcome] = await deliver_many(
        [outbound_id], uow_factory=uow_factory, senders=senders, policy=policy, now=now
    )
    return outcome


async def deliver_many(
    outbound_ids: Sequence[int],
    *,
    uow_factory: UnitOfWorkFactory,
    senders: Mapping[Channel, Sender],
    policy: RetryPolicy,
    now: datetime,
) -> list[DeliveryOutcome]:
    """``deliver`` for many outbox messages (an outcome each, in order): the rows read and
    marked ``sending`` in one transaction (a statement each), the messages sent concurrently,
    what came of them written back in a second. ``NotFound`` (before anything is done) when
    an id has no message."""
    outcomes: dict[int, DeliveryOutcome] = {i: DeliveryOutcome(None) for i in outbound_ids}
    async with uow_factory() as uow:
        found = await uow.outbox.get_many(outbound_ids, lock=True)
        pending = [m for m in found if m.status in PENDING and m.channel not in PEOPLE_DELIVER]
        if not pending:
            return [outcomes[i] for i in outbound_ids]
        stopped = await uow.citizens.opted_out(
            ContactHandle(m.channel, m.recipient_address) for m in pending
        )
        sending: list[OutboundMessage] = []
        for message in pending:
            message.updated_at = now
            if ContactHandle(message.channel, message.recipient_address) in stopped:
                message.status = DeliveryStatus.FAILED
                message.last_error = "not sent: the citizen opted out (STOP)"
                outcomes[_id(message)] = DeliveryOutcome(DeliveryStatus.FAILED)
            else:
                message.status = DeliveryStatus.SENDING
                message.attempts += 1
                sending.append(message)
        await uow.outbox.save_many(pending)
        await uow.commit()
    if not sending:
        return [outcomes[i] for i in outbound_ids]

    results = await asyncio.gather(*(_send(m, senders) for m in sending))
    done = dict(zip((_id(m) for m in sending), results, strict=True))
    unexpected: list[Exception] = []
    async with uow_factory() as uow:
        changed: list[OutboundMessage] = []
        for message in await uow.outbox.get_many(done, lock=True):
            result = done[_id(message)]
            if isinstance(result, Exception) and not isinstance(result, SendError):
                unexpected.append(result)  # left in ``sending``: the sweeper sends it again
                continue
            if isinstance(result, SendError):
                message.last_error = result.reason[:500]
                message.updated_at = now
                retry = not result.permanent and message.attempts < policy.max_attempts
                message.status = DeliveryStatus.QUEUED if retry else DeliveryStatus.FAILED
                changed.append(message)
                log.warning(
                    "outbound send failed",
                    extra={
                        "outbound_id": message.id,
                        "permanent": not retry,
                        "attempt": message.attempts,
                    },
                )
                outcomes[_id(message)] = (
                    DeliveryOutcome(
                        DeliveryStatus.QUEUED, policy.delay(message.attempts, result.retry_after)
                    )
                    if retry
                    else DeliveryOutcome(DeliveryStatus.FAILED)
                )
                continue
            if message.status == DeliveryStatus.SENDING:
                message.status = result.status
                message.provider_message_id = result.provider_message_id
                message.last_error = None
                message.updated_at = now
                changed.append(message)
            log.info("outbound sent", extra={"outbound_id": message.id, "channel": message.channel})
            outcomes[_id(message)] = DeliveryOutcome(message.status)
        await uow.outbox.save_many(changed)
        await uow.commit()
    if unexpected:
        raise unexpected[0]
    return [outcomes[i] for i in outbound_ids]


async def _send(
    message: OutboundMessage, senders: Mapping[Channel, Sender]
) -> SendResult | Exception:
    sender = senders.get(message.channel)
    try:
        if sender is None:
            raise SendError(f"channel {message.channel} is not enabled", permanent=True)
        return await sender.send(message)
    except Exception as exc:  # one message's failure is not the others'
        return exc


def _id(message: OutboundMessage) -> int:
    assert message.id is not None
    return message.id


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
