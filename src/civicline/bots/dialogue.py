"""The citizen-facing conversation: what an inbound message is and what the bot answers.

Channel-neutral: a message arrives as an ``InboundMessage`` and answers leave as outbox rows.
Keywords (``bots.commands``: status, my cases, help, STOP/START on SMS, a 1-5 rating) are
answered without the NLU. The NLU reads the rest: small talk (greetings, thanks, chit-chat)
gets a polite answer; service requests in free words (a status question, a plea for help,
feedback on a case) are answered when the NLU is sure of them; neither ever opens a case.
Anything else is a complaint and opens one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from civicline.bots import commands
from civicline.bots.texts import STATUS_NAMES, say
from civicline.domain.cases import OPEN, CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import (
    Channel,
    InboundMessage,
    InboundStatus,
    Language,
    OutboundMessage,
    guess_language,
)
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.cases import Reading, Routing, open_case, read_complaint, reply_to_message
from civicline.nlu.base import SERVICE_INTENTS, SMALL_TALK_INTENTS, Classification, Classifier
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

SMS_ONLY = (commands.Stop, commands.Start)
MEDIA_ONLY = Classification(intent="other", confidence=0.0, ranking=(), engine="none")


@dataclass(frozen=True, slots=True)
class Conversation:
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier

    def department_name(self, code: str | None, language: Language) -> str:
        if code is None:
            return say("triage_department", language)
        dept = self.taxonomy.department(code)
        return dept.name_zh if language == Language.ZH else dept.name_en


@dataclass(frozen=True, slots=True)
class Handled:
    outbound_ids: list[int]
    case_number: str | None = None
    already_done: bool = False


def command_for(message: InboundMessage) -> commands.Command | None:
    command = commands.parse_command(message.text)
    if isinstance(command, SMS_ONLY) and message.channel != Channel.SMS:
        return None
    return command


async def handle_inbound(
    message_id: int, *, uow_factory: UnitOfWorkFactory, conversation: Conversation, now: datetime
) -> Handled:
    """Process one stored inbound message exactly once (a second run finds it processed)."""
    async with uow_factory() as uow:
        peek = await uow.inbox.get(message_id)
    if peek.status != InboundStatus.RECEIVED:
        return Handled([], already_done=True)
    command = command_for(peek)
    # Classify outside the transaction: the NLU may be a remote server.
    if command is not None:
        reading = None
    elif not peek.text:
        reading = Reading(MEDIA_ONLY)  # a photo without words: staff place it
    else:
        reading = await read_complaint(peek.text, nlu=conversation.nlu)

    async with uow_factory() as uow:
        message = await uow.inbox.get(message_id, lock=True)
        if message.status != InboundStatus.RECEIVED:
            return Handled([], already_done=True)
        language = message.language or (
            guess_language(message.text) if message.text else Language.ZH
        )
        message.language = language
        citizen = await uow.citizens.get_or_create(
            ContactHandle(message.channel, message.sender_address), at=now, language=language
        )
        message.citizen_id = citizen.id
        opened = None
        if command is not None:
            text = await _answer_command(command, message, citizen, uow, conversation, now)
        else:
            assert reading is not None
            text, opened = await _answer_free_text(
                message, reading, citizen, uow, conversation, now
            )
        outbound_ids = []
        if text is not None:
            reply = await uow.outbox.add(
                reply_to_message(message, text, now=now, case_id=message.case_id)
            )
            assert reply.id is not None
            outbound_ids.append(reply.id)
        message.status = InboundStatus.PROCESSED
        await uow.inbox.save(message, processed_at=now)
        await uow.commit()
    return Handled(outbound_ids, case_number=opened)


async def _answer_free_text(
    message: InboundMessage,
    reading: Reading,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> tuple[str, str | None]:
    """The answer, and the number of the case it opened, if any."""
    language = message.language or Language.ZH
    classification = reading.classification
    if not reading.flags.urgent:  # danger always opens a case, whatever the words around it
        if classification.intent in SMALL_TALK_INTENTS:
            return say(classification.intent, language), None
        # A service request the NLU is unsure of may be a complaint: it opens a case instead.
        sure = classification.confidence >= conversation.routing.min_confidence
        if classification.intent in SERVICE_INTENTS and sure:
            answer = await _answer_service(
                classification.intent, message, reading, citizen, uow, conversation, now
            )
            return answer, None
    case = await open_case(
        message,
        reading,
        uow=uow,
        taxonomy=conversation.taxonomy,
        routing=conversation.routing,
        now=now,
    )
    message.case_id = case.id
    if case.department is None:
        text = say("case_triage", language, number=case.number)
        return (say("urgent_note", language) + text if case.urgent else text), case.number
    local_due = case.complete_due_at.astimezone(conversation.routing.city_timezone)
    text = say(
        "case_opened",
        language,
        number=case.number,
        department=conversation.department_name(case.department, language),
        due=f"{local_due:%Y-%m-%d}",
    )
    if case.urgent:
        text = say("urgent_note", language) + text
    return text, case.number


async def _answer_service(
    intent: str,
    message: InboundMessage,
    reading: Reading,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> str:
    """Status questions, help and feedback said in the citizen's own words."""
    language = message.language or Language.ZH
    assert citizen.id is not None
    if intent == "help":
        return say("help", language)
    if intent == "status_query":
        number = next((e.value for e in reading.entities if e.kind == "case_number"), None)
        if number is not None:
            return await _status_text(number, language, uow, conversation)
        return await _my_cases_text(citizen.id, language, uow)
    # Feedback belongs to the citizen's latest case: it joins that case's thread.
    latest = await uow.cases.for_citizen(citizen.id, statuses=list(CaseStatus), limit=1)
    if not latest:
        return say("no_case_for_feedback", language)
    case = latest[0]
    case.record(CaseEvent(EventKind.MESSAGE, at=now, actor="citizen", data={"intent": "feedback"}))
    await uow.cases.save(case)
    message.case_id = case.id
    text = say("feedback_noted", language, number=case.number)
    if case.status == CaseStatus.CLOSED and case.rating is None:
        text += say("feedback_rate", language)
    return text


