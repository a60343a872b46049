"""The reply queue's first page and a month's rates report at ten million cases, on PostgreSQL.

    .venv/bin/python bench/ten_million.py [--cases 10000000] [--runs 15] [--keep] [--reuse]
        [--department housing_construction]

Creates the database ``civicline_bench_10m`` on 127.0.0.1:5432, migrates it and fills it with a
year of cases by COPY, generated as ``bench/rates.py`` generates its million (the same status
mix: triage, forwarding, declines, duplicates, acceptance, replies and closes mostly in time,
outcomes, return visits, frequent callers; about 27,000 cases a day at ten million; the history
event that says when each case declined at once was declined), with the cases table's
secondary indexes dropped during the COPY and built afterwards, then
``VACUUM ANALYZE``. Nothing goes through the ORM.

Then, p50 / p99 over ``--runs`` runs each (the queue five times as many), next to the aims:

* the reply queue's first page (50) of one department: the console's ``SqlQueueView.page``
  (storage/reply_queue.py: the page and its totals) and the staff API's ``SqlCases.queue``;
  aim < 20 ms. ``queue_calls`` below is the one place to point at another queue (a units
  subtree);
* the last full month's rates report, every group, by month (``SqlStats.report``: what
  ``GET /api/v1/stats/rates`` runs), and one department's; aim < 1 s;
* baselines in the same run: ``COUNT(*)`` of the month's cases, and the month's cases grouped
  by department with one ``FILTER`` (each row read once).

The database is dropped at the end unless ``--keep``; ``--reuse`` times one left behind by
``--keep`` (filling ten million cases takes a quarter of an hour or more on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import rates
from rates import (
    ADMIN_DSN,
    BEFORE_SUMMARY,
    COLUMNS,
    DAYS,
    EVENT_COLUMNS,
    NOW,
    _cases,
    _month,
    decline_event,
)
from sqlalchemy import text

from civicline.domain.cases import AWAITING_REPLY
from civicline.domain.claims import QueueFilter
from civicline.gateway.bootstrap import sync_departments
from civicline.gateway.settings import Settings
from civicline.storage import database
from civicline.storage.stats import REPORT_GROUPS
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

NAME = "civicline_bench_10m"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{NAME}"
QUEUE_AIM_MS = 20
REPORT_AIM_MS = 1_000
CHUNK = 100_000


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


async def fill(total: int) -> None:
    conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
    started = time.perf_counter()
    try:
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'cases' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute(
            "INSERT INTO citizens (id, language, created_at) "
            f"SELECT g, 'zh', now() FROM generate_series(1, {rates.CITIZENS}) g"
        )
        batch: list[tuple[Any, ...]] = []
        declined: list[tuple[Any, ...]] = []
        done = 0
        for row in _cases(total):
            batch.append(row)
            event = decline_event(row)
            if event is not None:
                declined.append(event)
            if len(batch) == CHUNK:
                await conn.copy_records_to_table("cases", records=batch, columns=COLUMNS)
                await conn.copy_records_to_table(
                    "case_events", records=declined, columns=EVENT_COLUMNS
                )
                done += len(batch)
                batch.clear()
                declined.clear()
                if done % 1_000_000 == 0:
                    rate = done / (time.perf_counter() - started)
                    print(f"  {done:,} cases copied ({rate:,.0f}/s, {load()})", flush=True)
        if batch:
            await conn.copy_records_to_table("cases", records=batch, columns=COLUMNS)
            await conn.copy_records_to_table("case_events", records=declined, columns=EVENT_COLUMNS)
        copied = time.perf_counter() - started
        await conn.execute("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        indexed = time.perf_counter() - started - copied
        await conn.execute("VACUUM ANALYZE cases")
        print(
            f"filled {total:,} cases over {DAYS} days: COPY {copied:.0f} s, "
            f"{len(indexes)} indexes {indexed:.0f} s, vacuum "
            f"{time.perf_counter() - started - copied - indexed:.0f} s ({load()})",
            flush=True,
        )
    finally:
        await conn.close()


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()  # warm the cache and the compiled statement
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, math.ceil(len(timings) * 0.99) - 1)]


async def hand_down(engine: Any, county: str, since: Any, until: Any) -> frozenset[str]:
    """The county's departments (its subtree's: codes start with the unit's), after handing
    down a sixth of the month's cases of each kind the county has a department of (the
    generator files every case with a city department). An UPDATE through the rates'
    triggers: its time per case is the summary's cost on a case change."""
    async with engine.begin() as conn:
        codes = frozenset(
            (
                await conn.execute(
                    text("SELECT code FROM departments WHERE code LIKE :prefix"),
                    {"prefix": f"{county}%"},
                )
            ).scalars()
        )
        held = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM cases WHERE department = ANY(:codes)"
                    " AND created_at >= :s AND created_at < :u"
                ),
                {"codes": sorted(codes), "s": since, "u": until},
            )
        ).scalar_one()
        if not held:
            kinds = sorted(code.split(".", 1)[1] for code in codes if "." in code)
            started = time.perf_counter()
            moved = (
                await conn.execute(
                    text(
                        f"UPDATE cases SET department = '{county}.' || department"
                        " WHERE department = ANY(:kinds) AND id % 6 = 0"
                        " AND created_at >= :s AND created_at < :u"
                    ),
                    {"kinds": kinds, "s": since, "u": until},
                )
            ).rowcount
            took = time.perf_counter() - started
            print(
                f"handed {moved:,} of the month's cases down to {county}'s departments: "
                f"{took:.1f} s, {took / max(moved, 1) * 1000:.3f} ms a case ({load()})",
                flush=True,
            )
            held = moved
    print(f"county {county}: {len(codes)} departments, {held:,} cases this month", flush=True)
    return codes


