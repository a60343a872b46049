"""Canned replies: ready answers per category and language, edited by admins."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.claims import CannedReply
from civicline.domain.errors import NotFound
from civicline.domain.messages import Language
from civicline.storage.rows import from_row, row_of
from civicline.storage.tables import CannedReplyRow


def _canned(row: CannedReplyRow) -> CannedReply:
    return from_row(CannedReply, row, language=Language(row.language))


class SqlCannedReplies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[CannedReply]:
        rows = await self.session.scalars(
            select(CannedReplyRow).order_by(
                CannedReplyRow.category.is_not(None),
                CannedReplyRow.category,
                CannedReplyRow.language,
                CannedReplyRow.id,
            )
        )
        return [_canned(r) for r in rows]

    async def for_category(self, category: str | None) -> list[CannedReply]:
        """The category's own answers first, then those for any category."""
        stmt = select(CannedReplyRow).where(
            or_(CannedReplyRow.category.is_(None), CannedReplyRow.category == category)
            if category
            else CannedReplyRow.category.is_(None)
        )
        rows = await self.session.scalars(
            stmt.order_by(CannedReplyRow.category.is_(None), CannedReplyRow.id)
        )
        return [_canned(r) for r in rows]

    async def get(self, reply_id: int) -> CannedReply:
        row = await row_of(self.session, CannedReplyRow, reply_id, "canned reply")
        return _canned(row)

    async def save(self, reply: CannedReply) -> CannedReply:
        row = None if reply.id is None else await self.session.get(CannedReplyRow, reply.id)
        if reply.id is not None and row is None:
            raise NotFound("canned reply", reply.id)
        if row is None:
            row = CannedReplyRow()
            self.session.add(row)
        row.category = reply.category
        row.language = reply.language
        row.title = reply.title
        row.text = reply.text
        row.updated_at = reply.updated_at
        row.updated_by = reply.updated_by
        await self.session.flush()
        reply.id = row.id
        return reply

    async def remove(self, reply_id: int) -> None:
        await self.session.execute(delete(CannedReplyRow).where(CannedReplyRow.id == reply_id))
