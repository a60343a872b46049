"""Delivery through a sender port: retries with backoff, permanent failures, receipts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, DeliveryStatus, Language, OutboundMessage
from civicline.handlers.delivery import RetryPolicy, deliver, deliver_many, record_receipt
from civicline.handlers.ports import SendError, SendResult
from tests.support.factories import T0, outbound
from tests.support.places import SqlUnitOfWorkFactory


@dataclass
class FakeSender:
    """Answers from a script: a SendResult, or a SendError to raise."""

    script: list[SendResult | SendError]
    channel: Channel = Channel.WEBCHAT
    sent: list[int] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message.id or 0)
        answer = self.script.pop(0)
        if isinstance(answer, SendError):
            raise answer
        return answer


POLICY = RetryPolicy(max_attempts=3, base_delay=2.0, max_delay=5.0)


async def _queued(uow_factory: SqlUnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        message = await uow.outbox.add(outbound())
        await uow.commit()
    assert message.id is not None
    return message.id


async def _run(uow_factory: SqlUnitOfWorkFactory, sender: FakeSender, message_id: int):  # type: ignore[no-untyped-def]
    return await deliver(
        message_id,
        uow_factory=uow_factory,
        senders={Channel.WEBCHAT: sender},
        policy=POLICY,
        now=T0,
    )


async def _stored(uow_factory: SqlUnitOfWorkFactory, message_id: int) -> OutboundMessage:
    async with uow_factory() as uow:
        return await uow.outbox.get(message_id)


async def test_sent_once_and_never_again(uow_factory: SqlUnitOfWorkFactory) -> None:
    message_id = await _queued(uow_factory)
    sender = FakeSender([SendResult(DeliveryStatus.SENT, "p-1")])
    outcome = await _run(uow_factory, sender, message_id)
    assert (outcome.status, outcome.retry_in) == (DeliveryStatus.SENT, None)
    again = await _run(uow_factory, sender, message_id)
    assert again.status is None and sender.sent == [message_id]
    stored = await _stored(uow_factory, message_id)
    assert (stored.status, stored.attempts, stored.provider_message_id) == ("sent", 1, "p-1")


async def test_transient_errors_back_off_then_fail_for_good(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    message_id = await _queued(uow_factory)
    timeout = SendError("provider timeout", permanent=False)
    sender = FakeSender([timeout, SendError("429", permanent=False, retry_after=4.5), timeout])
    first = await _run(uow_factory, sender, message_id)
    second = await _run(uow_factory, sender, message_id)
    third = await _run(uow_factory, sender, message_id)
    assert [first.retry_in, second.retry_in, third.retry_in] == [2.0, 4.5, None]
    assert [first.status, second.status, third.status] == ["queued", "queued", "failed"]
    stored = await _stored(uow_factory, message_id)
    assert (stored.status, stored.attempts, stored.last_error) == ("failed", 3, "provider timeout")


async def test_a_permanent_error_is_not_retried(uow_factory: SqlUnitOfWorkFactory) -> None:
    message_id = await _queued(uow_factory)
    sender = FakeSender([SendError("user blocked the bot", permanent=True)])
    outcome = await _run(uow_factory, sender, message_id)
    assert (outcome.status, outcome.retry_in) == (DeliveryStatus.FAILED, None)
    assert (await _stored(uow_factory, message_id)).last_error == "user blocked the bot"


async def test_a_channel_that_is_not_enabled_fails_clearly(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    message_id = await _queued(uow_factory)
    outcome = await deliver(message_id, uow_factory=uow_factory, senders={}, policy=POLICY, now=T0)
    assert outcome.status == DeliveryStatus.FAILED
    assert "not enabled" in ((await _stored(uow_factory, message_id)).last_error or "")


@pytest.mark.parametrize(
    ("channel", "recipient", "accepted"),
    [
        (Channel.WEBCHAT, "conv-1", True),
        (Channel.WEBCHAT, "conv-2", False),  # someone else's conversation
        (Channel.SMS, None, False),  # another channel's receipt
    ],
)
async def test_receipts_belong_to_their_recipient(
    uow_factory: SqlUnitOfWorkFactory, channel: Channel, recipient: str | None, accepted: bool
) -> None:
    message_id = await _queued(uow_factory)
    await _run(uow_factory, FakeSender([SendResult(DeliveryStatus.SENT)]), message_id)
    applied = await record_receipt(
        message_id,
        DeliveryStatus.DELIVERED,
        uow=uow_factory(),
        now=T0,
        channel=channel,
        recipient=recipient,
    )
    assert applied is accepted
    expected = DeliveryStatus.DELIVERED if accepted else DeliveryStatus.SENT
    assert (await _stored(uow_factory, message_id)).status == expected


async def test_receipts_never_move_backwards_or_for_unknown_ids(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    message_id = await _queued(uow_factory)
    early = await record_receipt(
        message_id, DeliveryStatus.DELIVERED, uow=uow_factory(), now=T0, channel=Channel.WEBCHAT
    )
    assert early is False  # still queued: nothing was sent yet
    await _run(uow_factory, FakeSender([SendResult(DeliveryStatus.DELIVERED)]), message_id)
    backwards = await record_receipt(
        message_id, DeliveryStatus.SENT, uow=uow_factory(), now=T0, channel=Channel.WEBCHAT
    )
    assert backwards is False
    unknown = await record_receipt(
        999_999, DeliveryStatus.DELIVERED, uow=uow_factory(), now=T0, channel=Channel.WEBCHAT
    )
    assert unknown is False


async def test_nothing_goes_to_a_citizen_who_sent_stop(uow_factory: SqlUnitOfWorkFactory) -> None:
    handle = ContactHandle(Channel.WEBCHAT, "conv-1")
    async with uow_factory() as uow:
        await uow.citizens.get_or_create(handle, at=T0, language=Language.ZH)
        await uow.citizens.set_opt_out(handle, True)
        await uow.commit()
    message_id = await _queued(uow_factory)
    sender = FakeSender([SendResult(DeliveryStatus.SENT)])
    outcome = await _run(uow_factory, sender, message_id)
    assert outcome.status == DeliveryStatus.FAILED and sender.sent == []
    assert "opted out" in ((await _stored(uow_factory, message_id)).last_error or "")


@dataclass
class ByAddress:
    """Answers by recipient: a SendResult, or a SendError to raise."""

    answers: dict[str, SendResult | SendError]
    channel: Channel = Channel.WEBCHAT
    sent: list[int] = field(default_factory=list)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message.id or 0)
        answer = self.answers[message.recipient_address.split("/")[0]]
        if isinstance(answer, SendError):
            raise answer
        return answer


async def test_many_at_once_end_as_each_alone(uow_factory: SqlUnitOfWorkFactory) -> None:
    """``deliver_many`` (the worker's batches) leaves each message, and answers for it, what
    ``deliver`` one by one does: sent, retried, failed for good, opted out, already sent."""
    answers: dict[str, SendResult | SendError] = {
        "ok": SendResult(DeliveryStatus.SENT, "p-1"),
        "shown": SendResult(DeliveryStatus.DELIVERED),
        "busy": SendError("429", permanent=False, retry_after=4.5),
        "gone": SendError("user blocked the bot", permanent=True),
        "stop": SendResult(DeliveryStatus.SENT),
        "twice": SendResult(DeliveryStatus.SENT, "p-2"),
    }
    async with uow_factory() as uow:
        for run in ("alone", "many"):
            handle = ContactHandle(Channel.WEBCHAT, f"stop/{run}")
            await uow.citizens.get_or_create(handle, at=T0, language=Language.ZH)
            await uow.citizens.set_opt_out(handle, True)
        await uow.commit()
    ids = {
        run: [await _queued_to(uow_factory, f"{name}/{run}") for name in answers for _ in (1, 2)]
        for run in ("alone", "many")
    }
    senders = {run: ByAddress(answers) for run in ids}
    for run in ids:  # the last one ("twice") was sent before: nothing to do
        await deliver(
            ids[run][-1],
            uow_factory=uow_factory,
            senders={Channel.WEBCHAT: senders[run]},
            policy=POLICY,
            now=T0,
        )
    alone = [
        await deliver(
            i,
            uow_factory=uow_factory,
            senders={Channel.WEBCHAT: senders["alone"]},
            policy=POLICY,
            now=T0,
        )
        for i in ids["alone"]
    ]
    many = await deliver_many(
        ids["many"],
        uow_factory=uow_factory,
        senders={Channel.WEBCHAT: senders["many"]},
        policy=POLICY,
        now=T0,
    )
    assert many == alone
    assert {o.status for o in many} == {None, "sent", "delivered", "queued", "failed"}

    def kept(m: OutboundMessage) -> tuple[object, ...]:
        return (m.status, m.attempts, m.provider_message_id, m.last_error, m.updated_at)

    stored = {run: [kept(await _stored(uow_factory, i)) for i in ids[run]] for run in ids}
    assert stored["many"] == stored["alone"]
    assert len(senders["many"].sent) == len(senders["alone"].sent)
    with pytest.raises(NotFound):
        await deliver_many(
            [ids["many"][0], 999_999], uow_factory=uow_factory, senders={}, policy=POLICY, now=T0
        )


async def _queued_to(uow_factory: SqlUnitOfWorkFactory, address: str) -> int:
    async with uow_factory() as uow:
        message = await uow.outbox.add(outbound(address=address))
        await uow.commit()
    assert message.id is not None
    return message.id
