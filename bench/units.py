"""The reply queue and a month's report of one county's subtree at a million cases, on
PostgreSQL (issue 16).

    .venv/bin/python bench/units.py [--cases 1000000] [--runs 15] [--keep]

Creates the database ``civicline_bench_units`` on 127.0.0.1:5432 (dropped at the end unless
``--keep``), migrates it, writes the shipped units and departments (start-up's sync), and fills
it set-based (``INSERT ... SELECT`` over ``generate_series``, not the ORM): a year of cases over
every department of every unit, the city's bureaus weighted 15, a county's 5 and a township's
office 1, most old cases closed and recent ones open. Then ``VACUUM ANALYZE`` and, for 宁国市
(341881) as its supervisor sees it (p50 / p95 of several runs):

(a) the first page (50) of the subtree's reply queue: ``SqlCases.queue(unit=...)`` (the staff
    API) and ``SqlQueueView.page`` (the console, with its totals), with the plan PostgreSQL
    chooses for the first;
(b) the last full month's rates report over the subtree's departments (``SqlStats.report``
    with ``departments=``, every group), and the city's whole month for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from civicline.domain.cases import AWAITING_REPLY
from civicline.domain.claims import QueueFilter
from civicline.domain.units import split_department_code
from civicline.storage import database
from civicline.storage.stats import REPORT_GROUPS
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "civicline_bench_units"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{NAME}"
CITY = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=CITY).astimezone(UTC)
COUNTY = "341881"  # 宁国市
WEIGHTS = {"city": 15, "county": 5, "township": 1, "village": 1}

FILL = """
INSERT INTO cases (number, citizen_id, channel, reply_to, summary, language, category,
    department, status, urgent, created_at, updated_at, accept_due_at, complete_due_at,
    accepted_at, first_reply_at, closed_at)
SELECT 'B' || g, 1 + g % 1000, 'webchat', 'chat-' || (g % 1000), '工地拖欠工资三个月', 'zh',
    ($2::text[])[1 + (g::bigint * 7919) % cardinality($1::text[])],
    ($1::text[])[1 + (g::bigint * 7919) % cardinality($1::text[])],
    CASE WHEN random() < 0.02 + 0.9 * exp(-age / 6.0) THEN 'assigned' ELSE 'closed' END,
    false, created, created, created + interval '1 day', created + interval '10 days',
    created + interval '2 hours', created + interval '3 days', created + interval '4 days'
FROM (
    SELECT g, $3::timestamptz - make_interval(secs => (g::float8 / $4) * 365 * 86400) AS created,
        (g::float8 / $4) * 365 AS age
    FROM generate_series(1, $4::int) g
) s
"""
CLOSED_FIX = """
UPDATE cases SET first_reply_at = NULL, closed_at = NULL WHERE status = 'assigned'
"""


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _weighted_departments() -> tuple[list[str], list[str]]:
    """Every department of every unit, repeated by its unit's weight, and its category (the
    first category whose kind it is; the hotline centre's for offices)."""
    taxonomy = load_taxonomy()
    assert taxonomy.units is not None
    category_of: dict[str, str] = {}
    for cat in taxonomy.categories.values():
        category_of.setdefault(cat.department, cat.code)
    codes: list[str] = []
    categories: list[str] = []
    for dept in taxonomy.departments.values():
        unit = taxonomy.units.get(dept.unit)
        if unit is None or dept.outside:
            continue
        kind = split_department_code(dept.code)[1]
        category = category_of.get(kind, "other")
        for _ in range(WEIGHTS[unit.level.value]):
            codes.append(dept.code)
            categories.append(category)
    return codes, categories


async def _fill(total: int) -> float:
    taxonomy = load_taxonomy()
    engine = database.create_engine(URL)
    sessions = database.session_factory(engine)
    async with SqlUnitOfWork(sessions) as uow:
        assert taxonomy.units is not None
        await uow.units.sync(taxonomy.units)
        await uow.departments.sync(list(taxonomy.departments.values()))
        await uow.commit()
    await engine.dispose()
    codes, categories = _weighted_departments()
    conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
    started = time.perf_counter()
    try:
        await conn.execute(
            "INSERT INTO citizens (id, language, created_at) "
            "SELECT g, 'zh', now() FROM generate_series(1, 1000) g"
        )
        await conn.execute(FILL, codes, categories, NOW, total)
        await conn.execute(CLOSED_FIX)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, math.ceil(len(timings) * 0.95) - 1)]


async def _measure(runs: int) -> None:
    engine = database.create_engine(URL)
    sessions = database.session_factory(engine)
    taxonomy = load_taxonomy()
    assert taxonomy.units is not None
    path = taxonomy.units.unit(COUNTY).path
    inside = [d.code for d in taxonomy.departments.values() if d.unit and path in (
        taxonomy.units.unit(d.unit).path[: len(path)],)]  # fmt: skip
    month_end = datetime(2026, 11, 1, tzinfo=CITY).astimezone(UTC)
    month_start = datetime(2026, 10, 1, tzinfo=CITY).astimezone(UTC)
    statuses = sorted(AWAITING_REPLY)

    async def api_queue() -> object:
        async with SqlUnitOfWork(sessions) as uow:
            return await uow.cases.queue(statuses=statuses, department=None, limit=50, unit=path)

    async def console_queue() -> object:
        async with SqlUnitOfWork(sessions) as uow:
            return await uow.queue_view.page(QueueFilter(unit=path, limit=50), now=NOW)

    def report(departments: list[str] | None) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            async with SqlUnitOfWork(sessions) as uow:
                return await uow.stats.report(
                    REPORT_GROUPS, period="all", since=month_start, until=month_end, now=NOW,
                    departments=departments,
                )  # fmt: skip

        return run

    conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
    try:
        total = await conn.fetchval("SELECT count(*) FROM cases")
        open_in = await conn.fetchval(
            "SELECT count(*) FROM cases WHERE status = 'assigned' AND department = ANY($1)", inside
        )
        month_in = await conn.fetchval(
            "SELECT count(*) FROM cases WHERE created_at >= $1 AND created_at < $2 "
            "AND department = ANY($3)",
            month_start,
            month_end,
            inside,
        )
        plan = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM cases WHERE status = ANY($1) "
            "AND department IN (SELECT d.code FROM departments d JOIN units u ON d.unit = u.code"
            " WHERE u.path LIKE $2) ORDER BY complete_due_at, id LIMIT 50",
            [str(s) for s in statuses],
            path + "%",
        )
    finally:
        await conn.close()
    print(f"cases: {total:,}; {COUNTY} subtree: {len(inside)} departments, {open_in:,} open, "
          f"{month_in:,} filed in October")  # fmt: skip
    print("plan of the subtree's reply queue (first page):")
    for row in plan:
        print("   ", row[0])
    for label, call in [
        ("reply queue, API (SqlCases.queue)", api_queue),
        ("reply queue, console page with totals", console_queue),
        ("month report, county subtree", report(inside)),
        ("month report, whole city", report(None)),
    ]:
        p50, p95 = await _timed(runs, call)
        print(f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    await engine.dispose()


async def main(total: int, runs: int, keep: bool) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{NAME}"')
    try:
        await asyncio.to_thread(database.upgrade, URL)
        seconds = await _fill(total)
        print(f"filled {total:,} cases set-based in {seconds:.1f} s")
        await _measure(runs)
    finally:
        if not keep:
            await _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.runs, args.keep))
