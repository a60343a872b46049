"""The outbox: messages to send, their delivery state, and the hotline's call-back tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, Choice, DeliveryStatus, OutboundMessage
from civicline.storage.tables import OutboundMessageRow


def outbound_from_row(row: OutboundMessageRow) -> OutboundMessage:
    return OutboundMessage(
        id=row.id,
        channel=Channel(row.channel),
        recipient_address=row.recipient_address,
        text=row.text,
        created_at=row.created_at,
        updated_at=row.updated_at,
        case_id=row.case_id,
        citizen_id=row.citizen_id,
        in_reply_to=row.in_reply_to,
        author=row.author,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        provider_message_id=row.provider_message_id,
        last_error=row.last_error,
        choices=[Choice(label, data) for label, data in row.choices or []],
    )


class SqlOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: OutboundMessage) -> OutboundMessage:
        row = OutboundMessageRow(
            channel=message.channel,
            recipient_address=message.recipient_address,
            citizen_id=message.citizen_id,
            case_id=message.case_id,
            in_reply_to=message.in_reply_to,
            author=message.author,
            text=message.text,
            choices=[[c.label, c.data] for c in message.choices],
            status=message.status,
            attempts=message.attempts,
            created_at=message.created_at,
            updated_at=message.updated_at or message.created_at,
        )
        self.session.add(row)
        await self.session.flush()
        message.id = row.id
        return message

    async def get(self, message_id: int, *, lock: bool = False) -> OutboundMessage:
        row = await self.session.get(OutboundMessageRow, message_id, with_for_update=lock)
        if row is None:
            raise NotFound("outbound message", message_id)
        return outbound_from_row(row)

    async def save(self, message: OutboundMessage) -> None:
        row = await self.session.get(OutboundMessageRow, message.id)
        if row is None:
            raise NotFound("outbound message", message.id)
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
        rows = await self.session.scalars(
            select(OutboundMessageRow)
            .where(
                OutboundMessageRow.channel == channel,
                OutboundMessageRow.recipient_address == address,
            )
            .order_by(OutboundMessageRow.id.desc())
            .limit(limit)
        )
        return [outbound_from_row(r) for r in reversed(list(rows))]

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
