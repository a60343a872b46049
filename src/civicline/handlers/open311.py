"""Open311 (GeoReport v2) service requests: opening their cases, and what clients read back.

A POSTed request is stored in the inbox on channel ``open311`` (``channels.open311`` checks
and parses it) and a worker opens its case here. There is no dialogue: every Open311 POST is
a service request and the client already chose its service, so the service code is the
category, the request's address and coordinates are the case's place and location, and the
NLU reads the description only for urgency and entities. Nothing is sent back: Open311
clients poll (``GET requests``, ``servicerequestupdates``).

What clients read back is built here, field by field, from public facts only: no name,
e-mail, phone, device or account id can reach a view, and phone numbers, ID numbers and
e-mail addresses written inside the description or the staff's words are masked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import Channel, InboundMessage, InboundStatus, Language
from civicline.domain.taxonomy import Category, Taxonomy, UrgentDeadlines
from civicline.handlers.cases import Confirmed, Routing, open_case, read_complaint
from civicline.handlers.inbound import Handled
from civicline.nlu.base import Classifier
from civicline.nlu.masking import mask
from civicline.storage.base import UnitOfWorkFactory
from civicline.storage.open311 import FiledRequest, Open311Store, Update
from civicline.storage.open311 import RequestQuery as RequestQuery  # for channels.open311

log = logging.getLogger(__name__)

META_KEY = "open311"  # InboundMessage.meta["open311"]: what the request said besides its words
MEDIA_PREFIX = "url:"
# Open311 knows two states; a case is closed for the citizen once it is settled one way or
# another (answered cases stay open until staff close them).
CLOSED = frozenset({CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED})
OPEN = frozenset(CaseStatus) - CLOSED
STATUSES = {"open": OPEN, "closed": CLOSED}


def public_status(status: CaseStatus) -> str:
    return "closed" if status in CLOSED else "open"


@dataclass(frozen=True, slots=True)
class Open311:
    """What opening an Open311 case needs."""

    uow_factory: UnitOfWorkFactory
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier


async def process_request(message: InboundMessage, now: datetime, *, open311: Open311) -> Handled:
    """The worker's way in (``handlers.inbound``): no dialogue, and no reply (an Open311
    client polls for its request instead)."""
    assert message.id is not None
    number = await process_stored(message.id, open311, now=now)
    if number is None:
        return Handled([], already_done=True)
    return Handled([], case_number=number, opened=[number])


async def process_stored(message_id: int, open311: Open311, *, now: datetime) -> str | None:
    """Open the case of a stored request, once; its number, or None if it was opened before."""
    async with open311.uow_factory() as uow:
        stored = await uow.inbox.get(message_id)
    if stored.status != InboundStatus.RECEIVED:
        return None
    # Classify outside the transaction: the NLU may be a remote server.
    reading = await read_complaint(stored.text, nlu=open311.nlu)
    request: dict[str, Any] = stored.meta.get(META_KEY, {})
    confirmed = Confirmed(
        category=request.get("service_code"),
        place=request.get("address_string"),
        location=stored.location,
        by="open311",
    )
    async with open311.uow_factory() as uow:
        message = await uow.inbox.get(message_id, lock=True)
        if message.status != InboundStatus.RECEIVED:
            return None
        language = message.language or Language.ZH
        citizen = await uow.citizens.get_or_create(
            ContactHandle(Channel.OPEN311, message.sender_address), at=now, language=language
        )
        message.citizen_id = citizen.id
        case = await open_case(
            message, reading, uow=uow, filing=open311, now=now, confirmed=confirmed
        )
        message.case_id = case.id
        message.status = InboundStatus.PROCESSED
        await uow.inbox.save(message, processed_at=now)
        await uow.commit()
    log.info("open311 request filed", extra={"case": case.number, "inbound_id": message_id})
    return case.number


def service_notice(
    category: Category, language: Language, urgent: UrgentDeadlines | None = None
) -> str:
    """What the city promises for this service: its deadlines to accept and to resolve (the
    shorter urgent ones for a case found urgent)."""
    hours, days = category.accept_hours, category.complete_working_days
    if urgent is not None:
        hours, days = min(hours, urgent.accept_hours), min(days, urgent.complete_working_days)
    if language == Language.ZH:
        return (
            f"{'紧急：' if urgent else ''}{hours}小时内受理，{days}个工作日内办结；"
            "危及生命财产安全的紧急情况请拨打110、119或120。"
        )
    return (
        f"{'Urgent: a' if urgent else 'A'}ccepted within {hours} hours and resolved within "
        f"{days} working days. If anyone is in danger, call 110, 119 or 120."
    )


def _merged_note(into: str | None, language: Language) -> str:
    if language == Language.ZH:
        return f"已并入案件 {into}" if into else "已并入另一案件"
    return f"Merged into case {into}" if into else "Merged into another case"


def _note(update: Update, language: Language) -> str:
    if update.status == CaseStatus.MERGED:
        note = _merged_note(update.merged_into, language)
        return f"{note}: {mask(update.text)}" if update.text.strip() else note
    return mask(update.text)


@dataclass(frozen=True, slots=True)
class ServiceRequestView:
    """One case as GeoReport v2 shows it. Every field here is public by design."""

    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None


@dataclass(frozen=True, slots=True)
class UpdateView:
    """One update as mySociety's ``servicerequestupdates`` shows it."""

    update_id: str
    service_request_id: str
    status: str
    updated_datetime: datetime
    description: str
    media_url: str | None = None


