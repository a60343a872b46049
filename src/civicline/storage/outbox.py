"""The outbox: messages to send, their delivery state, and the hotline's call-back tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.messages import Channel, Choice, DeliveryStatus, OutboundMessage
from civicline.storage.rows import columns_of, conversation, from_row, row_of
from civicline.storage.tables import OutboundMessageRow


def outbound_from_row(row: OutboundMessageRow) -> OutboundMessage:
    return from_row(
        OutboundMessage,
        row,
        channel=Channel(row.channel),
        status=DeliveryStatus(row.status),
        choices=[Choice(label, data) for label, data in row.choices or []],
    )


# Not taken from a new message: its id and what only sending sets, or is set here.
_SET_ON_ADD = ("id", "provider_message_id", "last_error", "choices", "updated_at")


def outbound_values(message: OutboundMessage) -> dict[str, Any]:
    """The outbox row's columns for a new message."""
    return {
        **columns_of(message, OutboundMessageRow.__table__, skip=_SET_ON_ADD),
        "choices": [[c.label, c.data] for c in message.choices],
        "updated_at": message.updated_at or message.created_at,
    }


class SqlOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: OutboundMessage) -> OutboundMessage:
        row = OutboundMessageRow(**outbound_values(message))
        self.session.add(row)
        await self.session.flush()
        message.id = row.id
        return message

    async def get(self, message_id: int, *, lock: bool = False) -> OutboundMessage:
        row = await row_of(
            self.session, OutboundMessageRow, message_id, "outbound message", lock=lock
        )
        return outbound_from_row(row)

    async def save(self, message: OutboundMessage) -> None:
        row = await row_of(self.session, OutboundMessageRow, message.id, "outbound message")
        row.status = message.status
        row.attempts = message.attempts
        row.provider_message_id = message.provider_message_id
        row.last_error = message.last_error
        row.updated_at = message.updated_at or row.updated_at

    async def for_case(self, case_id: int) -> list[OutboundMessage]:
        rows = await self.session.scalars(
            select(OutboundMessageRow)
            .where(OutboundMessageRow.case_id == case_id)
            .order_by(OutboundMessageRow.id)
        )
        return [outbound_from_row(r) for r in rows]

    async def conversation(
        self, channel: Channel, address: str, *, limit: int
    ) -> list[OutboundMessage]:
        table, recipient = OutboundMessageRow, OutboundMessageRow.recipient_address
        rows = await conversation(self.session, table, recipient, channel, address, limit=limit)
        return [outbound_from_row(r) for r in rows]

    async def callbacks(self, *, limit: int, offset: int = 0) -> list[OutboundMessage]:
        rows = await self.session.scalars(
            select(OutboundMessageRow)
            .where(
                OutboundMessageRow.channel == Channel.HOTLINE,
                OutboundMessageRow.status == DeliveryStatus.QUEUED,
            )
            .order_by(OutboundMessageRow.created_at, OutboundMessageRow.id)
            .limit(limit)
            .offset(offset)
        )
        return [outbound_from_row(r) for r in rows]

    async def unfinished_ids(self, *, updated_before: datetime, limit: int) -> list[int]:
        rows = await self.session.scalars(
            select(OutboundMessageRow.id)
            .where(
                OutboundMessageRow.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]),
                OutboundMessageRow.updated_at < updated_before,
                # Call-back tasks wait for people, not for a sender.
                OutboundMessageRow.channel != Channel.HOTLINE,
            )
            .order_by(OutboundMessageRow.updated_at)
            .limit(limit)
        )
        return list(rows)
