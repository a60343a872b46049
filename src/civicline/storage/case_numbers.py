"""Allocating case numbers without a lock every case opening waits on.

On PostgreSQL each day has its own sequence, ``case_seq_YYYYMMDD``: ``nextval`` takes no row
lock and is never rolled back, so concurrent openings never wait on each other and a rolled-back
opening leaves a gap (numbers are unique and ordered within a day, not gap-free). A day's
sequence is created on first use in a short transaction of its own, starting after the day's
old ``case_counters`` row and after any number the day already has. SQLite allows one writer
at a time anyway, so there the ``case_counters`` row of the day is still counted up.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from civicline.domain.case_numbers import format_case_number
from civicline.storage.tables import CaseCounterRow
from civicline.storage.upsert import insert

# The days whose sequence this process has seen exist, per database engine.
_KNOWN_DAYS: WeakKeyDictionary[Engine, set[date]] = WeakKeyDictionary()
SEQUENCE_PREFIX = "case_seq_"


def sequence_name(day: date) -> str:
    return f"{SEQUENCE_PREFIX}{day:%Y%m%d}"


async def next_numbers(session: AsyncSession, day: date, count: int) -> list[str]:
    """``count`` new case numbers for ``day``, in increasing order."""
    if count < 1:
        return []
    if session.get_bind().dialect.name != "postgresql":
        return await _counted(session, day, count)
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    known = _KNOWN_DAYS.setdefault(engine.sync_engine, set())
    if day not in known:
        await _create_sequence(engine, day)
        known.add(day)
    try:
        values = await session.scalars(
            text("SELECT nextval(CAST(:name AS regclass)) FROM generate_series(1, :count)"),
            {"name": sequence_name(day), "count": count},
        )
    except DBAPIError:
        known.discard(day)  # dropped behind our back: the retried job creates it again
        raise
    return [format_case_number(day, value) for value in sorted(values)]


async def _counted(session: AsyncSession, day: date, count: int) -> list[str]:
    stmt = insert(session, CaseCounterRow).values(day=day, last=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day"], set_={"last": CaseCounterRow.last + count}
    ).returning(CaseCounterRow.last)
    last = int((await session.execute(stmt)).scalar_one())
    return [format_case_number(day, n) for n in range(last - count + 1, last + 1)]


async def _create_sequence(engine: AsyncEngine, day: date) -> None:
    name = sequence_name(day)
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        exists = await autocommit.scalar(text("SELECT to_regclass(:name)"), {"name": name})
        if exists is not None:
            return
        # Cases are looked up by their filing time (indexed), a day either side of the local
        # day whatever the city's offset, then by the number's prefix.
        start = datetime.combine(day, time(), UTC) - timedelta(days=1)
        last = await autocommit.scalar(
            text(
                "SELECT greatest("
                " (SELECT last FROM case_counters WHERE day = :day),"
                " (SELECT max(CAST(substr(number, 8) AS integer)) FROM cases"
                "  WHERE created_at >= :start AND created_at < :end AND number LIKE :prefix))"
            ),
            {
                "day": day,
                "start": start,
                "end": start + timedelta(days=3),
                "prefix": f"{day:%y%m%d}-%",
            },
        )
        try:
            # The name is made of digits from a date: nothing to quote.
            await autocommit.execute(
                text(f"CREATE SEQUENCE IF NOT EXISTS {name} START {int(last or 0) + 1}")
            )
        except (IntegrityError, ProgrammingError):
            # Another process created it at the same moment (IF NOT EXISTS is not atomic).
            if await autocommit.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is None:
                raise
