"""The dialogue store: guided conversations in progress, one row per contact handle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.citizens import ContactHandle
from civicline.domain.dialogues import DIALOGUE_TIMEOUT, Dialogue, Stage
from civicline.domain.messages import Channel
from civicline.storage.rows import from_row
from civicline.storage.tables import DialogueRow


def _dialogue(row: DialogueRow) -> Dialogue:
    handle = ContactHandle(Channel(row.channel), row.address)
    return from_row(Dialogue, row, handle=handle, stage=Stage(row.stage), data=dict(row.data or {}))


class SqlDialogues:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, handle: ContactHandle, *, lock: bool = False) -> Dialogue | None:
        row = await self.session.get(
            DialogueRow, (str(handle.channel), handle.address), with_for_update=lock
        )
        return None if row is None else _dialogue(row)

    async def save(self, dialogue: Dialogue) -> None:
        key = (str(dialogue.handle.channel), dialogue.handle.address)
        row = await self.session.get(DialogueRow, key)
        if row is None:
            row = DialogueRow(channel=key[0], address=key[1])
            self.session.add(row)
        row.stage = dialogue.stage
        row.message_id = dialogue.message_id
        row.data = dict(dialogue.data)
        row.updated_at = dialogue.updated_at
        await self.session.flush()

    async def clear(self, handle: ContactHandle) -> None:
        await self.session.execute(
            delete(DialogueRow).where(
                DialogueRow.channel == str(handle.channel), DialogueRow.address == handle.address
            )
        )

    async def expired(self, *, now: datetime, limit: int) -> list[ContactHandle]:
        rows = await self.session.execute(
            select(DialogueRow.channel, DialogueRow.address)
            .where(DialogueRow.updated_at <= now - DIALOGUE_TIMEOUT)
            .order_by(DialogueRow.updated_at)
            .limit(limit)
        )
        return [ContactHandle(Channel(channel), address) for channel, address in rows]
