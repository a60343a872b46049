"""Opening many cases in one transaction: the worker's batches of plain complaints.

The statements of ``bots.batched``: the batch's inbox rows read (locked, only those still
``received``) with one SELECT, their citizens found or created together, the day's numbers
taken as one block, the cases and their history, the board's questions and the replies
inserted with one multi-row INSERT each, the inbox rows marked processed with one UPDATE.
Core statements on the unit of work's session, so the rest of the batch (incident grouping)
runs in the same transaction through the ordinary repositories.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Self, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicline.domain.board import BoardEntry
from civicline.domain.cases import OPEN, Case
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import InboundMessage, InboundStatus, Language, OutboundMessage
from civicline.storage.base import FilingRepository
from civicline.storage.board import entry_values
from civicline.storage.case_numbers import next_numbers
from civicline.storage.history import citizens_of, insert_cases, insert_events
from civicline.storage.inbox import inbound_from_row
from civicline.storage.outbox import outbound_values
from civicline.storage.tables import (
    BoardEntryRow,
    CaseRow,
    InboundMessageRow,
    OutboundMessageRow,
)
from civicline.storage.unit_of_work import SqlUnitOfWork
from civicline.storage.upsert import insert

_INBOX = cast(Table, InboundMessageRow.__table__)
_CASES = cast(Table, CaseRow.__table__)
_OPEN = [str(s) for s in OPEN]
_PROCESSED = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("row_id"))
    .values(
        citizen_id=bindparam("row_citizen"),
        case_id=bindparam("row_case"),
        language=bindparam("row_language"),
        status=bindparam("row_status"),
        processed_at=bindparam("row_at"),
    )
)

# The columns incident grouping changes on a case it merges (domain.cases.Case.merge_into).
_MERGED = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("row_id"))
    .values(
        status=bindparam("row_status"),
        merged_into=bindparam("row_into"),
        updated_at=bindparam("row_at"),
    )
)


class SqlFiling:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def received(self, ids: Iterable[int], *, lock: bool) -> list[InboundMessage]:
        """The messages of ``ids`` still ``received``, by id (``lock``: for update)."""
        stmt = (
            select(_INBOX)
            .where(_INBOX.c.id.in_(sorted(set(ids))), _INBOX.c.status == InboundStatus.RECEIVED)
            .order_by(_INBOX.c.id)
        )
        if lock:
            stmt = stmt.with_for_update()
        rows = await self.session.execute(stmt)
        return [inbound_from_row(row) for row in rows]

    async def citizens(
        self, handles: Sequence[tuple[ContactHandle, Language]], *, at: datetime
    ) -> dict[ContactHandle, int]:
        return await citizens_of(self.session, handles, at=at)

    async def waiting(self, citizen_ids: Iterable[int]) -> set[int]:
        """Those of the citizens who have an open case paused for their answer."""
        ids = sorted(set(citizen_ids))
        if not ids:
            return set()
        rows = await self.session.scalars(
            select(_CASES.c.citizen_id)
            .where(
                _CASES.c.citizen_id.in_(ids),
                _CASES.c.status.in_(_OPEN),
                _CASES.c.paused_since.is_not(None),
            )
            .distinct()
        )
        return set(rows)

    async def numbers(self, day: date, count: int) -> list[str]:
        return await next_numbers(self.session, day, count)

    async def add_cases(self, cases: Sequence[Case]) -> None:
        await insert_cases(self.session, cases)

    async def merged(self, cases: Sequence[Case]) -> None:
        """Write back the cases of this batch that incident grouping merged, with one UPDATE
        and one INSERT of their history: the batch added them a moment ago, so there is no
        board entry to follow and nothing else of theirs changed."""
        if not cases:
            return
        rows: list[dict[str, Any]] = [
            {"row_id": c.id, "row_status": c.status, "row_into": c.merged_into,
             "row_at": c.updated_at}
            for c in cases
        ]  # fmt: skip
        connection = await self.session.connection()
        await connection.execute(_MERGED, rows)
        await insert_events(self.session, cases)

    async def ask_board(self, entries: Sequence[BoardEntry]) -> None:
        if entries:
            await self.session.execute(
                insert(self.session, BoardEntryRow.__table__),
                [{"case_id": e.case_id, **entry_values(e)} for e in entries],
            )

    async def add_replies(self, messages: Sequence[OutboundMessage]) -> None:
        """Store the replies (sets their ids)."""
        if not messages:
            return
        table = cast(Table, OutboundMessageRow.__table__)
        result = await self.session.execute(
            insert(self.session, table).returning(table.c.id, sort_by_parameter_order=True),
            [outbound_values(m) for m in messages],
        )
        for message, message_id in zip(messages, result.scalars(), strict=True):
            message.id = int(message_id)

    async def processed(self, messages: Sequence[InboundMessage], *, at: datetime) -> None:
        """Write back the messages' citizen, case, language and status, processed ``at``."""
        rows: list[dict[str, Any]] = [
            {
                "row_id": m.id,
                "row_citizen": m.citizen_id,
                "row_case": m.case_id,
                "row_language": m.language,
                "row_status": m.status,
                "row_at": at,
            }
            for m in messages
        ]
        if rows:
            connection = await self.session.connection()
            await connection.execute(_PROCESSED, rows)


class SqlBatchUnitOfWork(SqlUnitOfWork):
    """The unit of work with the batch's statements on its session."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.filing: FilingRepository = SqlFiling(self.session)
        return self
