"""The mayor hotline: a call's transcript becomes a case while the caller is on the line.

Operators (or the call-centre export, or the voice line's speech recognition) hand over a
transcript. It is stored in the inbox under its call id, so a transcript handed over twice is
one case. The NLU reads the caller's words (masked); the operator's category, department and
urgency win when given, and a category that differs from the NLU's is kept as training data.
The case opens on channel ``hotline`` for the caller's phone identity (the same citizen as
their SMS). With SMS consent the caller gets the case number by SMS and answers go by SMS;
without it, each answer becomes a call-back task (回访) that staff mark done.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import (
    Channel,
    InboundMessage,
    InboundStatus,
    Language,
    OutboundMessage,
    guess_language,
)
from civicline.domain.taxonomy import Category, Department, Taxonomy
from civicline.domain.text import flaw
from civicline.handlers.board import record_consent
from civicline.handlers.cases import Confirmed, Routing, open_case, read_complaint
from civicline.handlers.inbound import Handled
from civicline.handlers.intake import accept
from civicline.nlu.base import Classifier
from civicline.storage.base import InboxWriter, JobQueue, UnitOfWorkFactory
from civicline.storage.queue import queue_deliveries

log = logging.getLogger(__name__)

# Where a person's correction of the NLU goes: called with (text, category); the adapter
# (``nlu.corrections.CorrectionsFile``) masks the text and keeps it as training data.
Corrections = Callable[[str, str], Awaitable[None]]
SPEAKERS = {"caller": "来电人", "operator": "话务员"}
SPEAKERS_EN = {"caller": "Caller", "operator": "Operator"}
MAX_TRANSCRIPT = 20_000
MAX_CALL_ID = 128
NO_CALLER_WORDS = "the transcript holds no words of the caller"
# A line of a typed or pasted transcript that says who speaks: 来电人：… / Operator: …
_LABELLED = re.compile(r"^\s*(来电人|话务员|caller|operator)\s*[：:]\s?(.*)$", re.IGNORECASE)
_LABELS = {"来电人": "caller", "话务员": "operator", "caller": "caller", "operator": "operator"}


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str  # caller or operator
    text: str


def caller_words(turns: Sequence[Turn]) -> str:
    """What the NLU reads: the caller's turns (the operator's greetings are noise)."""
    return "\n".join(t.text.strip() for t in turns if t.speaker == "caller")


def parse_turns(text: str) -> tuple[Turn, ...]:
    """A transcript as an operator types or pastes it. Lines starting ``来电人：`` or
    ``话务员：`` (``Caller:``, ``Operator:``) open a turn, and a line without a label goes on
    with the turn before it; text without any label is all the caller's words."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(_LABELLED.match(line) for line in lines):
        return (Turn("caller", text.strip()),) if text.strip() else ()
    turns: list[tuple[str, list[str]]] = []
    for line in lines:
        labelled = _LABELLED.match(line)
        if labelled:
            turns.append((_LABELS[labelled.group(1).lower()], [labelled.group(2)]))
        elif turns:
            turns[-1][1].append(line)
        elif line.strip():
            turns.append(("caller", [line]))
    said = ((speaker, "\n".join(parts).strip()) for speaker, parts in turns)
    return tuple(Turn(speaker, words) for speaker, words in said if words)


