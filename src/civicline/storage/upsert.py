"""INSERT … ON CONFLICT for both of our dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(dialect: str, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT on both of our dialects."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert(session: AsyncSession, table: Any) -> Any:
    return insert_for(session.get_bind().dialect.name, table)
