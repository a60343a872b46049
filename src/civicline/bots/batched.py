"""Plain complaints on one-shot channels, many in one transaction: the worker's fast path.

Most of what reaches the workers is one kind of message: a web chat or SMS text that is a
complaint, from a citizen nobody waits for an answer from. Its result is always the same
shape (a case opened at once, incident grouping, the board's question on a chat, one reply),
so a batch of them is opened together (``storage.filing``): one read of the inbox rows, the
texts classified in one pass, the citizens, numbers, cases, history, board entries and replies
written with one statement each, the inbox rows marked with one, one commit. Incident
grouping runs in the batch's order on the same transaction, so each report is compared with
the batch's earlier ones as if they had been processed one after another.

Anything else (a command, a button, a location or a photo, an edited message, small talk,
a service request, a citizen with a paused case, a guided channel, and every message of a
sender who has one of those in the batch) is left to the per-message path
(``bots.dialogue.handle_conversation``): ``handle_batch`` answers None for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from civicline.bots.answers import CONSENT_CHANNELS, Conversation, case_opened_text
from civicline.bots.dialogue import command_for
from civicline.bots.texts import say
from civicline.domain.board import BoardEntry
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import (
    Channel,
    ChannelKind,
    InboundMessage,
    InboundStatus,
    Language,
    OutboundMessage,
    guess_language,
    kind_of,
)
from civicline.handlers.board import asked_entry
from civicline.handlers.cases import Reading, new_case, read_complaint, reply_to_message
from civicline.handlers.inbound import Handled
from civicline.handlers.incidents import group_batch, sign
from civicline.nlu.base import opens_case
from civicline.storage.base import BatchUnitOfWork

log = logging.getLogger(__name__)

ONE_SHOT = frozenset({Channel.WEBCHAT, Channel.SMS})
ALREADY_DONE = Handled([], already_done=True)


def plain_text(message: InboundMessage, conversation: Conversation) -> bool:
    """Words and nothing else, on a one-shot channel, that are no command."""
    return (
        message.channel in ONE_SHOT
        and message.channel not in conversation.guided_channels
        and kind_of(message.channel) == ChannelKind.CONVERSATION
        and bool(message.text.strip())
        and not (message.choice or message.location or message.shared_phone)
        and not (message.attachments or message.edited)
        and command_for(message) is None
    )


async def handle_batch(
    ids: Sequence[int],
    now: datetime,
    *,
    uow_factory: Callable[[], BatchUnitOfWork],
    conversation: Conversation,
) -> list[Handled | None]:
    """For each id: what became of its message, or None for one left to the per-message
    path. A message processed before (or twice in ``ids``) is ``already_done``."""
    async with uow_factory() as uow:
        peeked = await uow.filing.received(ids, lock=False)
    plain = [m for m in peeked if plain_text(m, conversation)]
    # One pass of the classifier: the local one gathers concurrent calls into one batch.
    readings = await asyncio.gather(*(read_complaint(m.text, nlu=conversation.nlu) for m in plain))
    sure = conversation.routing.min_confidence
    read = {
        m.id: r
        for m, r in zip(plain, readings, strict=True)
        if opens_case(r.classification, min_confidence=sure, urgent=r.flags.urgent)
    }
    results: dict[int, Handled | None] = {m.id: None for m in peeked if m.id is not None}
    others = {_sender(m) for m in peeked if m.id not in read}
    chosen = [
        m.id for m in peeked if m.id is not None and m.id in read and _sender(m) not in others
    ]
    if chosen:
        results |= await _open(chosen, read, now, uow_factory, conversation)
    answered: list[Handled | None] = []
    seen: set[int] = set()
    for message_id in ids:
        first = message_id not in seen
        seen.add(message_id)
        answered.append(results.get(message_id, ALREADY_DONE) if first else ALREADY_DONE)
    return answered


def _sender(message: InboundMessage) -> ContactHandle:
    return ContactHandle(message.channel, message.sender_address)


async def _open(
    ids: list[int],
    readings: dict[int | None, Reading],
    now: datetime,
    uow_factory: Callable[[], BatchUnitOfWork],
    conversation: Conversation,
) -> dict[int, Handled | None]:
    routing, taxonomy = conversation.routing, conversation.taxonomy
    results: dict[int, Handled | None] = {}  # the messages opened (the rest: per message)
    async with uow_factory() as uow:
        messages = await uow.filing.received(ids, lock=True)
        for message in messages:
            message.language = message.language or guess_language(message.text)
        handles = [(_sender(m), m.language or Language.ZH) for m in messages]
        citizens = await uow.filing.citizens(handles, at=now)
        for message in messages:
            message.citizen_id = citizens[_sender(message)]
        # A citizen staff wait for: their messages answer that case (the per-message path).
        waiting = await uow.filing.waiting(m.citizen_id for m in messages if m.citizen_id)
        messages = [m for m in messages if m.citizen_id not in waiting]
        if not messages:
            await uow.commit()  # the citizens found or created stay
            return results
        day = now.astimezone(routing.city_timezone).date()
        numbers = await uow.filing.numbers(day, len(messages))
        cases = [
            new_case(m, readings[m.id], filing=conversation, now=now, number=number)
            for m, number in zip(messages, numbers, strict=True)
        ]
        reports = [
            sign(
                case, taxonomy=taxonomy, policy=routing.incidents, entities=readings[m.id].entities
            )
            for m, case in zip(messages, cases, strict=True)
            if routing.incidents is not None
        ]
        await uow.filing.add_cases(cases)
        for message, case in zip(messages, cases, strict=True):
            if case.urgent or case.collective:
                reasons = ",".join(readings[message.id].flags.reasons)
                log.warning(
                    "alert: urgent or collective case",
                    extra={"case": case.number, "reasons": reasons},
                )
        if routing.incidents is not None:
            await group_batch(cases, reports, uow=uow, policy=routing.incidents, now=now)
        entries: list[BoardEntry] = []
        replies: list[OutboundMessage] = []
        for message, case in zip(messages, cases, strict=True):
            message.case_id = case.id
            language = message.language or Language.ZH
            text = case_opened_text(case, language, conversation)
            if case.channel in CONSENT_CHANNELS and case.merged_into is None:
                entries.append(asked_entry(case, now=now, review=routing.board_review))
                text += say("publish_question", case.language)
            replies.append(reply_to_message(message, text, now=now, case_id=case.id))
            message.status = InboundStatus.PROCESSED
        await uow.filing.ask_board(entries)
        await uow.filing.add_replies(replies)
        await uow.filing.processed(messages, at=now)
        await uow.commit()
    for message, case, reply in zip(messages, cases, replies, strict=True):
        assert message.id is not None and reply.id is not None
        results[message.id] = Handled([reply.id], case_number=case.number, opened=[case.number])
    return results
