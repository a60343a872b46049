"""Units, kept in step with the units file (``storage.units_file``), like departments with the
taxonomy: every unit of the file is added or updated (names, parent, level, path); none is
removed, since departments, staff and cases may name it."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.units import Level, Unit, UnitTree
from civicline.storage.tables import DepartmentRow, UnitRow
from civicline.storage.upsert import insert


def subtree_departments(path: str) -> Select[str]:
    """The codes of the departments of the units whose path starts with ``path`` (a unit's
    subtree): ``department IN (this)`` scopes a query of cases to the subtree."""
    return (
        select(DepartmentRow.code)
        .join(UnitRow, DepartmentRow.unit == UnitRow.code)
        .where(UnitRow.path.like(f"{path}%"))
    )


class SqlUnits:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sync(self, tree: UnitTree) -> None:
        for unit in tree:  # parents first: a unit's parent is in the table before it
            values = {
                "parent": unit.parent,
                "level": unit.level.value,
                "path": unit.path,
                "name_zh": unit.name_zh,
                "name_en": unit.name_en,
            }
            stmt = insert(self.session, UnitRow).values(code=unit.code, **values)
            stmt = stmt.on_conflict_do_update(index_elements=["code"], set_=values)
            await self.session.execute(stmt)

    async def all(self) -> list[Unit]:
        """Every unit, parents before children (by path)."""
        rows = await self.session.scalars(select(UnitRow).order_by(UnitRow.path))
        return [Unit(r.code, r.name_zh, r.name_en, Level(r.level), r.parent, r.path) for r in rows]