@dataclass(frozen=True, slots=True)
class Transcript:
    """One call as the hotline hands it over. ``caller`` is an E.164 number."""

    call_id: str
    caller: str
    operator_id: str
    started_at: datetime
    ended_at: datetime
    turns: tuple[Turn, ...]
    category: str | None = None
    department: str | None = None
    urgent: bool | None = None
    unit: str | None = None  # where it happened, as the operator chose it (a unit's code)
    sms_consent: bool = False
    # The operator asked whether the matter may be published on the board (None: not asked).
    publish_consent: bool | None = None
    language: Language | None = None
    source: str = "operator"  # operator, import or voice
    attachments: tuple[str, ...] = ()

    def check(self, taxonomy: Taxonomy) -> None:
        """Refuse what cannot be a call, with a message that says which field is wrong."""
        if not self.call_id.strip() or len(self.call_id) > MAX_CALL_ID:
            raise InvalidInput(f"call_id must be 1-{MAX_CALL_ID} characters")
        for name, value in (
            ("call_id", self.call_id),
            ("caller", self.caller),
            ("operator_id", self.operator_id),
            ("transcript", "".join(turn.text for turn in self.turns)),
        ):
            if problem := flaw(value):
                raise InvalidInput(f"{name} {problem}")
        if self.ended_at < self.started_at:
            raise InvalidInput("the call ends before it starts")
        if any(turn.speaker not in SPEAKERS for turn in self.turns):
            raise InvalidInput("a turn's speaker must be caller or operator")
        if not self.caller_words().strip():
            raise InvalidInput(NO_CALLER_WORDS)
        if len(self.text()) > MAX_TRANSCRIPT:
            raise InvalidInput(f"the transcript is longer than {MAX_TRANSCRIPT} characters")
        if self.category is not None and self.category not in taxonomy.categories:
            raise InvalidInput(f"unknown category {self.category}")
        if self.department is not None and self.department not in taxonomy.departments:
            raise InvalidInput(f"unknown department {self.department}")
        tree = taxonomy.units
        if self.unit is not None and (tree is None or tree.get(self.unit) is None):
            raise InvalidInput(f"unknown unit {self.unit}")

    def caller_words(self) -> str:
        return caller_words(self.turns)

    def text(self) -> str:
        """The whole call as staff read it, one line per turn."""
        names = SPEAKERS if self.spoken_language() == Language.ZH else SPEAKERS_EN
        if all(turn.speaker == "caller" for turn in self.turns):
            return self.caller_words()
        separator = "：" if names is SPEAKERS else ": "
        return "\n".join(f"{names[t.speaker]}{separator}{t.text.strip()}" for t in self.turns)

    def spoken_language(self) -> Language:
        return self.language or guess_language(self.caller_words())

    def meta(self) -> dict[str, Any]:
        return {
            "call": {
                "operator_id": self.operator_id,
                "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat(),
                "source": self.source,
                "sms_consent": self.sms_consent,
                "publish_consent": self.publish_consent,
                "operator_choice": {
                    k: v
                    for k, v in (
                        ("category", self.category),
                        ("department", self.department),
                        ("urgent", self.urgent),
                        ("unit", self.unit),
                    )
                    if v is not None
                },
                "turns": [[t.speaker, t.text] for t in self.turns],
                "language": self.language,
            }
        }

    @classmethod
    def from_message(cls, message: InboundMessage) -> Transcript:
        """The transcript as filed, from its inbox row (the worker finishes a filing that
        was interrupted after the row was stored)."""
        call = message.meta["call"]
        choice = call.get("operator_choice", {})
        return cls(
            call_id=message.provider_message_id,
            caller=message.sender_address,
            operator_id=str(call["operator_id"]),
            started_at=datetime.fromisoformat(call["started_at"]),
            ended_at=datetime.fromisoformat(call["ended_at"]),
            turns=tuple(Turn(str(s), str(t)) for s, t in call["turns"]),
            category=choice.get("category"),
            department=choice.get("department"),
            urgent=choice.get("urgent"),
            unit=choice.get("unit"),
            sms_consent=bool(call.get("sms_consent")),
            publish_consent=call.get("publish_consent"),
            language=Language(call["language"]) if call.get("language") else None,
            source=str(call.get("source", "operator")),
            attachments=tuple(message.attachments),
        )


@dataclass(frozen=True, slots=True)
class Hotline:
    """What filing a transcript needs."""

    uow_factory: UnitOfWorkFactory
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier
    corrections: Corrections | None = None


@dataclass(frozen=True, slots=True)
class Filed:
    case_number: str
    created: bool  # False: this call id was filed before; this is its case
    department: str | None = None
    category: str | None = None
    classified_by: str | None = None
    urgent: bool = False
    outbound_ids: list[int] = field(default_factory=list)  # the SMS receipt, to deliver
    corrected: bool = False  # the operator's category differed from the NLU's


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the NLU makes of a call before the operator files it, to confirm or correct.
    ``category`` is None when the NLU's answer is no category (the case would go to triage)."""

    category: Category | None
    department: Department | None
    confidence: float
    engine: str
    ranking: tuple[tuple[str, float], ...]
    urgent: bool
    collective: bool
    reasons: tuple[str, ...]  # machine codes (``gas_leak``, ``many_people``)
    place: str | None


async def suggest(turns: Sequence[Turn], *, nlu: Classifier, taxonomy: Taxonomy) -> Suggestion:
    """Read the caller's words as filing will: category, its department, urgency, place."""
    words = caller_words(turns)
    if not words.strip():
        raise InvalidInput(NO_CALLER_WORDS)
    if len(words) > MAX_TRANSCRIPT:
        raise InvalidInput(f"the transcript is longer than {MAX_TRANSCRIPT} characters")
    reading = await read_complaint(words, nlu=nlu)
    classification = reading.classification
    known = classification.intent in taxonomy.categories
    category = taxonomy.category(classification.intent) if known else None
    return Suggestion(
        category=category,
        department=taxonomy.department(category.department) if category else None,
        confidence=classification.confidence,
        engine=classification.engine,
        ranking=classification.ranking,
        urgent=reading.flags.urgent,
        collective=reading.flags.collective,
        reasons=reading.flags.reasons,
        place=reading.place,
    )


def receipt_text(number: str, language: Language) -> str:
    if language == Language.ZH:
        return f"【12345】您的来电诉求已登记，案件编号 {number}。查询进度请回复“查询 {number}”。"
    return (
        f"[12345] Your call is registered as case {number}. "
        f"To check on it, reply “status {number}”."
    )


