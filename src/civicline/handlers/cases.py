"""Opening cases from classified complaints, and the replies that acknowledge them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from civicline.domain.cases import Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.messages import InboundMessage, Language, OutboundMessage
from civicline.domain.sla import deadlines_for
from civicline.domain.taxonomy import Taxonomy
from civicline.nlu.base import Classification
from civicline.storage.base import UnitOfWork

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Routing:
    """How sure the NLU must be before a case goes straight to a department."""

    min_confidence: float
    city_timezone: tzinfo


async def open_case(
    message: InboundMessage,
    classification: Classification,
    *,
    uow: UnitOfWork,
    taxonomy: Taxonomy,
    routing: Routing,
    now: datetime,
) -> Case:
    """Open a case for ``message``; routed when the NLU is sure, in triage otherwise."""
    assert message.citizen_id is not None
    placed = (
        classification.intent in taxonomy.categories
        and classification.confidence >= routing.min_confidence
    )
    category = taxonomy.category(classification.intent if placed else "other")
    local_now = now.astimezone(routing.city_timezone)
    deadlines = deadlines_for(category, local_now)
    number = await uow.cases.next_number(local_now.date())
    case = Case(
        number=number,
        citizen_id=message.citizen_id,
        channel=message.channel,
        reply_to=message.sender_address,
        summary=message.text,
        language=message.language or Language.ZH,
        created_at=now,
        updated_at=now,
        accept_due_at=deadlines.accept_by,
        complete_due_at=deadlines.complete_by,
        category=category.code if placed else None,
        classified_by=classification.engine,
        confidence=classification.confidence,
    )
    case.record(
        CaseEvent(
            kind=EventKind.CLASSIFIED,
            at=now,
            actor=f"nlu:{classification.engine}",
            to_status=CaseStatus.RECEIVED,
            data={
                "intent": classification.intent,
                "confidence": round(classification.confidence, 4),
                "ranking": [[name, round(score, 4)] for name, score in classification.ranking],
                "routed": placed,
            },
        )
    )
    if placed:
        case.assign(category.department, actor=SYSTEM, at=now, reason="routed by category")
    return await uow.cases.add(case)


def reply_to_message(
    message: InboundMessage, text: str, *, now: datetime, case_id: int | None = None
) -> OutboundMessage:
    """A bot reply on the channel and address the message came from."""
    return OutboundMessage(
        channel=message.channel,
        recipient_address=message.sender_address,
        text=text,
        created_at=now,
        updated_at=now,
        case_id=case_id,
        citizen_id=message.citizen_id,
        in_reply_to=message.id,
        author="bot",
    )
