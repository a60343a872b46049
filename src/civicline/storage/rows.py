"""Rows to domain objects and back, by name: a field and the column it is stored in share their
name, so each mapping states only what differs (an enum read back, a pair of columns). And a
row by its key, or NotFound."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.errors import NotFound

T = TypeVar("T")
R = TypeVar("R")


_SHARED: dict[tuple[Any, Any], tuple[str, ...]] = {}


def _shared(kind: Any, table: Any) -> tuple[str, ...]:
    """The names of ``kind``'s fields that are columns of ``table`` (worked out once)."""
    names = _SHARED.get((kind, table))
    if names is None:
        columns = set(table.columns.keys())
        names = _SHARED[kind, table] = tuple(f.name for f in fields(kind) if f.name in columns)
    return names


def from_row(kind: type[T], row: Any, table: Any = None, /, **given: Any) -> T:
    """A ``kind`` with every field that has a column of its name in ``row``'s table (or
    ``table``, for a row a statement returned) taken from ``row``, and ``given`` for the rest
    (and for those that need a conversion)."""
    names = _shared(kind, row.__table__ if table is None else table)
    taken = {name: getattr(row, name) for name in names if name not in given}
    return kind(**taken, **given)


def columns_of(item: Any, table: Any, /, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of ``item``'s fields that ``table`` stores under the same name (to build a
    row), but ``skip``."""
    return {name: getattr(item, name) for name in _shared(type(item), table) if name not in skip}


async def row_of(
    session: AsyncSession, table: type[R], key: Any, what: str, *, lock: bool = False
) -> R:
    """The row of ``table`` whose primary key is ``key`` (locked for update on ``lock``), or
    ``NotFound(what, key)``."""
    row = await session.get(table, key, with_for_update=lock)
    if row is None:
        raise NotFound(what, key)
    return row


async def conversation(
    session: AsyncSession, table: type[R], address: Any, channel: str, at: str, *, limit: int
) -> list[R]:
    """The last ``limit`` rows of ``table`` on one channel whose ``address`` column is ``at``
    (a conversation's messages, one direction), oldest first."""
    rows = await session.scalars(
        select(table)
        .where(table.channel == channel, address == at)  # type: ignore[attr-defined]
        .order_by(table.id.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    return list(reversed(list(rows)))