def queue_calls(
    sessions: Any, department: str
) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    """The queue pages timed: change here to bench another queue (a units subtree)."""

    async def console_page() -> object:
        async with SqlUnitOfWork(sessions) as uow:
            page = await uow.queue_view.page(QueueFilter(department=department), now=NOW)
        assert len(page.cases) == 50
        return page

    async def console_all() -> object:
        async with SqlUnitOfWork(sessions) as uow:
            page = await uow.queue_view.page(QueueFilter(), now=NOW)
        assert len(page.cases) == 50
        return page

    async def api_page() -> object:
        async with SqlUnitOfWork(sessions) as uow:
            page = await uow.cases.queue(statuses=AWAITING_REPLY, department=department, limit=50)
        assert len(page) == 50
        return page

    async def floor() -> object:
        async with SqlUnitOfWork(sessions) as uow:
            return (await uow.session.execute(text("SELECT 1"))).scalar_one()

    return [
        ("baseline: a unit of work with SELECT 1 (the floor)", floor),
        (f"console queue page + totals, {department}", console_page),
        ("console queue page + totals, all departments", console_all),
        (f"staff API queue page, {department}", api_page),
    ]


async def main(args: argparse.Namespace) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {load()}", flush=True)
    must_fill = await rates.fresh_database(args.reuse, NAME)
    engine = database.create_engine(URL)
    try:
        # Filled before the rates' summary (0017) exists, so that its triggers do not run per
        # COPY row: the migration then backfills set-based, and its time is printed.
        sessions = database.session_factory(engine)
        if must_fill:
            await asyncio.to_thread(database.upgrade, URL, BEFORE_SUMMARY)
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
            taxonomy = load_taxonomy(
                settings.taxonomy_path, settings.nlu_training_dir, settings.units_path
            )
            await sync_departments(SqlUnitOfWork(sessions), taxonomy)
            await fill(args.cases)
        else:
            print(f"reusing {NAME}")
        started = time.perf_counter()
        await asyncio.to_thread(database.upgrade, URL)
        print(
            "migrated to head (0017, when it ran, backfilled the repeat flag and "
            f"case_rate_cells): {time.perf_counter() - started:.1f} s ({load()})",
            flush=True,
        )
        since, until, month = _month()
        async with engine.connect() as conn:
            total = (await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one()
            in_month = (
                await conn.execute(
                    text("SELECT count(*) FROM cases WHERE created_at >= :s AND created_at < :u"),
                    {"s": since, "u": until},
                )
            ).scalar_one()
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM cases WHERE department = :d AND status IN "
                        f"({', '.join(repr(str(s)) for s in AWAITING_REPLY)})"
                    ),
                    {"d": args.department},
                )
            ).scalar_one()
        print(
            f"{total:,} cases; {month:%Y-%m}: {in_month:,} filed; {args.department}: "
            f"{waiting:,} awaiting a reply",
            flush=True,
        )

        county = await hand_down(engine, args.county, since, until)
        started = time.perf_counter()
        conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
        try:
            await conn.execute("VACUUM ANALYZE cases")
            await conn.execute("VACUUM ANALYZE case_rate_cells")
        finally:
            await conn.close()
        print(
            f"VACUUM ANALYZE (after the migration's and the hand-down's updates): "
            f"{time.perf_counter() - started:.0f} s ({load()})",
            flush=True,
        )

        async def report(
            department: str | None = None,
            departments: frozenset[str] | None = None,
            exact: bool = False,
        ) -> object:
            async with SqlUnitOfWork(sessions) as uow:
                rows = await uow.stats.report(
                    REPORT_GROUPS,
                    period="month",
                    since=since,
                    until=until,
                    now=NOW,
                    department=department,
                    departments=departments,
                    exact=exact,
                )
            assert rows
            return rows

        async def same() -> None:
            for department, departments in ((None, None), (None, county), (args.department, None)):
                summed = await report(department, departments)
                exact = await report(department, departments, exact=True)
                assert summed == exact, f"the summary differs from the direct count: {department}"
            print("the summary's reports equal the direct count's (city, county, department)")

        if not args.skip_report:
            await same()

        async def raw(sql: str) -> object:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql), {"s": since, "u": until})).all()

        count_sql = "SELECT count(*) FROM cases WHERE created_at >= :s AND created_at < :u"
        group_sql = (
            "SELECT department, count(*), count(*) FILTER (WHERE closed_at <= complete_due_at) "
            "FROM cases WHERE created_at >= :s AND created_at < :u GROUP BY department"
        )
        rows: list[tuple[str, float, float, str]] = []
        for label, call in queue_calls(sessions, args.department):
            p50, p99 = await timed(args.runs * 5, call)
            aim = "" if label.startswith("baseline") else f"< {QUEUE_AIM_MS} ms"
            rows.append((label, p50, p99, aim))
            print(f"  {label}: {p50:.1f} / {p99:.1f} ms ({load()})", flush=True)
        reports = (
            []
            if args.skip_report
            else [
                ("month's report, all groups (the city)", report),
                (
                    f"month's report, all groups, county {args.county}",
                    lambda: report(departments=county),
                ),
                (
                    f"month's report, all groups, {args.department}",
                    lambda: report(args.department),
                ),
                ("direct count (exact=1): the city", lambda: report(exact=True)),
                (
                    f"direct count (exact=1): county {args.county}",
                    lambda: report(departments=county, exact=True),
                ),
                (
                    f"direct count (exact=1): {args.department}",
                    lambda: report(args.department, exact=True),
                ),
                ("baseline: COUNT(*) of the month", lambda: raw(count_sql)),
                ("baseline: GROUP BY department, one FILTER", lambda: raw(group_sql)),
            ]
        )
        for label, call in reports:
            direct = label.startswith(("baseline", "direct"))
            p50, p99 = await timed(
                args.exact_runs if label.startswith("direct") else args.runs, call
            )
            aim = "" if direct else f"< {REPORT_AIM_MS:,} ms"
            rows.append((label, p50, p99, aim))
            print(f"  {label}: {p50:.0f} / {p99:.0f} ms ({load()})", flush=True)
        print(f"\n{'query (ms)':<52}{'p50':>9}{'p99':>9}  aim")
        for label, p50, p99, aim in rows:
            verdict = ""
            if aim:
                limit = QUEUE_AIM_MS if "queue" in label else REPORT_AIM_MS
                verdict = "met" if p99 < limit else ("p50 met" if p50 < limit else "NOT met")
            print(f"{label:<52}{p50:>9.1f}{p99:>9.1f}  {aim} {verdict}")
        print(f"({load()})")
    finally:
        await engine.dispose()
        if not args.keep and not args.reuse:
            admin = await asyncpg.connect(ADMIN_DSN)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            finally:
                await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help=f"leave {NAME} behind")
    parser.add_argument("--reuse", action="store_true", help="time the data left by --keep")
    parser.add_argument("--department", default="housing_construction")
    parser.add_argument(
        "--county", default="341802", help="the unit whose subtree's report is timed"
    )
    parser.add_argument(
        "--exact-runs", type=int, default=3, help="runs of the direct count (the reference)"
    )
    parser.add_argument("--skip-report", action="store_true", help="time the queue only")
    parser.add_argument("--seed", type=int, default=12345)
    arguments = parser.parse_args()
    random.seed(arguments.seed)
    asyncio.run(main(arguments))
