"""Departments, kept in step with the taxonomy file."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.taxonomy import Department
from civicline.storage.tables import DepartmentRow
from civicline.storage.upsert import insert


class SqlDepartments:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sync(self, departments: Sequence[Department]) -> None:
        for dept in departments:
            values = {"name_zh": dept.name_zh, "name_en": dept.name_en, "unit": dept.unit}
            stmt = insert(self.session, DepartmentRow).values(code=dept.code, **values)
            stmt = stmt.on_conflict_do_update(index_elements=["code"], set_=values)
            await self.session.execute(stmt)

    async def all(self) -> list[Department]:
        rows = await self.session.scalars(select(DepartmentRow).order_by(DepartmentRow.code))
        return [Department(r.code, r.name_zh, r.name_en, unit=r.unit) for r in rows]
