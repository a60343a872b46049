"""The inbox: stored inbound messages, their row mapping and the columns of a new one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.messages import Channel, InboundMessage, InboundStatus, Language
from civicline.storage.rows import conversation, from_row, row_of
from civicline.storage.tables import InboundMessageRow


def inbound_from_row(row: Any) -> InboundMessage:
    """An inbox row (an ORM row or one a statement returned) as the message."""
    return from_row(
        InboundMessage,
        row,
        InboundMessageRow.__table__,
        channel=Channel(row.channel),
        language=Language(row.language) if row.language else None,
        status=InboundStatus(row.status),
        attachments=list(row.attachments or []),
        location=(
            (row.latitude, row.longitude)
            if row.latitude is not None and row.longitude is not None
            else None
        ),
        edited=bool(row.edited),
        meta=dict(row.meta or {}),
    )


def inbound_values(message: InboundMessage) -> dict[str, Any]:
    """The inbox row's columns for a new message (the writer and the repository share it)."""
    latitude, longitude = message.location or (None, None)
    return {
        "channel": message.channel,
        "provider_message_id": message.provider_message_id,
        "sender_address": message.sender_address,
        "citizen_id": message.citizen_id,
        "text": message.text,
        "language": message.language,
        "attachments": message.attachments,
        "latitude": latitude,
        "longitude": longitude,
        "choice": message.choice,
        "shared_phone": message.shared_phone,
        "edited": message.edited,
        "meta": message.meta,
        "status": message.status,
        "received_at": message.received_at,
    }


class SqlInbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, message_id: int, *, lock: bool = False) -> InboundMessage:
        row = await row_of(
            self.session, InboundMessageRow, message_id, "inbound message", lock=lock
        )
        return inbound_from_row(row)

    async def save(self, message: InboundMessage, *, processed_at: datetime | None) -> None:
        row = await row_of(self.session, InboundMessageRow, message.id, "inbound message")
        row.citizen_id = message.citizen_id
        row.case_id = message.case_id
        row.status = message.status
        row.language = message.language
        row.processed_at = processed_at

    async def link_case(self, message_ids: Iterable[int], case_id: int) -> None:
        ids = list(message_ids)
        if ids:
            await self.session.execute(
                update(InboundMessageRow)
                .where(InboundMessageRow.id.in_(ids))
                .values(case_id=case_id)
            )

    async def for_case(self, case_id: int) -> list[InboundMessage]:
        rows = await self.session.scalars(
            select(InboundMessageRow)
            .where(InboundMessageRow.case_id == case_id)
            .order_by(InboundMessageRow.id)
        )
        return [inbound_from_row(r) for r in rows]

    async def unprocessed_ids(self, *, received_before: datetime, limit: int) -> list[int]:
        rows = await self.session.scalars(
            select(InboundMessageRow.id)
            .where(
                InboundMessageRow.status == InboundStatus.RECEIVED,
                InboundMessageRow.received_at < received_before,
            )
            .order_by(InboundMessageRow.received_at)
            .limit(limit)
        )
        return list(rows)

    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[InboundMessage]:
        table, sender = InboundMessageRow, InboundMessageRow.sender_address
        rows = await conversation(self.session, table, sender, channel, address, limit=limit)
        return [inbound_from_row(r) for r in rows]
