"""The rates report and the reply queue at a million cases, on PostgreSQL.

    .venv/bin/python bench/rates.py [--cases 1000000] [--runs 9] [--keep] [--reuse]

Creates the database ``civicline_bench`` on 127.0.0.1:5432 (dropped again at the end unless
``--keep``; ``--reuse`` times the one left behind, its indexes put back), migrates it, and
fills it by COPY with a year of cases: about 2,700 a day (fewer at weekends), 17 categories
and their departments, six channels, triage, forwarding, declines and duplicates, deadlines
as the taxonomy sets them, acceptance, first replies and closes mostly in time, the five
outcomes, return visits with their answers, and a pool of frequent callers who complain about
the same thing again. Then ``VACUUM ANALYZE`` and, for
the last full month and several runs each (p50 / p95):

(a) the month's rates report, every group (``SqlStats.report``: what
    ``GET /api/v1/stats/rates`` runs), then the same figures by day;
(b) the first page (50) of one department's reply queue: ``SqlCases.queue`` (the staff API)
    and ``SqlQueueView.page`` (the console, with its totals);
(c) what one ``/metrics`` scrape reads (backlog, this month's report, closes).

Baselines in the same run, on the same data: ``COUNT(*)`` of the month's cases (an index-only
look at which rows there are), the simplest ``GROUP BY department`` over the same rows (every
row read once), and the report and the queue again without the indexes that serve them
(without ``ix_cases_repeat`` the report takes about a minute, so that one runs once).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import text
from sqlalchemy.schema import CreateIndex

from civicline.domain.cases import AWAITING_REPLY
from civicline.domain.claims import QueueFilter
from civicline.gateway.bootstrap import sync_departments
from civicline.gateway.settings import Settings
from civicline.handlers.rates import current_figures
from civicline.storage import database
from civicline.storage.stats import REPORT_GROUPS
from civicline.storage.tables import CaseRow
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Filled at the revision before the rates' summary (0017), whose triggers would otherwise run
# for every COPY row; upgrading afterwards backfills it set-based.
BEFORE_SUMMARY = "0016"
NAME = "civicline_bench"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{NAME}"
CITY = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=CITY).astimezone(UTC)
DAYS = 365
CITIZENS = 400_000
FREQUENT = 20_000  # citizens 1..FREQUENT call again and again
CHANNELS = [("hotline", 45), ("voice", 10), ("webchat", 18), ("sms", 12), ("telegram", 8)]
CHANNELS += [("open311", 7)]
OUTCOMES = [("solved", 60), ("explained", 22), ("discretion", 8), ("law_enforced", 6)]
OUTCOMES += [("assisted", 4)]
SUMMARIES = [
    "幸福路{n}号小区门口的路灯坏了一个星期了，晚上一片漆黑，老人小孩出门很不安全，"
    "之前打过电话说会来修，到现在还没有人来，希望尽快安排维修。",
    "我家楼下的餐馆每天晚上十一点以后还在施工装修，噪音很大，已经严重影响休息，"
    "和物业反映过多次没有结果，请相关部门过来看看，编号{n}。",
    "公交{n}路早高峰经常二十多分钟不来一趟，车上挤得上不去，希望增加班次，"
    "另外站台的顶棚坏了一半，下雨天没地方躲。",
    "小区{n}栋的电梯这个月坏了三次，有一次还把人关在里面半个小时，物业说在等配件，"
    "住在高层的老人没法下楼，请监督物业尽快修好并做安全检查。",
    "我在{n}号工地干了四个月活，包工头一直拖欠工资，总共一万二千元，打电话不接，"
    "找到公司说不归他们管，请劳动部门帮忙追讨。",
]
COLUMNS = [
    "id", "number", "citizen_id", "channel", "reply_to", "summary", "language", "category",
    "department", "status", "urgent", "collective", "created_at", "updated_at",
    "accept_due_at", "complete_due_at", "reply_due_at", "accepted_at", "first_reply_at",
    "closed_at", "outcome", "legal_matter", "satisfaction", "solved", "visit_status",
    "second_review", "escalation_level", "rating", "merged_into", "classified_by", "confidence",
]  # fmt: skip


def _weighted(pairs: list[tuple[str, int]]) -> Callable[[], str]:
    names = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return lambda: random.choices(names, weights)[0]


def _cases(total: int) -> Iterator[tuple[Any, ...]]:
    """A year of cases, oldest first, each consistent with itself (see the docstring)."""
    taxonomy = load_taxonomy()
    categories = sorted(c for c in taxonomy.categories if c != "other")
    cat_weights = [1 + (i * 7) % 11 for i in range(len(categories))]
    departments = sorted(taxonomy.departments)
    channel = _weighted(CHANNELS)
    outcome = _weighted(OUTCOMES)
    first_day = (NOW.astimezone(CITY) - timedelta(days=DAYS)).date()
    # Weekdays get more calls than weekends; the volume grows a little over the year.
    shares = [
        (0.6 if (first_day + timedelta(d)).weekday() >= 5 else 1.0) * (0.9 + 0.2 * d / DAYS)
        for d in range(DAYS)
    ]
    scale = total / sum(shares)
    per_day = [int(s * scale) for s in shares]
    per_day[-1] += total - sum(per_day)
    case_id = 0
    for offset, count in enumerate(per_day):
        day = first_day + timedelta(days=offset)
        midnight = datetime.combine(day, datetime.min.time(), CITY)
        times = sorted(
            midnight + timedelta(hours=min(23.99, max(0.0, random.gauss(13, 4))))
            for _ in range(count)
        )
        for seq, created in enumerate(times, start=1):
            case_id += 1
            yield _case(
                case_id, f"{day:%y%m%d}-{seq:05d}", created.astimezone(UTC), taxonomy,
                categories, cat_weights, departments, channel(), outcome,
            )  # fmt: skip


def _case(
    case_id: int,
    number: str,
    created: datetime,
    taxonomy: Any,
    categories: list[str],
    cat_weights: list[int],
    departments: list[str],
    channel: str,
    outcome: Callable[[], str],
) -> tuple[Any, ...]:
    r = random.random
    age = (NOW - created).total_seconds() / 86400
    if r() < 0.3:  # a frequent caller, often about their usual matter
        citizen = random.randint(1, FREQUENT)
        usual = categories[citizen % len(categories)]
        category = usual if r() < 0.6 else random.choices(categories, cat_weights)[0]
    else:
        citizen = random.randint(FREQUENT + 1, CITIZENS)
        category = random.choices(categories, cat_weights)[0]
    department: str | None = taxonomy.categories[category].department
    urgent = r() < 0.03
    days = taxonomy.categories[category].complete_working_days
    accept_due = created + timedelta(hours=1 if urgent else 24)
    complete_due = created + timedelta(days=1.4 if urgent else days * 1.4)
    reply_due = created + timedelta(days=min(days, 3) * 1.4)
    # How far along: most old cases are done, recent ones still open.
    still_open = r() < 0.02 + 0.9 * math.exp(-age / 6)
    accepted = created + timedelta(hours=random.expovariate(1 / 4) if r() < 0.95 else 30)
    accepted_at: datetime | None = accepted if accepted < NOW else None
    first_reply = closed_at = None
    the_outcome = satisfaction = visit = None
    solved: bool | None = None
    rating: int | None = None
    legal = second = False
    merged_into = None
    if r() < 0.04:
        status, merged_into = "merged", number[:7] + "00001"
    elif r() < 0.03:
        status = "rejected"
        if r() < 0.5:
            accepted_at = None  # declined at once: the history says when
    elif accepted_at is None:
        status, department = ("received", None) if r() < 0.5 else ("accepted", None)
    elif still_open:
        status = random.choice(["assigned", "in_progress", "forwarded", "answered", "reopened"])
        if status == "forwarded":
            department = random.choice(departments)
        if status == "answered":
            first_reply = _before_now(created + timedelta(days=random.expovariate(1 / 1.2)))
    else:
        status = "closed"
        late = r() < 0.08
        first_reply = created + timedelta(days=random.uniform(0.1, days * (1.6 if late else 0.8)))
        closed_at = first_reply + timedelta(hours=random.expovariate(1 / 20))
        if closed_at > NOW:
            status, closed_at = "answered", None
        else:
            the_outcome = outcome()
            legal = r() < 0.02
            visited = (NOW - closed_at).days >= 3
            visit = "asked" if not visited else ("answered" if r() < 0.83 else "unreachable")
            if visit == "answered":
                satisfaction = random.choices(["satisfied", "basic", "dissatisfied"], [70, 20, 10])[
                    0
                ]
                solved = random.choices([True, False, None], [85, 10, 5])[0]
                rating = {"satisfied": 5, "basic": 4, "dissatisfied": 1}[satisfaction]
                second = satisfaction == "dissatisfied" and r() < 0.5
    if status == "rejected" or status == "merged":
        department = department if r() < 0.7 else None
    if status == "received" or (status == "accepted" and department is None):
        category = None if r() < 0.5 else category
    updated = max(t for t in (created, accepted_at, first_reply, closed_at) if t is not None)
    return (
        case_id, number, citizen, channel, f"addr-{citizen}", random.choice(SUMMARIES).format(
            n=case_id % 997), "zh", category, department, status, urgent, r() < 0.01, created,
        updated, accept_due, complete_due, reply_due, accepted_at, first_reply, closed_at,
        the_outcome, legal, satisfaction, solved, visit, second, 0, rating, merged_into,
        "local", 0.8,
    )  # fmt: skip


EVENT_COLUMNS = ["case_id", "kind", "at", "actor", "from_status", "to_status", "data"]


def decline_event(row: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The history's one event of a case declined at once (no acceptance time on the case):
    the rates read when it was declined from it."""
    if row[9] != "rejected" or row[17] is not None:
        return None
    at = row[12] + timedelta(hours=random.expovariate(1 / 6))
    return (row[0], "transition", at, "staff:bench", "received", "rejected", "{}")


