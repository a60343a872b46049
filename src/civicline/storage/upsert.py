"""INSERT … ON CONFLICT for both of our dialects, and telling a unique-key refusal from others."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(dialect: str, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT on both of our dialects."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert(session: AsyncSession, table: Any) -> Any:
    return insert_for(session.get_bind().dialect.name, table)


# SQLite's extended result codes for a UNIQUE and a PRIMARY KEY constraint.
_SQLITE_UNIQUE = {2067, 1555}


def is_unique_violation(exc: IntegrityError) -> bool:
    """True when the database refused a row for a key another row holds (PostgreSQL's
    SQLSTATE 23505, SQLite's UNIQUE/PRIMARY KEY codes), not for a check, a foreign key or a
    NOT NULL."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    return getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE
