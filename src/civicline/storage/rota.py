"""The rota's one-day overrides on SQL: another leader named for a reception day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.storage.tables import RotaEntryRow


class SqlRota:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def overrides(self, start: date, end: date) -> dict[tuple[str, date], str]:
        rows = await self.session.scalars(
            select(RotaEntryRow).where(RotaEntryRow.day >= start, RotaEntryRow.day <= end)
        )
        return {(r.unit, r.day): r.leader for r in rows}

    async def name_leader(
        self, unit: str, day: date, leader: str | None, *, by: str, at: datetime
    ) -> None:
        """Name ``leader`` for the day; None goes back to the rota file's turn."""
        row = await self.session.get(RotaEntryRow, (unit, day))
        if leader is None:
            if row is not None:
                await self.session.delete(row)
        elif row is None:
            self.session.add(RotaEntryRow(unit=unit, day=day, leader=leader, set_by=by, set_at=at))
        else:
            row.leader, row.set_by, row.set_at = leader, by, at
        await self.session.flush()