async def file_transcript(
    transcript: Transcript, hotline: Hotline, *, inbox: InboxWriter, now: datetime
) -> Filed:
    """Open the call's case (once per call id) and queue the SMS receipt if consented."""
    transcript.check(hotline.taxonomy)
    message = InboundMessage(
        channel=Channel.HOTLINE,
        provider_message_id=transcript.call_id,
        sender_address=transcript.caller,
        text=transcript.text(),
        received_at=transcript.ended_at,
        language=transcript.spoken_language(),
        attachments=list(transcript.attachments),
        meta=transcript.meta(),
    )
    # The operator waits for the number: filed here, not queued. A row stored before may
    # still be unprocessed (a filing cut short): that is finished now too.
    accepted = await accept(message, inbox=inbox, queue=None)
    return await process_stored(accepted.id, hotline, now=now)


async def file_call(
    transcript: Transcript, hotline: Hotline, *, inbox: InboxWriter, queue: JobQueue, now: datetime
) -> Filed:
    """File a call (the operator's form, the API, the voice line) and queue its SMS receipt."""
    filed = await file_transcript(transcript, hotline, inbox=inbox, now=now)
    await queue_deliveries(queue, filed.outbound_ids)
    return filed


async def process_transcript(
    message: InboundMessage, now: datetime, *, hotline: Hotline
) -> Handled:
    """The worker's way in (``handlers.inbound``): a transcript whose filing was cut short."""
    assert message.id is not None
    filed = await process_stored(message.id, hotline, now=now)
    return Handled(filed.outbound_ids, case_number=filed.case_number)


async def process_stored(message_id: int, hotline: Hotline, *, now: datetime) -> Filed:
    """Open the case of a stored transcript, or find the one opened before."""
    async with hotline.uow_factory() as uow:
        stored = await uow.inbox.get(message_id)
    if stored.status == InboundStatus.PROCESSED:
        return await _filed_before(message_id, hotline)
    transcript = Transcript.from_message(stored)
    language = transcript.spoken_language()
    reading = await read_complaint(transcript.caller_words(), nlu=hotline.nlu)
    confirmed = Confirmed(
        category=transcript.category,
        department=transcript.department,
        urgent=transcript.urgent,
        by="operator",
        unit=transcript.unit,
    )
    async with hotline.uow_factory() as uow:
        message = await uow.inbox.get(message_id, lock=True)
        if message.status == InboundStatus.PROCESSED:
            return await _filed_before(message_id, hotline)
        # The caller is known by their phone: the same citizen as their text messages.
        phone = ContactHandle(Channel.SMS, transcript.caller)
        citizen = await uow.citizens.get_or_create(phone, at=now, language=language)
        assert citizen.id is not None
        await uow.citizens.link(citizen.id, ContactHandle(Channel.HOTLINE, transcript.caller))
        message.citizen_id = citizen.id
        case = await open_case(
            message, reading, uow=uow, filing=hotline, now=now, confirmed=confirmed
        )
        case.reply_channel = Channel.SMS if transcript.sms_consent else Channel.HOTLINE
        await uow.cases.save(case)
        if transcript.publish_consent is not None:
            await record_consent(
                case,
                transcript.publish_consent,
                uow=uow,
                now=now,
                review=hotline.routing.board_review,
                actor=f"operator:{transcript.operator_id}",
            )
        message.case_id = case.id
        message.status = InboundStatus.PROCESSED
        await uow.inbox.save(message, processed_at=now)
        outbound_ids = []
        opted_out = await uow.citizens.is_opted_out(phone)
        if transcript.sms_consent and not opted_out:
            receipt = await uow.outbox.add(
                OutboundMessage(
                    channel=Channel.SMS,
                    recipient_address=transcript.caller,
                    text=receipt_text(case.number, language),
                    created_at=now,
                    updated_at=now,
                    case_id=case.id,
                    citizen_id=citizen.id,
                    in_reply_to=message.id,
                )
            )
            assert receipt.id is not None
            outbound_ids.append(receipt.id)
        await uow.commit()
    corrected = (
        transcript.category is not None
        and transcript.category != reading.classification.intent
        and hotline.corrections is not None
    )
    if corrected and hotline.corrections is not None and transcript.category is not None:
        await hotline.corrections(transcript.caller_words(), transcript.category)
    log.info("hotline call filed", extra={"case": case.number, "source": transcript.source})
    return Filed(
        case_number=case.number,
        created=True,
        department=case.department,
        category=case.category,
        classified_by=case.classified_by,
        urgent=case.urgent,
        outbound_ids=outbound_ids,
        corrected=corrected,
    )


async def _filed_before(message_id: int, hotline: Hotline) -> Filed:
    async with hotline.uow_factory() as uow:
        message = await uow.inbox.get(message_id)
        assert message.case_id is not None
        case = await uow.cases.get(message.case_id)
    return Filed(
        case_number=case.number,
        created=False,
        department=case.department,
        category=case.category,
        classified_by=case.classified_by,
        urgent=case.urgent,
    )
