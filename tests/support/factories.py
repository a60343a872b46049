"""Small builders for domain objects used across tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from civicline.domain.cases import Case
from civicline.domain.messages import Channel, InboundMessage, Language, OutboundMessage
from civicline.domain.taxonomy import Department, Taxonomy
from civicline.handlers.cases import Routing

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DEPARTMENTS = [
    Department("housing_construction", "市住房和城乡建设局", "Housing Bureau"),
    Department("transport", "市交通运输局", "Transport Bureau"),
    Department("hotline_center", "热线中心", "Hotline Center"),
]


def inbound(
    provider_id: str = "m1", address: str = "conv-1", text: str = "路灯坏了"
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WEBCHAT,
        provider_message_id=provider_id,
        sender_address=address,
        text=text,
        received_at=T0,
        language=Language.ZH,
    )


def case(
    number: str, citizen_id: int, *, due_in_days: int = 5, department: str | None = None
) -> Case:
    return Case(
        number=number,
        citizen_id=citizen_id,
        channel=Channel.WEBCHAT,
        reply_to="conv-1",
        summary="路灯坏了",
        language=Language.ZH,
        created_at=T0,
        accept_due_at=T0 + timedelta(hours=24),
        complete_due_at=T0 + timedelta(days=due_in_days),
        department=department,
    )


def outbound(case_id: int | None = None, address: str = "conv-1") -> OutboundMessage:
    return OutboundMessage(
        channel=Channel.WEBCHAT,
        recipient_address=address,
        text="已收到",
        created_at=T0,
        case_id=case_id,
    )


@dataclass(frozen=True, slots=True)
class Rules:
    """Where a test files its cases (``handlers.cases.Filing``) without a channel's settings."""

    taxonomy: Taxonomy
    routing: Routing
