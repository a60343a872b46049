"""The citizen-facing conversation: what an inbound message is and what the bot answers.

Channel-neutral: a message arrives as an ``InboundMessage`` and answers leave as outbox rows
(with buttons, ``choices``, where the channel has them). Keywords (``bots.commands``: status,
my cases, help, language, STOP/START on SMS, a 1-5 rating) are answered without the NLU. The
NLU reads the rest: small talk (greetings, thanks, chit-chat) gets a polite answer; service
requests in free words (a status question, a plea for help, feedback on a case) are answered
when the NLU is sure of them; neither ever opens a case. Anything else is a complaint.

On one-shot channels (SMS, web chat) a complaint opens a case at once. On guided channels
(Telegram) the bot first asks where it happened when the text names no place, then asks the
citizen to confirm the category (``bots.guided``).

Hotline transcripts, letters (the mailbox form, e-mail, paper) and Open311 service requests
skip the dialogue: their cases open at once (``handlers.hotline``, ``handlers.letters``,
``handlers.open311``), and an Open311 client polls instead of being answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from civicline.bots import commands, guided
from civicline.bots.answers import (
    Answer,
    Conversation,
    answer_conversation,
    answer_visit,
    answer_waiting_case,
    awaits_visit,
    my_cases_text,
    open_at_once,
    status_text,
)
from civicline.bots.texts import say
from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.dialogues import Stage
from civicline.domain.governance import VisitStatus
from civicline.domain.messages import (
    Channel,
    InboundMessage,
    InboundStatus,
    Language,
    guess_language,
)
from civicline.handlers import letters, open311
from civicline.handlers.cases import (
    Reading,
    read_complaint,
    reply_to_message,
    to_citizen,
)
from civicline.handlers.hotline import Hotline, process_stored
from civicline.handlers.letters import LETTER_CHANNELS
from civicline.nlu.base import Classification
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

__all__ = ["Conversation", "Handled", "after_close", "ask_for_rating", "handle_inbound"]

SMS_ONLY = (commands.Stop, commands.Start)
MEDIA_ONLY = Classification(intent="other", confidence=0.0, ranking=(), engine="none")


@dataclass(frozen=True, slots=True)
class Handled:
    outbound_ids: list[int]
    case_number: str | None = None
    already_done: bool = False
    opened: list[str] = field(default_factory=list)  # every case this message opened


def command_for(message: InboundMessage) -> commands.Command | None:
    if message.choice is not None or message.edited:
        return None
    command = commands.parse_command(message.text)
    if isinstance(command, commands.Stop) and message.channel != Channel.SMS:
        return None
    if isinstance(command, commands.Start) and message.channel != Channel.SMS:
        return commands.Lang()  # /start on a chat app: a welcome and the language choice
    return command


def _hotline(uow_factory: UnitOfWorkFactory, conversation: Conversation) -> Hotline:
    return Hotline(
        uow_factory,
        conversation.taxonomy,
        conversation.routing,
        conversation.nlu,
        conversation.corrections,
    )


def _open311(uow_factory: UnitOfWorkFactory, conversation: Conversation) -> open311.Open311:
    return open311.Open311(
        uow_factory, conversation.taxonomy, conversation.routing, conversation.nlu
    )


def _needs_reading(message: InboundMessage, pending_stage: Stage | None) -> bool:
    """Whether the message is free text for the NLU (not a button, a location, or a comment
    on a rating the bot asked for)."""
    if not message.text or message.choice or message.location or message.shared_phone:
        return False
    # Words answering "where?" are read too: they may be a new complaint instead.
    return message.edited or pending_stage != Stage.COMMENT


async def handle_inbound(
    message_id: int, *, uow_factory: UnitOfWorkFactory, conversation: Conversation, now: datetime
) -> Handled:
    """Process one stored inbound message exactly once (a second run finds it processed)."""
    async with uow_factory() as uow:
        peek = await uow.inbox.get(message_id)
        pending = None
        if peek.channel in conversation.guided_channels:
            pending = await uow.dialogues.get(ContactHandle(peek.channel, peek.sender_address))
    if peek.status != InboundStatus.RECEIVED:
        return Handled([], already_done=True)
    if peek.channel == Channel.HOTLINE:  # a call transcript whose filing was cut short
        filed = await process_stored(message_id, _hotline(uow_factory, conversation), now=now)
        return Handled(filed.outbound_ids, case_number=filed.case_number)
    if peek.channel in LETTER_CHANNELS and conversation.letters is not None:  # 信: no dialogue
        done = await letters.process_stored(message_id, conversation.letters, now=now)
        opened = [done.case_number] if done.outcome == "opened" and done.case_number else []
        return Handled(done.outbound_ids, case_number=done.case_number, opened=opened)
    if peek.channel == Channel.OPEN311:  # a service request: no dialogue, and no reply
        number = await open311.process_stored(
            message_id, _open311(uow_factory, conversation), now=now
        )
        if number is None:
            return Handled([], already_done=True)
        return Handled([], case_number=number, opened=[number])
    command = command_for(peek)
    live_stage = pending.stage if pending and not pending.expired(now) else None
    # Classify outside the transaction: the NLU may be a remote server.
    reading = None
    if command is None and _needs_reading(peek, live_stage):
        reading = await read_complaint(peek.text, nlu=conversation.nlu)

    async with uow_factory() as uow:
        message = await uow.inbox.get(message_id, lock=True)
        if message.status != InboundStatus.RECEIVED:
            return Handled([], already_done=True)
        language = message.language or (
            guess_language(message.text) if message.text else Language.ZH
        )
        citizen = await uow.citizens.get_or_create(
            ContactHandle(message.channel, message.sender_address), at=now, language=language
        )
        # In a chat app the citizen's own choice (/lang) wins over a guess from one message.
        guided_channel = message.channel in conversation.guided_channels
        message.language = citizen.language if guided_channel else language
        message.citizen_id = citizen.id
        answer = await _respond(message, command, reading, citizen, uow, conversation, now)
        outbound_ids = []
        if answer.text is not None:
            reply = reply_to_message(message, answer.text, now=now, case_id=message.case_id)
            reply.choices = list(answer.choices)
            added = await uow.outbox.add(reply)
            assert added.id is not None
            outbound_ids.append(added.id)
        message.status = InboundStatus.PROCESSED
        await uow.inbox.save(message, processed_at=now)
        await uow.commit()
    number = answer.opened[-1] if answer.opened else None
    return Handled(outbound_ids, case_number=number, opened=list(answer.opened))


async def _respond(
    message: InboundMessage,
    command: commands.Command | None,
    reading: Reading | None,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer:
    if command is not None:
        return await _answer_command(command, message, citizen, uow, conversation, now)
    urgent = reading is not None and reading.flags.urgent  # danger is a new case, always
    if message.choice is None and (message.text or message.attachments) and not urgent:
        waiting = await answer_waiting_case(message, citizen, uow, conversation, now)
        if waiting is not None:
            return waiting
    if message.channel in conversation.guided_channels:
        return await guided.respond(message, reading, citizen, uow, conversation, now)
    if reading is None:
        reading = Reading(MEDIA_ONLY)  # a photo without words: staff place it
    return await answer_free_text(message, reading, citizen, uow, conversation, now)


async def answer_free_text(
    message: InboundMessage,
    reading: Reading,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer:
    """Small talk and service requests are answered; a complaint opens a case at once."""
    answer = await answer_conversation(message, reading, citizen, uow, conversation, now)
    if answer is not None:
        return answer
    case, text = await open_at_once(message, reading, uow, conversation, now)
    return Answer(text, opened=(case.number,))


async def _answer_command(
    command: commands.Command,
    message: InboundMessage,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer:
    language = message.language or Language.ZH
    handle = ContactHandle(message.channel, message.sender_address)
    assert citizen.id is not None
    match command:
        case commands.Status(number):
            return Answer(await status_text(number, language, uow, conversation))
        case commands.MyCases():
            return Answer(await my_cases_text(citizen.id, language, uow))
        case commands.Help():
            return Answer(say("help", language))
        case commands.Lang():
            return guided.language_choice(message, conversation)
        case commands.Stop():
            # Nothing more goes to this number until START (the carrier confirms STOP).
            await uow.citizens.set_opt_out(handle, True)
            return Answer(None)
        case commands.Start():
            await uow.citizens.set_opt_out(handle, False)
            return Answer(say("started", language))
        case commands.Rating(answer):
            closed = await uow.cases.for_citizen(citizen.id, statuses=[CaseStatus.CLOSED], limit=5)
            case = next((c for c in closed if awaits_visit(c)), None)
            if case is None:
                return Answer(say("nothing_to_rate", language))
            message.case_id = case.id
            return Answer(await answer_visit(case, answer, uow=uow, now=now, language=language))


async def after_close(number: str, *, uow_factory: UnitOfWorkFactory, now: datetime) -> list[int]:
    """What a close sends the citizen: which legal channel handles a matter for the courts
    (涉法涉诉), then the return visit's question. The ids of the messages to deliver."""
    sent = []
    async with uow_factory() as uow:
        case = await uow.cases.by_number(number)
        if case.legal_matter and case.answer_channel != Channel.OPEN311:
            text = say("legal_channel", case.language, number=case.number)
            notice = await uow.outbox.add(to_citizen(case, text, now=now))
            await uow.commit()
            assert notice.id is not None
            sent.append(notice.id)
    visit = await ask_for_rating(number, uow_factory=uow_factory, now=now)
    return sent + ([visit] if visit is not None else [])


async def ask_for_rating(
    number: str, *, uow_factory: UnitOfWorkFactory, now: datetime
) -> int | None:
    """The return visit (回访): after a case closes, ask the citizen on their channel whether
    they are satisfied and the problem is solved: in words, and with buttons where the channel
    has them. Unanswered, they count as unreachable after ``VISIT_WAIT`` (the scheduler)."""
    async with uow_factory() as uow:
        case = await uow.cases.by_number(number, lock=True)
        if not awaits_visit(case) or case.visit_status is not None:
            return None
        if case.answer_channel == Channel.OPEN311:  # an Open311 app has no way to answer
            return None
        reply = await uow.outbox.add(
            to_citizen(
                case,
                say("rate_request", case.language, number=case.number),
                now=now,
                choices=guided.visit_choices(case.number, case.language),
            )
        )
        case.visit_status = VisitStatus.ASKED
        await uow.cases.save(case)
        await uow.commit()
        return reply.id
