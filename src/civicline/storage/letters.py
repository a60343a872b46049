"""Letters and mailbox cursors on SQL (PostgreSQL and SQLite alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.letters import Letter, LetterKind, PostReply
from civicline.domain.messages import InboundMessage
from civicline.storage.inbox import inbound_from_row, inbound_values
from civicline.storage.rows import columns_of, from_row, row_of
from civicline.storage.tables import CaseRow, InboundMessageRow, LetterRow, MailCursorRow
from civicline.storage.upsert import insert_for


def _letter(row: LetterRow) -> Letter:
    return from_row(
        Letter,
        row,
        kind=LetterKind(row.kind),
        post_reply=(
            PostReply(row.post_sent_on, row.post_tracking_number or "")
            if row.post_sent_on is not None
            else None
        ),
        meta=dict(row.meta or {}),
    )


def _values(letter: Letter) -> dict[str, Any]:
    return {
        **columns_of(letter, LetterRow.__table__, skip=("id", "inbound_id")),
        "post_sent_on": letter.post_reply.sent_on if letter.post_reply else None,
        "post_tracking_number": letter.post_reply.tracking_number if letter.post_reply else None,
    }


class SqlLetters:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, letter: Letter) -> Letter:
        assert letter.inbound_id is not None
        row = LetterRow(inbound_id=letter.inbound_id, **_values(letter))
        self.session.add(row)
        await self.session.flush()
        letter.id = row.id
        return letter

    async def get(self, letter_id: int, *, lock: bool = False) -> Letter:
        row = await row_of(self.session, LetterRow, letter_id, "letter", lock=lock)
        return _letter(row)

    async def save(self, letter: Letter) -> None:
        row = await row_of(self.session, LetterRow, letter.id, "letter")
        for name, value in _values(letter).items():
            setattr(row, name, value)

    async def by_inbound(self, inbound_id: int) -> Letter | None:
        row = await self.session.scalar(select(LetterRow).where(LetterRow.inbound_id == inbound_id))
        return _letter(row) if row is not None else None

    async def by_case_number(self, number: str) -> Letter | None:
        row = await self.session.scalar(
            select(LetterRow)
            .join(CaseRow, CaseRow.id == LetterRow.case_id)
            .where(CaseRow.number == number)
            .order_by(LetterRow.id)
            .limit(1)
        )
        return _letter(row) if row is not None else None

    async def cursor(self, account: str, folder: str) -> tuple[int, int] | None:
        row = await self.session.get(MailCursorRow, (account, folder))
        return (row.uidvalidity, row.last_uid) if row is not None else None

    async def _store_inbound(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        # The inbox writer's insert, in this unit of work's transaction (with the cursor).
        table = InboundMessageRow.__table__
        inserted = await self.session.scalar(
            insert_for(self.session.get_bind().dialect.name, table)
            .values(**inbound_values(message))
            .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
            .returning(table.c.id)
        )
        if inserted is not None:
            message.id = inserted
            return message, True
        row = await self.session.scalar(
            select(InboundMessageRow).where(
                InboundMessageRow.channel == message.channel,
                InboundMessageRow.provider_message_id == message.provider_message_id,
            )
        )
        assert row is not None
        return inbound_from_row(row), False

    async def store_mail(
        self,
        message: InboundMessage,
        *,
        account: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        now: datetime,
    ) -> tuple[InboundMessage, bool]:
        stored = await self._store_inbound(message)
        cursor = insert_for(self.session.get_bind().dialect.name, MailCursorRow.__table__).values(
            account=account, folder=folder, uidvalidity=uidvalidity, last_uid=uid, updated_at=now
        )
        await self.session.execute(
            cursor.on_conflict_do_update(
                index_elements=["account", "folder"],
                set_={"uidvalidity": uidvalidity, "last_uid": uid, "updated_at": now},
            )
        )
        return stored