def media_url(attachments: list[str]) -> str | None:
    return next(
        (a.removeprefix(MEDIA_PREFIX) for a in attachments if a.startswith(MEDIA_PREFIX)), None
    )


def request_view(
    filed: FiledRequest, *, taxonomy: Taxonomy, language: Language, timezone: tzinfo
) -> ServiceRequestView:
    case = filed.case
    category = taxonomy.categories.get(case.category) if case.category else None
    department = case.department or taxonomy.triage_department
    dept = taxonomy.departments.get(department)
    zh = language == Language.ZH
    lat, long = case.location or (None, None)
    return ServiceRequestView(
        service_request_id=case.number,
        status=public_status(case.status),
        status_notes=_note(filed.latest, language) if filed.latest else None,
        service_name=(category.name_zh if zh else category.name_en) if category else None,
        service_code=case.category,
        description=mask(case.summary),
        agency_responsible=(dept.name_zh if zh else dept.name_en) if dept else None,
        service_notice=(
            service_notice(category, language, taxonomy.urgent if case.urgent else None)
            if category
            else None
        ),
        requested_datetime=case.created_at.astimezone(timezone),
        updated_datetime=(case.updated_at or case.created_at).astimezone(timezone),
        expected_datetime=case.complete_due_at.astimezone(timezone),
        address=case.place,
        lat=lat,
        long=long,
        media_url=media_url(filed.request.attachments) if filed.request else None,
    )


def update_view(update: Update, *, language: Language, timezone: tzinfo) -> UpdateView:
    return UpdateView(
        update_id=update.key,
        service_request_id=update.case_number,
        status=public_status(update.status),
        updated_datetime=update.at.astimezone(timezone),
        description=_note(update, language),
    )


async def find_requests(
    query: RequestQuery,
    *,
    store: Open311Store,
    taxonomy: Taxonomy,
    language: Language,
    timezone: tzinfo,
) -> list[ServiceRequestView]:
    return [
        request_view(filed, taxonomy=taxonomy, language=language, timezone=timezone)
        for filed in await store.requests(query)
    ]


async def find_updates(
    *,
    since: datetime,
    until: datetime,
    limit: int,
    store: Open311Store,
    language: Language,
    timezone: tzinfo,
) -> list[UpdateView]:
    return [
        update_view(update, language=language, timezone=timezone)
        for update in await store.updates(since=since, until=until, limit=limit)
    ]
