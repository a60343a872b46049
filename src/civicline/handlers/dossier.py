"""The complete dossier of a case (一案一档), the fifth of leader ownership's "five ones".

Everything the system holds on a case, gathered at once in one transaction: the case, every
history event, every message in and out with its delivery state, every attachment reference,
every supervision order and the leader ownership. It is read under the case's access rule
(department staff see their own department's cases, supervisors, admins and operators all),
and for roles that may not see contact details every text is masked (phone and ID numbers,
e-mail addresses), contact addresses are hidden and channel facts (``meta``: an Open311
requester's name, a call's operator) are left out: the same rule as the console's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import Case, CaseEvent
from civicline.domain.messages import Channel
from civicline.domain.ownership import CaseOwner, owes_past_deadline
from civicline.domain.supervision import SupervisionOrder
from civicline.handlers.access import HIDDEN, check_access
from civicline.nlu.masking import mask
from civicline.storage.base import UnitOfWork

SERVED_ATTACHMENTS = frozenset({"photo", "document"})  # Telegram files the API streams


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    message_id: int
    index: int
    reference: str  # "photo:<file id>", a media URL, …
    url: str | None  # where staff open it through the gateway, when it is served there


@dataclass(frozen=True, slots=True)
class DossierMessage:
    direction: str  # inbound, outbound
    id: int
    at: datetime
    channel: Channel
    author: str  # citizen, bot, staff:<name>
    address: str  # the citizen's, hidden for roles that may not see it
    text: str
    status: str  # inbound: received/processed; outbound: the delivery state
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    meta: dict[str, Any] | None = None  # channel facts, for roles that may see them


@dataclass(frozen=True, slots=True)
class Dossier:
    case: Case
    events: list[CaseEvent]
    messages: list[DossierMessage]
    orders: list[SupervisionOrder]
    owner: CaseOwner | None
    generated_at: datetime
    generated_by: str
    masked: bool  # texts were masked for the reader's role
    overdue: bool

    @property
    def attachments(self) -> list[AttachmentRef]:
        return [a for m in self.messages for a in m.attachments]


async def build(number: str, *, user: StaffUser, uow: UnitOfWork, now: datetime) -> Dossier:
    async with uow:
        case = await uow.cases.by_number(number, with_history=True)
        check_access(user, case)
        assert case.id is not None
        inbound = await uow.inbox.for_case(case.id)
        outbound = await uow.outbox.for_case(case.id)
        orders = await uow.supervision.for_case(case.id)
        owner = await uow.ownership.get(case.id)
    plain = user.sees_contact_details
    text = (lambda s: s) if plain else mask
    messages = [
        DossierMessage(
            direction="inbound",
            id=m.id or 0,
            at=m.received_at,
            channel=m.channel,
            author="citizen",
            address=m.sender_address if plain else HIDDEN,
            text=text(m.text),
            status=str(m.status),
            updated_at=m.received_at,
            attachments=tuple(
                _attachment(case.number, m.id or 0, i, ref, m.channel)
                for i, ref in enumerate(m.attachments)
            ),
            meta=dict(m.meta) if plain and m.meta else None,
        )
        for m in inbound
    ] + [
        DossierMessage(
            direction="outbound",
            id=m.id or 0,
            at=m.created_at,
            channel=m.channel,
            author=m.author,
            address=m.recipient_address if plain else HIDDEN,
            text=text(m.text),
            status=str(m.status),
            attempts=m.attempts,
            last_error=m.last_error,
            updated_at=m.updated_at,
        )
        for m in outbound
    ]
    messages.sort(key=lambda m: (m.at, m.direction != "inbound", m.id))
    events = list(case.events)
    if not plain:
        case = replace(case, summary=mask(case.summary), reply_to=HIDDEN, events=[])
        case = replace(case, resolution=mask(case.resolution) if case.resolution else None)
        events = [replace(e, reason=_mask_opt(e.reason), data=_mask_all(e.data)) for e in events]
        orders = [
            replace(o, instruction=mask(o.instruction), response=_mask_opt(o.response))
            for o in orders
        ]
        if owner is not None:
            owner = replace(owner, plan=mask(owner.plan))
    return Dossier(
        case=case,
        events=events,
        messages=messages,
        orders=orders,
        owner=owner,
        generated_at=now,
        generated_by=user.actor,
        masked=not plain,
        overdue=owes_past_deadline(case, now),
    )


def _attachment(
    number: str, message_id: int, index: int, ref: str, channel: Channel
) -> AttachmentRef:
    kind, _, file_id = ref.partition(":")
    served = channel == Channel.TELEGRAM and kind in SERVED_ATTACHMENTS and bool(file_id)
    url = f"/api/v1/cases/{number}/attachments/{message_id}/{index}" if served else None
    return AttachmentRef(message_id, index, ref, url)


def _mask_opt(text: str | None) -> str | None:
    return None if text is None else mask(text)


def _mask_all(value: Any) -> Any:
    """Every string inside event data, masked (data may quote what a citizen wrote)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_all(v) for v in value]
    return value