async def _my_cases_text(citizen_id: int, language: Language, uow: UnitOfWork) -> str:
    cases = await uow.cases.for_citizen(citizen_id, statuses=OPEN, limit=10)
    if not cases:
        return say("no_cases", language)
    lines = "\n".join(f"{c.number} {STATUS_NAMES[c.status][language]}" for c in cases)
    return say("my_cases", language, lines=lines)


async def _answer_command(
    command: commands.Command,
    message: InboundMessage,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> str | None:
    language = message.language or Language.ZH
    handle = ContactHandle(message.channel, message.sender_address)
    assert citizen.id is not None
    match command:
        case commands.Status(number):
            return await _status_text(number, language, uow, conversation)
        case commands.MyCases():
            return await _my_cases_text(citizen.id, language, uow)
        case commands.Help():
            return say("help", language)
        case commands.Stop():
            # Nothing more goes to this number until START (the carrier confirms STOP).
            await uow.citizens.set_opt_out(handle, True)
            return None
        case commands.Start():
            await uow.citizens.set_opt_out(handle, False)
            return say("started", language)
        case commands.Rating(score):
            closed = await uow.cases.for_citizen(citizen.id, statuses=[CaseStatus.CLOSED], limit=5)
            case = next((c for c in closed if c.rating is None), None)
            if case is None:
                return say("nothing_to_rate", language)
            case.rate(score, actor="citizen", at=now)
            await uow.cases.save(case)
            message.case_id = case.id
            return say("rated", language, number=case.number, score=str(score))


async def _status_text(
    number: str, language: Language, uow: UnitOfWork, conversation: Conversation
) -> str:
    try:
        case = await uow.cases.by_number(number)
    except NotFound:
        return say("status_unknown", language, number=number)
    return say(
        "status",
        language,
        number=number,
        status=STATUS_NAMES[case.status][language],
        department=conversation.department_name(case.department, language),
    )


async def ask_for_rating(
    number: str, *, uow_factory: UnitOfWorkFactory, now: datetime
) -> int | None:
    """After a case closes, ask the citizen on their channel to rate it (1-5)."""
    async with uow_factory() as uow:
        case = await uow.cases.by_number(number)
        if case.status != CaseStatus.CLOSED or case.rating is not None:
            return None
        reply = await uow.outbox.add(
            OutboundMessage(
                channel=case.channel,
                recipient_address=case.reply_to,
                text=say("rate_request", case.language, number=case.number),
                created_at=now,
                updated_at=now,
                case_id=case.id,
                citizen_id=case.citizen_id,
            )
        )
        await uow.commit()
        return reply.id
