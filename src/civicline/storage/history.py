"""Filing many past calls at once: a batch of cases in one transaction, with set-based SQL.

A call-centre export of a city's history runs to millions of calls. Each batch is one
transaction of multi-row statements: the calls already in the inbox (by call id) are left
out, the callers' citizens are found or created together, each day's case numbers are taken
as one block, then the cases, their history, the inbox rows (already processed, keyed by call
id: what makes a call filed once) and the SMS receipts go in with one INSERT each. The
import's checkpoint (how many records of the file are done) is written in the same
transaction, so after a kill the file resumes where the last commit left it and no call is
filed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicline.domain.cases import Case
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import Channel, InboundMessage, InboundStatus, Language
from civicline.storage.case_numbers import next_numbers
from civicline.storage.cases import CASE_FIELDS
from civicline.storage.inbox import inbound_values
from civicline.storage.rows import columns_of
from civicline.storage.tables import (
    CaseEventRow,
    CaseRow,
    CitizenRow,
    ContactHandleRow,
    ImportCheckpointRow,
    InboundMessageRow,
    OutboundMessageRow,
)
from civicline.storage.upsert import insert

ReceiptText = Callable[[str, Language], str]
"""The SMS receipt's words for a case number, in the caller's language."""


@dataclass(slots=True)
class PastCall:
    """A call ready to be filed: its inbox message and its case, both without ids, citizen or
    number (the batch sets them)."""

    message: InboundMessage
    case: Case
    day: date
    """The local day whose numbers the case takes."""
    sms_receipt: bool = False
    """Whether the caller consented to an SMS receipt."""


@dataclass(slots=True)
class FiledBatch:
    filed: list[PastCall] = field(default_factory=list)
    """The calls filed now, with their case numbers and ids set."""
    duplicates: list[PastCall] = field(default_factory=list)
    """The calls whose id was in the inbox before."""
    outbound_ids: list[int] = field(default_factory=list)


ANALYZE_FROM = 1_000
"""Calls filed before the first ``ANALYZE`` (PostgreSQL); again each time the count doubles."""


class SqlHistory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.filed = 0
        self._analyzed_at = 0

    async def checkpoint(self, source: str) -> int:
        """How many records of ``source`` are done (0 for a new one)."""
        async with self.sessions() as session:
            done = await session.scalar(
                select(ImportCheckpointRow.rows_done).where(ImportCheckpointRow.source == source)
            )
        return int(done or 0)

    async def file(
        self,
        calls: Sequence[PastCall],
        *,
        source: str,
        rows_done: int | None,
        receipt_text: ReceiptText,
        now: datetime,
    ) -> FiledBatch:
        """File ``calls`` and record ``rows_done`` for ``source`` (None: finished, the
        checkpoint goes), in one transaction."""
        for attempt in (1, 2):
            try:
                async with self.sessions() as session, session.begin():
                    batch = await _file(session, calls, receipt_text)
                    await _record(session, source, rows_done, now)
                for call in batch.filed:
                    call.case.pending_events.clear()  # stored
                self.filed += len(batch.filed)
                if self.filed >= max(ANALYZE_FROM, 2 * self._analyzed_at):
                    await self._analyze()
                return batch
            except IntegrityError:
                # Another writer filed one of these calls, or a first message from one of
                # these callers, meanwhile: the batch rolled back whole; once more finds them.
                if attempt == 2:
                    raise
                for call in calls:
                    call.case.id = call.message.id = call.message.case_id = None
        raise AssertionError("unreachable")

    async def _analyze(self) -> None:
        """Fresh statistics for the tables each batch looks calls and callers up in: without
        them (autovacuum off, or behind a bulk import) PostgreSQL took the id look-up for a
        scan of every hotline message, each batch slower than the last (68 ms a batch of 500
        at 71,000 calls, measured)."""
        self._analyzed_at = self.filed
        async with self.sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("ANALYZE inbound_messages, contact_handles"))


async def _file(
    session: AsyncSession, calls: Sequence[PastCall], receipt_text: ReceiptText
) -> FiledBatch:
    batch = FiledBatch()
    first: dict[str, PastCall] = {}
    for call in calls:
        first.setdefault(call.message.provider_message_id, call)
    known = set(
        await session.scalars(
            select(InboundMessageRow.provider_message_id).where(
                InboundMessageRow.channel == Channel.HOTLINE,
                InboundMessageRow.provider_message_id.in_(list(first)),
            )
        )
    )
    for call in calls:
        fresh = (
            call.message.provider_message_id not in known
            and first.get(call.message.provider_message_id) is call
        )
        (batch.filed if fresh else batch.duplicates).append(call)
    if not batch.filed:
        return batch
    citizens, opted_out = await _citizens(session, batch.filed)
    await _number(session, batch.filed)
    for call in batch.filed:
        call.message.citizen_id = call.case.citizen_id = citizens[call.message.sender_address]
    case_ids = await _insert_returning_ids(
        session, CaseRow, [_case_values(call.case) for call in batch.filed]
    )
    events: list[dict[str, Any]] = []
    for call, case_id in zip(batch.filed, case_ids, strict=True):
        call.case.id = call.message.case_id = case_id
        events += [
            {"case_id": case_id, **columns_of(e, CaseEventRow.__table__, skip=("id",))}
            for e in call.case.pending_events
        ]
    await session.execute(insert(session, CaseEventRow.__table__), events)
    message_ids = await _insert_returning_ids(
        session,
        InboundMessageRow,
        [
            {
                **inbound_values(call.message),
                "status": InboundStatus.PROCESSED,
                "case_id": call.case.id,
                "processed_at": call.case.created_at,
            }
            for call in batch.filed
        ],
    )
    receipts = []
    for call, message_id in zip(batch.filed, message_ids, strict=True):
        call.message.id = message_id
        call.message.status = InboundStatus.PROCESSED
        if call.sms_receipt and call.message.sender_address not in opted_out:
            receipts.append(
                {
                    "channel": Channel.SMS,
                    "recipient_address": call.message.sender_address,
                    "citizen_id": call.case.citizen_id,
                    "case_id": call.case.id,
                    "in_reply_to": message_id,
                    "author": "bot",
                    "text": receipt_text(call.case.number, call.case.language),
                    "status": "queued",
                    "attempts": 0,
                    "choices": [],
                    "created_at": call.case.created_at,
                    "updated_at": call.case.created_at,
                }
            )
    if receipts:
        batch.outbound_ids = await _insert_returning_ids(session, OutboundMessageRow, receipts)
    return batch


async def _citizens(
    session: AsyncSession, calls: Sequence[PastCall]
) -> tuple[dict[str, int], set[str]]:
    """Each caller's citizen (their phone is their SMS handle, as for their text messages),
    created where there is none; and the phones that opted out of SMS."""
    first_call: dict[str, PastCall] = {}
    for call in calls:
        first_call.setdefault(call.message.sender_address, call)
    phones = list(first_call)
    handles = ContactHandleRow.__table__
    found = await session.execute(
        select(handles.c.address, handles.c.citizen_id, handles.c.opted_out).where(
            handles.c.channel == Channel.SMS, handles.c.address.in_(phones)
        )
    )
    citizens: dict[str, int] = {}
    opted_out: set[str] = set()
    for address, citizen_id, out in found:
        citizens[address] = citizen_id
        if out:
            opted_out.add(address)
    new = [phone for phone in phones if phone not in citizens]
    if new:
        ids = await _insert_returning_ids(
            session,
            CitizenRow,
            [
                {
                    "language": first_call[p].case.language,
                    "created_at": first_call[p].case.created_at,
                }
                for p in new
            ],
        )
        citizens.update(zip(new, ids, strict=True))
        # Another writer's first message from the same phone makes this batch fail on the
        # unique handle (and roll back whole): ``file`` tries it once more.
        await session.execute(
            insert(session, ContactHandleRow.__table__),
            [{"citizen_id": citizens[p], "channel": Channel.SMS, "address": p} for p in new],
        )
    await session.execute(
        insert(session, ContactHandleRow.__table__).on_conflict_do_nothing(
            index_elements=["channel", "address"]
        ),
        [{"citizen_id": citizens[p], "channel": Channel.HOTLINE, "address": p} for p in phones],
    )
    return citizens, opted_out


async def _number(session: AsyncSession, calls: Sequence[PastCall]) -> None:
    """Each day's numbers as one block, in the order the batch's calls ended (an export in
    time order is numbered in time order; numbers are not gap-free, as everywhere)."""
    by_day: dict[date, list[PastCall]] = {}
    for call in calls:
        by_day.setdefault(call.day, []).append(call)
    for day, day_calls in sorted(by_day.items()):
        day_calls.sort(key=lambda call: call.case.created_at)
        numbers = await next_numbers(session, day, len(day_calls))
        for call, number in zip(day_calls, numbers, strict=True):
            call.case.number = number


def _case_values(case: Case) -> dict[str, Any]:
    return {
        "number": case.number,
        "citizen_id": case.citizen_id,
        "channel": case.channel,
        "reply_to": case.reply_to,
        "language": case.language,
        "created_at": case.created_at,
        "updated_at": case.updated_at or case.created_at,
        "latitude": case.location[0] if case.location else None,
        "longitude": case.location[1] if case.location else None,
        **{name: getattr(case, name) for name in CASE_FIELDS},
    }


async def _insert_returning_ids(
    session: AsyncSession, table: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Multi-row INSERT (Core: the ORM's bulk path costs more than the SQL); the new ids in
    the order of ``rows``."""
    core = table.__table__
    result = await session.execute(
        insert(session, core).returning(core.c.id, sort_by_parameter_order=True), rows
    )
    return [int(row_id) for row_id in result.scalars()]


