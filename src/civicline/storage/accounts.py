"""Staff accounts and console sign-in state: sessions and the per-username count of wrong
passwords."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.accounts import CENTRE, Role, StaffUser
from civicline.domain.claims import ConsoleSession, LockoutPolicy, LoginFailures
from civicline.storage.rows import columns_of, from_row, row_of
from civicline.storage.tables import (
    ConsoleSessionRow,
    LoginFailureRow,
    StaffUserRow,
    UnitRow,
    UTCDateTime,
)
from civicline.storage.units import subtree_departments
from civicline.storage.upsert import insert


def _staff(row: StaffUserRow) -> StaffUser:
    return from_row(StaffUser, row, role=Role(row.role))


async def _scoped(session: AsyncSession, user: StaffUser) -> StaffUser:
    """The user with the scope of their unit, when it is not the city (the root)."""
    if user.unit is None or user.role not in CENTRE:
        return user
    unit = await session.get(UnitRow, user.unit)
    if unit is None or unit.parent is None:
        return user
    user.scope = unit.path
    user.reach = frozenset(await session.scalars(subtree_departments(unit.path)))
    return user


class SqlStaff:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: StaffUser) -> StaffUser:
        row = StaffUserRow(**columns_of(user, StaffUserRow.__table__, skip=("id",)))
        self.session.add(row)
        await self.session.flush()
        user.id = row.id
        return user

    async def by_username(self, username: str) -> StaffUser | None:
        row = await self.session.scalar(
            select(StaffUserRow).where(StaffUserRow.username == username)
        )
        return None if row is None else await _scoped(self.session, _staff(row))

    async def get(self, user_id: int) -> StaffUser:
        row = await row_of(self.session, StaffUserRow, user_id, "staff user")
        return await _scoped(self.session, _staff(row))

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count(StaffUserRow.id))) or 0)


class SqlSessions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, console_session: ConsoleSession) -> None:
        # A sign-in is a good moment to forget the user's expired sessions.
        await self.session.execute(
            delete(ConsoleSessionRow).where(
                ConsoleSessionRow.user_id == console_session.user_id,
                ConsoleSessionRow.expires_at <= console_session.created_at,
            )
        )
        self.session.add(
            ConsoleSessionRow(**columns_of(console_session, ConsoleSessionRow.__table__))
        )
        await self.session.flush()

    async def get(self, session_id: str) -> ConsoleSession | None:
        row = await self.session.get(ConsoleSessionRow, session_id)
        if row is None:
            return None
        return from_row(ConsoleSession, row)

    async def remove(self, session_id: str) -> None:
        await self.session.execute(
            delete(ConsoleSessionRow).where(ConsoleSessionRow.id == session_id)
        )


class SqlLoginFailures:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, username: str) -> LoginFailures | None:
        row = await self.session.get(LoginFailureRow, username)
        if row is None:
            return None
        return from_row(LoginFailures, row)

    async def record_failure(
        self, username: str, *, now: datetime, policy: LockoutPolicy
    ) -> LoginFailures:
        """Count one wrong password, in one atomic upsert (concurrent guesses all count):
        a new window when the last one is over, a lock when the count reaches the limit."""
        stmt = insert(self.session, LoginFailureRow).values(
            username=username,
            failures=1,
            window_started_at=now,
            locked_until=(now + policy.lock_for) if policy.max_failures <= 1 else None,
        )
        current = LoginFailureRow.__table__.c
        at = literal(now, UTCDateTime())
        stale = current.window_started_at <= now - policy.window
        failures = case((stale, 1), else_=current.failures + 1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["username"],
            set_={
                "failures": failures,
                "window_started_at": case((stale, at), else_=current.window_started_at),
                "locked_until": case(
                    (
                        failures >= policy.max_failures,
                        literal(now + policy.lock_for, UTCDateTime()),
                    ),
                    else_=current.locked_until,
                ),
            },
        ).returning(
            LoginFailureRow.failures,
            LoginFailureRow.window_started_at,
            LoginFailureRow.locked_until,
        )
        row = (await self.session.execute(stmt)).one()
        return LoginFailures(
            username=username,
            failures=row.failures,
            window_started_at=row.window_started_at,
            locked_until=row.locked_until,
        )

    async def clear(self, username: str) -> None:
        await self.session.execute(
            delete(LoginFailureRow).where(LoginFailureRow.username == username)
        )


__all__ = ["SqlLoginFailures", "SqlSessions"]
