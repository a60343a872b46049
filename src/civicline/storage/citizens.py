"""Citizens and their contact handles (one handle, one citizen: the unique handle decides)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.citizens import Citizen, ContactHandle
from civicline.domain.errors import NotFound
from civicline.domain.messages import Channel, Language
from civicline.storage.rows import row_of
from civicline.storage.tables import CitizenRow, ContactHandleRow
from civicline.storage.upsert import insert


class SqlCitizens:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, citizen_id: int) -> Citizen:
        row = await row_of(self.session, CitizenRow, citizen_id, "citizen")
        return await self._load(row)

    async def by_handle(self, handle: ContactHandle) -> Citizen | None:
        row = await self.session.scalar(
            select(CitizenRow)
            .join(ContactHandleRow, ContactHandleRow.citizen_id == CitizenRow.id)
            .where(
                ContactHandleRow.channel == handle.channel,
                ContactHandleRow.address == handle.address,
            )
        )
        return None if row is None else await self._load(row)

    async def get_or_create(
        self, handle: ContactHandle, *, at: datetime, language: Language
    ) -> Citizen:
        found = await self.by_handle(handle)
        if found is not None:
            return found
        row = CitizenRow(language=language, created_at=at)
        self.session.add(row)
        await self.session.flush()
        # Two first messages from one new address may race: the unique handle decides.
        result = await self.session.execute(
            insert(self.session, ContactHandleRow)
            .values(citizen_id=row.id, channel=handle.channel, address=handle.address)
            .on_conflict_do_nothing(index_elements=["channel", "address"])
            .returning(ContactHandleRow.id)
        )
        if result.scalar() is None:
            await self.session.delete(row)
            existing = await self.by_handle(handle)
            assert existing is not None
            return existing
        return Citizen(id=row.id, created_at=at, language=language, handles=[handle])

    async def set_language(self, citizen_id: int, language: Language) -> None:
        row = await row_of(self.session, CitizenRow, citizen_id, "citizen")
        row.language = language

    async def link(self, citizen_id: int, handle: ContactHandle) -> bool:
        result = await self.session.execute(
            insert(self.session, ContactHandleRow)
            .values(citizen_id=citizen_id, channel=handle.channel, address=handle.address)
            .on_conflict_do_nothing(index_elements=["channel", "address"])
            .returning(ContactHandleRow.id)
        )
        if result.scalar() is not None:
            return True
        owner = await self.session.scalar(
            select(ContactHandleRow.citizen_id).where(
                ContactHandleRow.channel == handle.channel,
                ContactHandleRow.address == handle.address,
            )
        )
        return owner == citizen_id

    async def set_opt_out(self, handle: ContactHandle, opted_out: bool) -> None:
        row = await self.session.scalar(
            select(ContactHandleRow).where(
                ContactHandleRow.channel == handle.channel,
                ContactHandleRow.address == handle.address,
            )
        )
        if row is None:
            raise NotFound("contact handle", handle.channel)
        row.opted_out = opted_out

    async def is_opted_out(self, handle: ContactHandle) -> bool:
        return bool(
            await self.session.scalar(
                select(ContactHandleRow.opted_out).where(
                    ContactHandleRow.channel == handle.channel,
                    ContactHandleRow.address == handle.address,
                )
            )
        )

    async def opted_out(self, handles: Iterable[ContactHandle]) -> set[ContactHandle]:
        """Those of ``handles`` that sent STOP (until START), in one statement."""
        wanted = set(handles)
        if not wanted:
            return set()
        table = ContactHandleRow
        rows = await self.session.execute(
            select(table.channel, table.address).where(
                tuple_(table.channel, table.address).in_(
                    [(str(h.channel), h.address) for h in sorted(wanted, key=_order)]
                ),
                table.opted_out.is_(True),
            )
        )
        return {ContactHandle(Channel(channel), address) for channel, address in rows}

    async def _load(self, row: CitizenRow) -> Citizen:
        handles = await self.session.scalars(
            select(ContactHandleRow).where(ContactHandleRow.citizen_id == row.id)
        )
        return Citizen(
            id=row.id,
            created_at=row.created_at,
            language=Language(row.language),
            display_name=row.display_name,
            handles=[ContactHandle(Channel(h.channel), h.address) for h in handles],
        )


def _order(handle: ContactHandle) -> tuple[str, str]:
    return (str(handle.channel), handle.address)