async def _record(session: AsyncSession, source: str, rows_done: int | None, now: datetime) -> None:
    if rows_done is None:
        await session.execute(
            delete(ImportCheckpointRow).where(ImportCheckpointRow.source == source)
        )
        return
    stmt = insert(session, ImportCheckpointRow).values(
        source=source, rows_done=rows_done, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["source"], set_={"rows_done": rows_done, "updated_at": now}
        )
    )


# --- shared with the worker's batches (``storage.filing``) ----------------------------------


async def insert_cases(session: AsyncSession, cases: Sequence[Case]) -> None:
    """Store new, numbered cases and their first history with one INSERT each; sets their
    ids and clears their pending events."""
    if not cases:
        return
    case_ids = await _insert_returning_ids(session, CaseRow, [_case_values(c) for c in cases])
    for case, case_id in zip(cases, case_ids, strict=True):
        case.id = case_id
    await insert_events(session, cases)


async def insert_events(session: AsyncSession, cases: Sequence[Case]) -> None:
    """Store the stored cases' pending history events with one INSERT; clears them."""
    events: list[dict[str, Any]] = []
    for case in cases:
        events += [
            {"case_id": case.id, **columns_of(e, CaseEventRow.__table__, skip=("id",))}
            for e in case.pending_events
        ]
        case.pending_events.clear()
    if events:
        await session.execute(insert(session, CaseEventRow.__table__), events)


