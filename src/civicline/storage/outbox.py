"""The outbox: messages to send, their delivery state, and the hotline's call-back tasks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, Choice, DeliveryStatus, OutboundMessage
from civicline.storage.rows import columns_of, conversation, from_row, row_of
from civicline.storage.tables import OutboundMessageRow

_TABLE = cast(Table, OutboundMessageRow.__table__)
# Delivery's write-back, many rows in one statement.
_SAVE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(
        status=bindparam("row_status"),
        attempts=bindparam("row_attempts"),
        provider_message_id=bindparam("row_provider_id"),
        last_error=bindparam("row_error"),
        updated_at=func.coalesce(bindparam("row_at"), _TABLE.c.updated_at),
    )
)


def outbound_from_row(row: Any) -> OutboundMessage:
    return from_row(
        OutboundMessage,
        row,
        _TABLE,
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

    async def get_many(self, ids: Iterable[int], *, lock: bool = False) -> list[OutboundMessage]:
        """The messages of ``ids``, by id, in one statement (``lock``: for update), or
        ``NotFound`` for the first id that has none."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        stmt = select(_TABLE).where(_TABLE.c.id.in_(wanted)).order_by(_TABLE.c.id)
        if lock:
            stmt = stmt.with_for_update()
        found = [outbound_from_row(row) for row in await self.session.execute(stmt)]
        if len(found) < len(wanted):
            missing = sorted(set(wanted) - {m.id for m in found})
            raise NotFound("outbound message", missing[0])
        return found

    async def save_many(self, messages: Sequence[OutboundMessage]) -> None:
        """``save`` for many messages, in one statement."""
        rows: list[dict[str, Any]] = [
            {
                "row_id": m.id,
                "row_status": m.status,
                "row_attempts": m.attempts,
                "row_provider_id": m.provider_message_id,
                "row_error": m.last_error,
                "row_at": m.updated_at,
            }
            for m in messages
        ]
        if rows:
            connection = await self.session.connection()
            await connection.execute(_SAVE, rows)

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
