"""The public board on SQL: board entries (consent, state, masked text) and what the public
may read of them.

Every public read goes through ``_published``: a listed entry of a closed case. An entry
that is withheld, declined, awaiting review or whose case is open again is not found, by
public id or by search, the same as an id that never existed.

Search words use the entries' bigram terms: on PostgreSQL an array containment (``@>``) on
the partial GIN index ``ix_board_entries_terms``, on SQLite a LIKE per term over the
space-delimited string. The first page and filtered pages walk ``ix_board_entries_listed``
(filing time, newest first) and join each entry's case by its primary key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.board import BoardEntry, BoardQuery, BoardState, PublicCase
from civicline.domain.cases import CaseStatus
from civicline.storage.tables import BOARD_TERMS, BoardEntryRow, CaseRow


def _entry(row: BoardEntryRow) -> BoardEntry:
    return BoardEntry(
        case_id=row.case_id,
        public_id=row.public_id,
        state=BoardState(row.state),
        consent=row.consent,
        title=row.title,
        text=row.text,
        terms=row.terms,
        filed_at=row.filed_at,
        reason=row.reason,
        decided_by=row.decided_by,
        updated_at=row.updated_at,
    )


_PUBLIC_COLUMNS = (
    BoardEntryRow.public_id,
    BoardEntryRow.title,
    BoardEntryRow.text,
    CaseRow.category,
    CaseRow.department,
    CaseRow.district,
    BoardEntryRow.filed_at,
    CaseRow.closed_at,
    CaseRow.resolution,
    CaseRow.satisfaction,
    CaseRow.rating,
)


def _published() -> Select[tuple[Any, ...]]:
    stmt: Select[tuple[Any, ...]] = (
        select(*_PUBLIC_COLUMNS)  # type: ignore[assignment]
        .join(CaseRow, CaseRow.id == BoardEntryRow.case_id)
        .where(
            BoardEntryRow.state == str(BoardState.LISTED),
            CaseRow.status == str(CaseStatus.CLOSED),
        )
    )
    return stmt


def _public(row: Any) -> PublicCase:
    return PublicCase(
        public_id=row.public_id,
        title=row.title,
        text=row.text,
        category=row.category,
        department=row.department,
        district=row.district,
        filed_at=row.filed_at,
        answered_at=row.closed_at,
        reply=row.resolution or "",
        satisfaction=row.satisfaction,
        rating=row.rating,
    )


class SqlBoard:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: int, *, lock: bool = False) -> BoardEntry | None:
        row = await self.session.get(
            BoardEntryRow, case_id, with_for_update=lock, populate_existing=lock
        )
        return _entry(row) if row is not None else None

    async def save(self, entry: BoardEntry) -> None:
        row = await self.session.get(BoardEntryRow, entry.case_id)
        values = {
            "public_id": entry.public_id,
            "state": str(entry.state),
            "consent": entry.consent,
            "title": entry.title,
            "text": entry.text,
            "terms": entry.terms,
            "filed_at": entry.filed_at,
            "reason": entry.reason,
            "decided_by": entry.decided_by,
            "updated_at": entry.updated_at,
        }
        if row is None:
            self.session.add(BoardEntryRow(case_id=entry.case_id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        await self.session.flush()

    async def asked_of(self, citizen_id: int) -> BoardEntry | None:
        """The citizen's latest case still waiting for their answer to the consent question."""
        row = await self.session.scalar(
            select(BoardEntryRow)
            .join(CaseRow, CaseRow.id == BoardEntryRow.case_id)
            .where(
                CaseRow.citizen_id == citizen_id,
                BoardEntryRow.state == str(BoardState.ASKED),
            )
            .order_by(CaseRow.id.desc())
            .limit(1)
        )
        return _entry(row) if row is not None else None

    async def published(self, public_id: str) -> tuple[int, PublicCase] | None:
        """A published case and its case id (never shown), by public id."""
        row = (
            await self.session.execute(
                _published()
                .add_columns(BoardEntryRow.case_id)
                .where(BoardEntryRow.public_id == public_id)
            )
        ).first()
        return (int(row.case_id), _public(row)) if row is not None else None

    async def page(
        self,
        query: BoardQuery,
        *,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> list[PublicCase]:
        """Published cases matching ``query``, newest filed first; ``since``/``until``: the
        filing-time range (``until`` excluded)."""
        conditions: list[ColumnElement[bool]] = []
        if query.category:
            conditions.append(CaseRow.category == query.category)
        if query.department:
            conditions.append(CaseRow.department == query.department)
        if query.district:
            conditions.append(CaseRow.district == query.district)
        if since is not None:
            conditions.append(BoardEntryRow.filed_at >= since)
        if until is not None:
            conditions.append(BoardEntryRow.filed_at < until)
        terms = query.terms
        if terms:
            conditions.append(self._has_terms(terms))
        stmt = (
            _published()
            .where(and_(True, *conditions))
            .order_by(BoardEntryRow.filed_at.desc(), BoardEntryRow.case_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_public(row) for row in await self.session.execute(stmt)]

    def _has_terms(self, terms: list[str]) -> ColumnElement[bool]:
        if self.session.get_bind().dialect.name == "postgresql":
            wanted = cast(literal(terms, ARRAY(Text)), ARRAY(Text))
            return BOARD_TERMS.op("@>", is_comparison=True)(wanted)
        padded = literal(" ") + BoardEntryRow.terms + literal(" ")
        return and_(*(padded.contains(f" {term} ") for term in terms))

    async def top_matters(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[tuple[str | None, str | None, int]]:
        """The commonest (category, sub-category) pairs of the cases filed in the range
        (merged duplicates left out), most frequent first."""
        count = func.count().label("n")
        rows = await self.session.execute(
            select(CaseRow.category, CaseRow.subcategory, count)
            .where(
                CaseRow.created_at >= since,
                CaseRow.created_at < until,
                CaseRow.status != str(CaseStatus.MERGED),
            )
            .group_by(CaseRow.category, CaseRow.subcategory)
            .order_by(count.desc(), CaseRow.category, CaseRow.subcategory)
            .limit(limit)
        )
        return [(r.category, r.subcategory, int(r.n)) for r in rows]
