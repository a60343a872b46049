"""The public board on SQL: board entries (consent, state, masked text) and what the public
may read of them.

Every public read goes through ``_published``: a listed entry of a closed case. An entry
that is withheld, declined, awaiting review or whose case is open again is not found, by
public id or by search, the same as an id that never existed.

An entry carries copies of its case's status, category, unit, district and close time, so a
search filters and orders board_entries alone, on its partial indexes (published entries
only): the first page walks ``ix_board_entries_published`` newest first, a unit, category or
district its own index, words the GIN index ``ix_board_entries_terms`` (PostgreSQL: the
terms as an array, ``@>``; SQLite: a LIKE per term). Only the page's rows join their case,
by primary key, for the reply and the rating. ``follow_case`` keeps the copies: the case
repository calls it when a save changes one of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from civicline.domain.board import BoardEntry, BoardQuery, BoardState, PublicCase
from civicline.domain.cases import CaseStatus
from civicline.storage.rows import from_row
from civicline.storage.tables import BOARD_TERMS, BoardEntryRow, CaseRow


def _entry(row: BoardEntryRow) -> BoardEntry:
    return from_row(BoardEntry, row, state=BoardState(row.state))


# How many of the newest published entries a common word is looked for in first.
WINDOW = 2000
COPIED = ("status", "category", "department", "district", "closed_at")


def copied(row: CaseRow) -> tuple[object, ...]:
    """What board entries copy of a case row."""
    return tuple(getattr(row, name) for name in COPIED)


async def follow_case(session: AsyncSession, row: CaseRow) -> None:
    """Bring the case's board entry (if it has one) up to date with the case row."""
    await session.execute(
        update(BoardEntryRow)
        .where(BoardEntryRow.case_id == row.id)
        .values(
            status=str(row.status),
            category=row.category,
            department=row.department,
            district=row.district,
            answered_at=row.closed_at,
        )
        .execution_options(synchronize_session=False)
    )


_PUBLIC_COLUMNS = (
    BoardEntryRow.public_id,
    BoardEntryRow.title,
    BoardEntryRow.text,
    BoardEntryRow.category,
    BoardEntryRow.department,
    BoardEntryRow.district,
    BoardEntryRow.filed_at,
    BoardEntryRow.answered_at,
    CaseRow.resolution,
    CaseRow.satisfaction,
    CaseRow.rating,
)


def _is_published() -> ColumnElement[bool]:
    return and_(
        BoardEntryRow.state == str(BoardState.LISTED),
        BoardEntryRow.status == str(CaseStatus.CLOSED),
    )


def _published() -> Select[tuple[Any, ...]]:
    stmt: Select[tuple[Any, ...]] = (
        select(*_PUBLIC_COLUMNS)  # type: ignore[assignment]
        .join(CaseRow, CaseRow.id == BoardEntryRow.case_id)
        .where(_is_published())
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
        answered_at=row.answered_at,
        reply=row.resolution or "",
        satisfaction=row.satisfaction,
        rating=row.rating,
    )


def _contains_terms(
    terms: list[str], column: ColumnElement[str] | InstrumentedAttribute[str]
) -> ColumnElement[bool]:
    """Every term is a whole word of the space-separated ``column``: a LIKE each (a few
    hundred characters a row: cheaper than splitting them into an array)."""
    padded = literal(" ") + column + literal(" ")
    return and_(*(padded.contains(f" {term} ", autoescape=True) for term in terms))


def entry_values(entry: BoardEntry) -> dict[str, Any]:
    """A board entry's columns but its case id."""
    return {
        "public_id": entry.public_id,
        "state": str(entry.state),
        "consent": entry.consent,
        "title": entry.title,
        "text": entry.text,
        "terms": entry.terms,
        "filed_at": entry.filed_at,
        "status": entry.status,
        "category": entry.category,
        "department": entry.department,
        "district": entry.district,
        "answered_at": entry.answered_at,
        "reason": entry.reason,
        "decided_by": entry.decided_by,
        "updated_at": entry.updated_at,
    }


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
        values = entry_values(entry)
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
            conditions.append(BoardEntryRow.category == query.category)
        if query.department:
            conditions.append(BoardEntryRow.department == query.department)
        if query.district:
            conditions.append(BoardEntryRow.district == query.district)
        if since is not None:
            conditions.append(BoardEntryRow.filed_at >= since)
        if until is not None:
            conditions.append(BoardEntryRow.filed_at < until)
        ids = await self._ids(conditions, query.terms, limit=limit, offset=offset)
        if not ids:
            return []
        rows = await self.session.execute(
            _published().add_columns(BoardEntryRow.case_id).where(BoardEntryRow.case_id.in_(ids))
        )
        found = {int(row.case_id): _public(row) for row in rows}
        return [found[i] for i in ids if i in found]

    async def _ids(
        self, conditions: list[ColumnElement[bool]], terms: list[str], *, limit: int, offset: int
    ) -> list[int]:
        """The case ids of one page, newest filed first: entries alone, their cases joined
        only for the page's rows afterwards.

        Words found in many entries (路灯) are looked for first among the newest ``WINDOW``
        published entries that match the other conditions, walking the filing-time index: a
        full page there is the right page (no older entry comes before it). Otherwise (rare
        words, deep pages) the word index finds every match, and those are sorted."""
        newest = (
            select(BoardEntryRow.case_id, BoardEntryRow.filed_at, BoardEntryRow.terms)
            .where(_is_published(), *conditions)
            .order_by(BoardEntryRow.filed_at.desc(), BoardEntryRow.case_id.desc())
        )
        if not terms:
            return list(
                await self.session.scalars(
                    newest.with_only_columns(BoardEntryRow.case_id).limit(limit).offset(offset)
                )
            )
        if offset + limit <= WINDOW:
            window = newest.limit(WINDOW).subquery()
            ids = list(
                await self.session.scalars(
                    select(window.c.case_id)
                    .where(_contains_terms(terms, window.c.terms))
                    .order_by(window.c.filed_at.desc(), window.c.case_id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            )
            if len(ids) == limit:
                return ids
        return list(
            await self.session.scalars(
                newest.with_only_columns(BoardEntryRow.case_id)
                .where(self._has_terms(terms))
                .limit(limit)
                .offset(offset)
            )
        )

    def _has_terms(self, terms: list[str]) -> ColumnElement[bool]:
        """Every term is among the entry's: on PostgreSQL the expression of the GIN index
        ``ix_board_entries_terms``."""
        if self.session.get_bind().dialect.name == "postgresql":
            wanted = cast(literal(terms, ARRAY(Text)), ARRAY(Text))
            return BOARD_TERMS.op("@>", is_comparison=True)(wanted)
        return _contains_terms(terms, BoardEntryRow.terms)

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
