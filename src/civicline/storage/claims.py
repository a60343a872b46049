"""Case claims: who is answering a case. One row per case, taken with one atomic statement.

``INSERT … ON CONFLICT (case_id) DO UPDATE … WHERE <mine, or expired> RETURNING``: on
PostgreSQL a second concurrent claim waits for the first to commit, then re-reads the row and
finds it taken (no row returned); SQLite serialises writers. Either way exactly one of two
people racing for a case gets it, decided by the database, not by a read-then-write.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import case, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.claims import Claim
from civicline.storage.tables import CaseClaimRow, StaffUserRow
from civicline.storage.upsert import insert


class SqlClaims:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, case_id: int, holder_id: int, *, now: datetime, until: datetime) -> bool:
        """Take or renew the claim; False when someone else holds a live one."""
        stmt = insert(self.session, CaseClaimRow).values(
            case_id=case_id, holder_id=holder_id, claimed_at=now, expires_at=until
        )
        current = CaseClaimRow.__table__.c
        mine = current.holder_id == stmt.excluded.holder_id
        stmt = stmt.on_conflict_do_update(
            index_elements=["case_id"],
            set_={
                "holder_id": stmt.excluded.holder_id,
                # A renewal keeps the time the holder first took the case.
                "claimed_at": case((mine, current.claimed_at), else_=stmt.excluded.claimed_at),
                "expires_at": stmt.excluded.expires_at,
            },
            where=or_(mine, current.expires_at <= now),
        ).returning(CaseClaimRow.case_id)
        return (await self.session.execute(stmt)).scalar() is not None

    async def release(self, case_id: int, holder_id: int | None = None) -> None:
        """Drop the claim (only the holder's, when ``holder_id`` is given)."""
        stmt = delete(CaseClaimRow).where(CaseClaimRow.case_id == case_id)
        if holder_id is not None:
            stmt = stmt.where(CaseClaimRow.holder_id == holder_id)
        await self.session.execute(stmt)

    async def of_case(self, case_id: int) -> Claim | None:
        claims = await self.of_cases([case_id])
        return claims.get(case_id)

    async def of_cases(self, case_ids: Iterable[int]) -> dict[int, Claim]:
        """Claims on these cases, expired ones too (callers ask ``live(now)``)."""
        ids = list(set(case_ids))
        if not ids:
            return {}
        rows = await self.session.execute(
            select(CaseClaimRow, StaffUserRow.username)
            .join(StaffUserRow, StaffUserRow.id == CaseClaimRow.holder_id)
            .where(CaseClaimRow.case_id.in_(ids))
        )
        return {
            row.case_id: Claim(
                case_id=row.case_id,
                holder_id=row.holder_id,
                holder=username,
                claimed_at=row.claimed_at,
                expires_at=row.expires_at,
            )
            for row, username in rows
        }

    async def live_case_ids(self, *, now: datetime, exclude_holder: int | None = None) -> set[int]:
        """Cases someone (other than ``exclude_holder``) holds right now."""
        stmt = select(CaseClaimRow.case_id).where(CaseClaimRow.expires_at > now)
        if exclude_holder is not None:
            stmt = stmt.where(CaseClaimRow.holder_id != exclude_holder)
        return set(await self.session.scalars(stmt))


__all__ = ["SqlClaims"]
