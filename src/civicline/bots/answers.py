"""What the bot needs to answer (the conversation's settings) and answers shared by the
one-shot and the guided dialogue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from civicline.bots.texts import PUBLISH_LABELS, STATUS_NAMES, VISIT_LABELS, say
from civicline.domain.cases import OPEN, Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import Citizen
from civicline.domain.errors import NotFound
from civicline.domain.governance import VISIT_ANSWERS
from civicline.domain.messages import Channel, Choice, InboundMessage, Language
from civicline.domain.rota import Venue
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.board import answer_consent, record_consent
from civicline.handlers.cases import Reading, Routing, open_case
from civicline.handlers.hotline import Corrections
from civicline.handlers.letters import Letters
from civicline.nlu.base import OUT_OF_SCOPE, SERVICE_INTENTS, SMALL_TALK_INTENTS, Classifier
from civicline.storage.base import UnitOfWork

# Channels with buttons and a chat's patience: the bot asks before it opens a case.
GUIDED_CHANNELS = frozenset({Channel.TELEGRAM})
# Chats ask whether a new case may appear on the public board; an SMS costs the citizen.
CONSENT_CHANNELS = frozenset({Channel.WEBCHAT, Channel.TELEGRAM})


@dataclass(frozen=True, slots=True)
class Conversation:
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier
    guided_channels: frozenset[Channel] = GUIDED_CHANNELS
    corrections: Corrections | None = None  # where people's corrections of the NLU go
    letters: Letters | None = None  # the mailbox and paper letters, where those are set up
    venues: Mapping[str, Venue] = field(default_factory=dict)  # reception venues (rota.yml)

    def department_name(self, code: str | None, language: Language) -> str:
        if code is None:
            return say("triage_department", language)
        dept = self.taxonomy.department(code)
        return dept.name_zh if language == Language.ZH else dept.name_en

    def category_name(self, code: str, language: Language) -> str:
        category = self.taxonomy.category(code)
        return category.name_zh if language == Language.ZH else category.name_en


@dataclass(frozen=True, slots=True)
class Answer:
    """The bot's reply to one message (None: stay silent) and the cases it opened."""

    text: str | None
    choices: tuple[Choice, ...] = ()
    opened: tuple[str, ...] = ()


def case_opened_text(case: Case, language: Language, conversation: Conversation) -> str:
    if case.merged_into is not None:  # another citizen reported the same event first
        text = say("case_joined", language, number=case.number, lead=case.merged_into)
        return say("urgent_note", language) + text if case.urgent else text
    if case.department is None:
        text = say("case_triage", language, number=case.number)
    else:
        local_due = case.complete_due_at.astimezone(conversation.routing.city_timezone)
        text = say(
            "case_opened",
            language,
            number=case.number,
            department=conversation.department_name(case.department, language),
            due=f"{local_due:%Y-%m-%d}",
        )
    return say("urgent_note", language) + text if case.urgent else text


async def status_text(
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


async def answer_conversation(
    message: InboundMessage,
    reading: Reading,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer | None:
    """The answer to small talk or a service request, or None when the text is a complaint."""
    language = message.language or Language.ZH
    classification = reading.classification
    if reading.flags.urgent:  # danger always opens a case, whatever the words around it
        return None
    if classification.intent in SMALL_TALK_INTENTS:
        return Answer(say(classification.intent, language))
    # A service request the NLU is unsure of may be a complaint: it opens a case instead,
    # unless the gate found it is not one (then it gets the polite answer).
    sure = classification.confidence >= conversation.routing.min_confidence
    if classification.intent in SERVICE_INTENTS and sure:
        text = await _answer_service(
            classification.intent, message, reading, citizen, uow, conversation, now
        )
        return Answer(text)
    if classification.gated:
        return Answer(say(OUT_OF_SCOPE, language))
    return None


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
            return await status_text(number, language, uow, conversation)
        return await my_cases_text(citizen.id, language, uow)
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


async def my_cases_text(citizen_id: int, language: Language, uow: UnitOfWork) -> str:
    cases = await uow.cases.for_citizen(citizen_id, statuses=OPEN, limit=10)
    if not cases:
        return say("no_cases", language)
    lines = "\n".join(f"{c.number} {STATUS_NAMES[c.status][language]}" for c in cases)
    return say("my_cases", language, lines=lines)


async def answer_visit(
    case: Case, answer: int, *, uow: UnitOfWork, now: datetime, language: Language
) -> str:
    """Record the citizen's return-visit answer (1-4); a dissatisfied or unsolved one reopens
    the case for a second review, once."""
    satisfaction, solved = VISIT_ANSWERS[answer]
    reopened = case.record_visit(satisfaction, solved=solved, actor="citizen", at=now)
    await uow.cases.save(case)
    if reopened:
        return say("visit_reopened", language, number=case.number)
    return say("rated", language, number=case.number, answer=VISIT_LABELS[answer][language])


async def answer_waiting_case(
    message: InboundMessage,
    citizen: Citizen,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> Answer | None:
    """When staff are waiting for this citizen (a paused case), their message is the answer:
    it joins that case and the deadlines run again. None when nothing waits."""
    assert citizen.id is not None
    cases = await uow.cases.for_citizen(citizen.id, statuses=OPEN, limit=10)
    waiting = next((c for c in cases if c.paused_since is not None), None)
    if waiting is None:
        return None
    waiting.record(CaseEvent(EventKind.MESSAGE, at=now, actor="citizen", data={"answer": True}))
    waiting.resume(actor="citizen", at=now, calendar=conversation.routing.calendar)
    await uow.cases.save(waiting)
    message.case_id = waiting.id
    return Answer(say("waiting_answered", message.language or Language.ZH, number=waiting.number))


async def open_at_once(
    message: InboundMessage,
    reading: Reading,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
) -> tuple[Case, str]:
    """Open the message's case now, on the NLU's reading; the case and what to tell the
    citizen."""
    case = await open_case(message, reading, uow=uow, filing=conversation, now=now)
    message.case_id = case.id
    text = case_opened_text(case, message.language or Language.ZH, conversation)
    return case, text + await ask_consent(case, uow, conversation, now)


async def ask_consent(
    case: Case, uow: UnitOfWork, conversation: Conversation, now: datetime
) -> str:
    """On a chat, note that the board's question is asked and return it ("" elsewhere, and
    for a report merged into another: the lead case is the one that may be published)."""
    if case.channel not in CONSENT_CHANNELS or case.merged_into is not None:
        return ""
    await record_consent(case, None, uow=uow, now=now, review=conversation.routing.board_review)
    return say("publish_question", case.language)


def consent_choices(case: Case) -> tuple[Choice, ...]:
    """The question's buttons, for channels that show them."""
    if case.channel not in CONSENT_CHANNELS or case.merged_into is not None:
        return ()
    return tuple(
        Choice(PUBLISH_LABELS[answer][case.language], f"publish:{case.number}:{int(answer)}")
        for answer in (True, False)
    )


async def answer_publish(
    citizen_id: int,
    consent: bool,
    *,
    uow: UnitOfWork,
    conversation: Conversation,
    now: datetime,
    language: Language,
) -> str:
    """The citizen's yes or no to the board's question, for their latest case that asked."""
    case = await answer_consent(
        citizen_id, consent, uow=uow, now=now, review=conversation.routing.board_review
    )
    if case is None:
        return say("publish_nothing", language)
    return say("publish_yes" if consent else "publish_no", language, number=case.number)