def _before_now(moment: datetime) -> datetime | None:
    return moment if moment < NOW else None


async def _fill(total: int) -> float:
    conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
    started = time.perf_counter()
    try:
        await conn.execute(
            "INSERT INTO citizens (id, language, created_at) "
            f"SELECT g, 'zh', now() FROM generate_series(1, {CITIZENS}) g"
        )
        batch: list[tuple[Any, ...]] = []
        declined: list[tuple[Any, ...]] = []
        for row in _cases(total):
            batch.append(row)
            event = decline_event(row)
            if event is not None:
                declined.append(event)
            if len(batch) == 50_000:
                await conn.copy_records_to_table("cases", records=batch, columns=COLUMNS)
                batch.clear()
        if batch:
            await conn.copy_records_to_table("cases", records=batch, columns=COLUMNS)
        await conn.copy_records_to_table("case_events", records=declined, columns=EVENT_COLUMNS)
        await conn.execute("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()  # warm the cache and the compiled statement
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, math.ceil(len(timings) * 0.95) - 1)]


async def _once(call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """One run, for baselines that take a minute."""
    started = time.perf_counter()
    await call()
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, elapsed


async def _ddl(engine: Any, sql: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql))
        await conn.execute(text("ANALYZE cases"))


def _month() -> tuple[datetime, datetime, date]:
    """The last full month before NOW, in the city's time."""
    first_this = NOW.astimezone(CITY).date().replace(day=1)
    first_last = (first_this - timedelta(days=1)).replace(day=1)
    since = datetime.combine(first_last, datetime.min.time(), CITY).astimezone(UTC)
    until = datetime.combine(first_this, datetime.min.time(), CITY).astimezone(UTC)
    return since, until, first_last


