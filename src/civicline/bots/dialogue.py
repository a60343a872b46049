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
never reach the dialogue: ``handlers.inbound`` hands them to ``handlers.hotline``,
``handlers.letters`` and ``handlers.open311``.
"""

from __future__ import annotations

from datetime import datetime

from civicline.bots import commands, guided
from civicline.bots.answers import (
    Answer,
    Conversation,
    answer_conversation,
    answer_publish,
    answer_visit,
    answer_waiting_case,
    my_cases_text,
    open_at_once,
    status_text,
)
from civicline.bots.booking import answer_book, answer_cancel
from civicline.bots.texts import say
from civicline.domain.cases import Case, CaseStatus
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.dialogues import Stage
from civicline.domain.messages import (
    Channel,
    Choice,
    InboundMessage,
    InboundStatus,
    Language,
    guess_language,
)
from civicline.handlers import appointments
from civicline.handlers.cases import Reading, read_complaint, reply_to_message
from civicline.handlers.followup import awaits_visit
from civicline.handlers.inbound import Handled
from civicline.nlu.base import Classification
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

__all__ = ["FOLLOWUP_TEXTS", "Conversation", "FollowupTexts", "handle_conversation"]

SMS_ONLY = (commands.Stop, commands.Start)
MEDIA_ONLY = Classification(intent="other", confidence=0.0, ranking=(), engine="none")


def command_for(message: InboundMessage) -> commands.Command | None:
    if message.choice is not None or message.edited:
        return None
    command = commands.parse_command(message.text)
    if isinstance(command, commands.Stop) and message.channel != Channel.SMS:
        return None
    if isinstance(command, commands.Start) and message.channel != Channel.SMS:
        return commands.Lang()  # /start on a chat app: a welcome and the language choice
    return command


def _needs_reading(message: InboundMessage, pending_stage: Stage | None) -> bool:
    """Whether the message is free text for the NLU (not a button, a location, or a comment
    on a rating the bot asked for)."""
    if not message.text or message.choice or message.location or message.shared_phone:
        return False
    # Words answering "where?" are read too: they may be a new complaint instead.
    return message.edited or pending_stage != Stage.COMMENT


async def handle_conversation(
    peek: InboundMessage,
    now: datetime,
    *,
    uow_factory: UnitOfWorkFactory,
    conversation: Conversation,
) -> Handled:
    """Answer one stored message of a conversation (``handlers.inbound`` read it, still
    ``received``), exactly once: a second run finds it processed."""
    assert peek.id is not None
    message_id = peek.id
    pending = None
    if peek.channel in conversation.guided_channels:
        async with uow_factory() as uow:
            pending = await uow.dialogues.get(ContactHandle(peek.channel, peek.sender_address))
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
        case commands.Publish(consent):
            text = await answer_publish(
                citizen.id,
                consent,
                uow=uow,
                conversation=conversation,
                now=now,
                language=language,
            )
            return Answer(text)
        case commands.Book():
            if message.channel not in appointments.BOOKING_CHANNELS:
                return Answer(say("book_usage", language))
            return Answer(await answer_book(command, message, uow, conversation, now))
        case commands.CancelBooking():
            return Answer(await answer_cancel(command, message, uow))
        case commands.Rating(answer):
            closed = await uow.cases.for_citizen(citizen.id, statuses=[CaseStatus.CLOSED], limit=5)
            case = next((c for c in closed if awaits_visit(c)), None)
            if case is None:
                return Answer(say("nothing_to_rate", language))
            message.case_id = case.id
            return Answer(await answer_visit(case, answer, uow=uow, now=now, language=language))


class FollowupTexts:
    """What a close sends the citizen, in the bot's words (``handlers.followup.after_close``)."""

    def legal_channel(self, case: Case) -> str:
        return say("legal_channel", case.language, number=case.number)

    def rate_request(self, case: Case) -> tuple[str, list[Choice]]:
        return (
            say("rate_request", case.language, number=case.number),
            guided.visit_choices(case.number, case.language),
        )


FOLLOWUP_TEXTS = FollowupTexts()
