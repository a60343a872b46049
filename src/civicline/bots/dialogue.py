"""The citizen-facing conversation: what an inbound message is and what the bot answers.

Channel-neutral: a message arrives as an ``InboundMessage`` and answers leave as outbox rows.
A message naming a case number with a status word is a status question; conversation intents
(greetings, thanks, chit-chat) get a polite answer and never open a case; anything else is a
complaint and opens one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from civicline.bots.texts import STATUS_NAMES, say
from civicline.domain.case_numbers import find_case_number
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import InboundStatus, Language, guess_language
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.cases import Routing, open_case, reply_to_message
from civicline.nlu.base import Classifier
from civicline.storage.base import UnitOfWork, UnitOfWorkFactory

STATUS_WORDS = re.compile(r"查询|进度|状态|进展|status|progress|check", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Conversation:
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier


@dataclass(frozen=True, slots=True)
class Handled:
    outbound_ids: list[int]
    case_number: str | None = None
    already_done: bool = False


def is_status_query(text: str) -> str | None:
    number = find_case_number(text)
    if number and (STATUS_WORDS.search(text) or len(text.strip()) <= len(number) + 2):
        return number
    return None


async def handle_inbound(
    message_id: int, *, uow_factory: UnitOfWorkFactory, conversation: Conversation, now: datetime
) -> Handled:
    """Process one stored inbound message exactly once (a second run finds it processed)."""
    async with uow_factory() as uow:
        peek = await uow.inbox.get(message_id)
    if peek.status != InboundStatus.RECEIVED:
        return Handled([], already_done=True)
    # Classify outside the transaction: the NLU may be a remote server.
    classification = None
    if not is_status_query(peek.text):
        classification = await conversation.nlu.classify(peek.text)

    async with uow_factory() as uow:
        message = await uow.inbox.get(message_id, lock=True)
        if message.status != InboundStatus.RECEIVED:
            return Handled([], already_done=True)
        language = message.language or guess_language(message.text)
        message.language = language
        citizen = await uow.citizens.get_or_create(
            ContactHandle(message.channel, message.sender_address), at=now, language=language
        )
        message.citizen_id = citizen.id
        number = is_status_query(message.text)
        if classification is None and number:
            text = await _status_text(number, language, uow, conversation.taxonomy)
            case_number = None
        elif classification is not None and classification.is_conversation:
            text = say(classification.intent, language)
            case_number = None
        else:
            assert classification is not None
            case = await open_case(
                message,
                classification,
                uow=uow,
                taxonomy=conversation.taxonomy,
                routing=conversation.routing,
                now=now,
            )
            message.case_id = case.id
            case_number = case.number
            text = _ack_text(
                case.number, case.department, case.complete_due_at, language, conversation
            )
        reply = await uow.outbox.add(
            reply_to_message(message, text, now=now, case_id=message.case_id)
        )
        message.status = InboundStatus.PROCESSED
        await uow.inbox.save(message, processed_at=now)
        await uow.commit()
    assert reply.id is not None
    return Handled([reply.id], case_number=case_number)


def _ack_text(
    number: str,
    department: str | None,
    due: datetime,
    language: Language,
    conversation: Conversation,
) -> str:
    if department is None:
        return say("case_triage", language, number=number)
    dept = conversation.taxonomy.department(department)
    local_due = due.astimezone(conversation.routing.city_timezone)
    return say(
        "case_opened",
        language,
        number=number,
        department=dept.name_zh if language == Language.ZH else dept.name_en,
        due=f"{local_due:%Y-%m-%d}",
    )


async def _status_text(number: str, language: Language, uow: UnitOfWork, taxonomy: Taxonomy) -> str:
    try:
        case = await uow.cases.by_number(number)
    except NotFound:
        return say("status_unknown", language, number=number)
    if case.department:
        dept = taxonomy.department(case.department)
        department = dept.name_zh if language == Language.ZH else dept.name_en
    else:
        department = say("triage_department", language)
    return say(
        "status",
        language,
        number=number,
        status=STATUS_NAMES[case.status][language],
        department=department,
    )