async def fresh_database(reuse: bool, name: str = NAME) -> bool:
    """True when the database ``name`` must be filled; with ``reuse``, an existing one is
    kept."""
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        found = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if reuse and found:
            return False
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await admin.close()


async def _restore_indexes(engine: Any) -> None:
    """Put back the indexes an earlier run dropped for its baselines."""
    async with engine.begin() as conn:
        for index in CaseRow.__table__.indexes:
            await conn.execute(CreateIndex(index, if_not_exists=True))
        await conn.execute(text("ANALYZE cases"))


async def main(total: int, runs: int, keep: bool, reuse: bool) -> None:
    fill = await fresh_database(reuse)
    engine = database.create_engine(URL)
    try:
        await asyncio.to_thread(database.upgrade, URL, BEFORE_SUMMARY if fill else "head")
        sessions = database.session_factory(engine)
        if fill:
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
            # Units first: a department belongs to one (migration 0013).
            await sync_departments(
                SqlUnitOfWork(sessions),
                load_taxonomy(
                    settings.taxonomy_path, settings.nlu_training_dir, settings.units_path
                ),
            )
            seconds = await _fill(total)
            await asyncio.to_thread(database.upgrade, URL)  # 0017 backfills the summary
            print(
                f"filled {total:,} cases over {DAYS} days by COPY, VACUUM ANALYZE: {seconds:.0f} s"
            )
        else:
            await _restore_indexes(engine)
            print(f"reusing {NAME}")
        since, until, month = _month()
        department = "housing_construction"
        async with engine.connect() as conn:
            in_month = (
                await conn.execute(
                    text("SELECT count(*) FROM cases WHERE created_at >= :s AND created_at < :u"),
                    {"s": since, "u": until},
                )
            ).scalar_one()
            waiting = (
                await conn.execute(
                    text("SELECT count(*) FROM cases WHERE department = :d AND status IN "
                         "('assigned', 'in_progress', 'forwarded', 'reopened')"),
                    {"d": department},
                )
            ).scalar_one()  # fmt: skip
        print(
            f"{month:%Y-%m}: {in_month:,} cases filed; {department}: {waiting:,} awaiting a reply"
        )

        async def report(period: str = "month") -> object:
            async with SqlUnitOfWork(sessions) as uow:
                rows = await uow.stats.report(
                    REPORT_GROUPS,
                    period=period,
                    since=since,
                    until=until,
                    now=NOW,  # type: ignore[arg-type]
                )
            assert rows
            return rows

        async def raw(sql: str) -> object:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql), {"s": since, "u": until})).all()

        async def api_queue() -> object:
            async with SqlUnitOfWork(sessions) as uow:
                page = await uow.cases.queue(
                    statuses=AWAITING_REPLY, department=department, limit=50
                )
            assert len(page) == 50
            return page

        async def console_queue() -> object:
            async with SqlUnitOfWork(sessions) as uow:
                page = await uow.queue_view.page(QueueFilter(department=department), now=NOW)
            assert len(page.cases) == 50
            return page

        async def scrape() -> object:
            return await current_figures(uow=SqlUnitOfWork(sessions), now=NOW, city=CITY)

        count_sql = "SELECT count(*) FROM cases WHERE created_at >= :s AND created_at < :u"
        group_sql = (
            "SELECT department, count(*), count(*) FILTER (WHERE closed_at <= complete_due_at) "
            "FROM cases WHERE created_at >= :s AND created_at < :u GROUP BY department"
        )
        figures: list[tuple[str, tuple[float, float]]] = [
            ("(a) month's report, 5 groups, by month", await _timed(runs, report)),
            ("(a) month's report, 5 groups, by day", await _timed(runs, lambda: report("day"))),
            ("    baseline: COUNT(*) of the month", await _timed(runs, lambda: raw(count_sql))),
            ("    baseline: GROUP BY department", await _timed(runs, lambda: raw(group_sql))),
            ("(b) reply queue, staff API, 1st page", await _timed(runs * 5, api_queue)),
            ("(b) reply queue, console page+totals", await _timed(runs * 5, console_queue)),
            ("(c) one /metrics scrape", await _timed(runs, scrape)),
        ]
        slow = max(3, runs // 3)
        await _ddl(engine, "DROP INDEX ix_cases_created_at")
        figures.append(("    (a) without ix_cases_created_at", await _timed(slow, report)))
        await _ddl(engine, "CREATE INDEX ix_cases_created_at ON cases (created_at)")
        await _ddl(engine, "DROP INDEX ix_cases_repeat")
        figures.append(("    (a) without ix_cases_repeat, once", await _once(report)))
        await _ddl(engine, "DROP INDEX ix_cases_reply_queue, ix_cases_awaiting_reply_by_deadline")
        figures.append(
            ("    (b) staff API without the queue indexes", await _timed(slow, api_queue))
        )
        print(f"\n{'query (ms)':<44}{'p50':>9}{'p95':>9}")
        for name, (p50, p95) in figures:
            print(f"{name:<44}{p50:>9.1f}{p95:>9.1f}")
    finally:
        await engine.dispose()
        if not keep and not reuse:
            admin = await asyncpg.connect(ADMIN_DSN)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            finally:
                await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="leave civicline_bench behind")
    parser.add_argument("--reuse", action="store_true", help="time the data left by --keep")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    random.seed(args.seed)
    asyncio.run(main(args.cases, args.runs, args.keep, args.reuse))