async def citizens_of(
    session: AsyncSession, handles: Sequence[tuple[ContactHandle, Language]], *, at: datetime
) -> dict[ContactHandle, int]:
    """The citizen of each handle, created (with the language given with its first
    appearance) where there is none, with two statements for the batch and two more when some
    are new. A handle another writer took meanwhile is its citizen's (the row made for it
    here goes again), as in ``CitizenRepository.get_or_create``."""
    languages: dict[ContactHandle, Language] = {}
    for handle, language in handles:
        languages.setdefault(handle, language)
    table = ContactHandleRow.__table__
    found = await session.execute(
        select(table.c.channel, table.c.address, table.c.citizen_id).where(
            tuple_(table.c.channel, table.c.address).in_(
                [(h.channel, h.address) for h in languages]
            )
        )
    )
    citizens = {ContactHandle(Channel(c), a): int(i) for c, a, i in found}
    new = [h for h in languages if h not in citizens]
    if not new:
        return citizens
    ids = await _insert_returning_ids(
        session, CitizenRow, [{"language": languages[h], "created_at": at} for h in new]
    )
    rows = [
        {"citizen_id": i, "channel": h.channel, "address": h.address}
        for h, i in zip(new, ids, strict=True)
    ]
    stored = await session.execute(
        insert(session, table)
        .on_conflict_do_nothing(index_elements=["channel", "address"])
        .returning(table.c.citizen_id),
        rows,
    )
    kept = {int(i) for i in stored.scalars()}
    lost = [h for h, i in zip(new, ids, strict=True) if i not in kept]
    citizens.update((h, i) for h, i in zip(new, ids, strict=True) if i in kept)
    if lost:
        unused = [i for i in ids if i not in kept]
        await session.execute(delete(CitizenRow).where(CitizenRow.id.in_(unused)))
        citizens.update(await citizens_of(session, [(h, languages[h]) for h in lost], at=at))
    return citizens
