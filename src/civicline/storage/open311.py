"""What Open311 clients may read: cases filed over Open311, their public updates, tokens.

A read-only port and its SQL adapter, kept out of the unit of work: every call is one short
read on its own session. Only cases that came in on channel ``open311`` are ever returned:
citizens who wrote by chat, SMS or the hotline never agreed to a public listing.

"Updates" are what an Open311 client may follow (mySociety's ``servicerequestupdates``):
staff replies once published (the outbox row is ``sent`` or ``delivered``) and the status
changes a citizen cares about (closed, rejected, merged, reopened). Internal moves
(accepted, assigned, forwarded, returned) and bot messages are not updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicline.domain.cases import Case, CaseStatus, EventKind
from civicline.domain.messages import Channel, DeliveryStatus, InboundMessage
from civicline.storage.cases import case_from_row
from civicline.storage.inbox import inbound_from_row
from civicline.storage.tables import CaseEventRow, CaseRow, InboundMessageRow, OutboundMessageRow

PUBLISHED = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
# Status changes that are news to the citizen; the rest is the city's internal routing.
PUBLIC_MOVES = (CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED, CaseStatus.REOPENED)
STAFF_AUTHOR = "staff:%"


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """Which Open311 cases to list. ``numbers``, when given, overrides every other filter."""

    limit: int
    numbers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: frozenset[CaseStatus] | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """A published staff reply (``status`` is then ANSWERED) or a public status change."""

    key: str  # "reply-<outbound id>" or "event-<event id>": unique across both kinds
    case_id: int
    case_number: str
    at: datetime
    status: CaseStatus
    text: str  # the reply, or the reason given for the change (the resolution on close)
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class FiledRequest:
    """An Open311 case, the POST that opened it, and its latest update (for status notes)."""

    case: Case
    request: InboundMessage | None
    latest: Update | None


@dataclass(frozen=True, slots=True)
class TokenState:
    """A token's POST was stored; ``case_number`` is None until its case is opened."""

    case_number: str | None


class Open311Store(Protocol):
    async def token(self, token: str) -> TokenState | None:
        """None when no request was filed under this token."""
        ...

    async def requests(self, query: RequestQuery) -> list[FiledRequest]:
        """Matching Open311 cases, oldest first, at most ``query.limit``."""
        ...

    async def updates(self, *, since: datetime, until: datetime, limit: int) -> list[Update]:
        """Updates of Open311 cases in the time range, oldest first, at most ``limit``."""
        ...


class SqlOpen311Store:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def token(self, token: str) -> TokenState | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(InboundMessageRow.id, CaseRow.number)
                    .outerjoin(CaseRow, CaseRow.id == InboundMessageRow.case_id)
                    .where(
                        InboundMessageRow.channel == Channel.OPEN311,
                        InboundMessageRow.provider_message_id == token,
                    )
                )
            ).first()
        return None if row is None else TokenState(row.number)

    async def requests(self, query: RequestQuery) -> list[FiledRequest]:
        stmt = select(CaseRow).where(CaseRow.channel == Channel.OPEN311)
        if query.numbers:
            stmt = stmt.where(CaseRow.number.in_(query.numbers))
        else:
            if query.categories:
                stmt = stmt.where(CaseRow.category.in_(query.categories))
            if query.statuses is not None:
                stmt = stmt.where(CaseRow.status.in_([str(s) for s in query.statuses]))
            if query.since is not None:
                stmt = stmt.where(CaseRow.created_at >= query.since)
            if query.until is not None:
                stmt = stmt.where(CaseRow.created_at <= query.until)
        stmt = stmt.order_by(CaseRow.created_at, CaseRow.id).limit(query.limit)
        async with self._sessions() as session:
            cases = [case_from_row(row) for row in await session.scalars(stmt)]
            ids = [c.id for c in cases if c.id is not None]
            if not ids:
                return []
            first: dict[int, InboundMessage] = {}
            for row in await session.scalars(
                select(InboundMessageRow)
                .where(
                    InboundMessageRow.case_id.in_(ids),
                    InboundMessageRow.channel == Channel.OPEN311,
                )
                .order_by(InboundMessageRow.id)
            ):
                if row.case_id is not None:
                    first.setdefault(row.case_id, inbound_from_row(row))
            latest: dict[int, Update] = {}
            for update in await self._updates(session, case_ids=ids):
                latest[update.case_id] = update  # oldest first: the last one wins
        return [
            FiledRequest(c, first.get(c.id), latest.get(c.id)) for c in cases if c.id is not None
        ]

    async def updates(self, *, since: datetime, until: datetime, limit: int) -> list[Update]:
        async with self._sessions() as session:
            return await self._updates(session, since=since, until=until, limit=limit)

    async def _updates(
        self,
        session: AsyncSession,
        *,
        case_ids: Iterable[int] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Update]:
        replies = (
            select(OutboundMessageRow, CaseRow.number)
            .join(CaseRow, CaseRow.id == OutboundMessageRow.case_id)
            .where(
                CaseRow.channel == Channel.OPEN311,
                OutboundMessageRow.channel == Channel.OPEN311,
                OutboundMessageRow.author.like(STAFF_AUTHOR),
                OutboundMessageRow.status.in_([str(s) for s in PUBLISHED]),
            )
        )
        moves = (
            select(CaseEventRow, CaseRow.number)
            .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
            .where(
                CaseRow.channel == Channel.OPEN311,
                CaseEventRow.kind == EventKind.TRANSITION,
                CaseEventRow.to_status.in_([str(s) for s in PUBLIC_MOVES]),
            )
        )
        if case_ids is not None:
            ids = list(case_ids)
            replies = replies.where(OutboundMessageRow.case_id.in_(ids))
            moves = moves.where(CaseEventRow.case_id.in_(ids))
        if since is not None:
            replies = replies.where(OutboundMessageRow.created_at >= since)
            moves = moves.where(CaseEventRow.at >= since)
        if until is not None:
            replies = replies.where(OutboundMessageRow.created_at <= until)
            moves = moves.where(CaseEventRow.at <= until)
        if limit is not None:
            replies = replies.order_by(OutboundMessageRow.created_at).limit(limit)
            moves = moves.order_by(CaseEventRow.at).limit(limit)
        found = [
            Update(
                key=f"reply-{reply.id}",
                case_id=reply.case_id,
                case_number=number,
                at=reply.created_at,
                status=CaseStatus.ANSWERED,
                text=reply.text,
            )
            for reply, number in await session.execute(replies)
            if reply.case_id is not None
        ] + [
            Update(
                key=f"event-{event.id}",
                case_id=event.case_id,
                case_number=number,
                at=event.at,
                status=CaseStatus(event.to_status or CaseStatus.CLOSED),
                text=event.reason or "",
                merged_into=(event.data or {}).get("into"),
            )
            for event, number in await session.execute(moves)
        ]
        found.sort(key=lambda u: (u.at, u.key))
        return found if limit is None else found[:limit]
