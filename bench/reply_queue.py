"""The reply queue at a million cases, on PostgreSQL: with the partial indexes, and without.

    .venv/bin/python bench/reply_queue.py [--cases 1000000] [--open-share 0.03]

Builds a throwaway database, fills it with SQL (generate_series), then times the queue query
the staff API runs (``SqlCases.queue``) for one department and for all departments; then drops
the reply-queue indexes and times the same queries again: the baseline, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civicline.domain.cases import AWAITING_REPLY
from civicline.storage import database
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FILL = """
INSERT INTO citizens (id, language, created_at) VALUES (1, 'zh', now());
INSERT INTO cases (number, citizen_id, channel, reply_to, summary, language, category,
                   department, status, urgent, created_at, updated_at, accept_due_at,
                   complete_due_at)
SELECT to_char(now(), 'YYMMDD') || '-' || lpad(g::text, 7, '0'), 1, 'webchat', 'conv', '路灯坏了',
       'zh', 'other', (ARRAY[{departments}])[1 + g % {n_departments}],
       CASE WHEN random() < {open_share} THEN 'assigned' ELSE 'closed' END, false,
       now(), now(), now() + interval '1 day',
       now() + (random() * 30) * interval '1 day'
FROM generate_series(1, {cases}) AS g;
ANALYZE cases;
"""


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _time_queue(url: str, department: str | None, runs: int) -> tuple[float, float]:
    engine = database.create_engine(url)
    sessions = database.session_factory(engine)
    timings = []
    for _ in range(runs):
        async with SqlUnitOfWork(sessions) as uow:
            start = time.perf_counter()
            page = await uow.cases.queue(statuses=AWAITING_REPLY, department=department, limit=50)
            timings.append((time.perf_counter() - start) * 1000)
    assert len(page) == 50
    await engine.dispose()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


async def _plan(url: str, department: str) -> str:
    engine = database.create_engine(url)
    statuses = ", ".join(f"'{s}'" for s in sorted(AWAITING_REPLY))
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "EXPLAIN SELECT * FROM cases WHERE status IN (" + statuses + ") "
                "AND department = :d ORDER BY complete_due_at, id LIMIT 50"
            ),
            {"d": department},
        )
        plan = "\n".join(r[0] for r in rows)
    await engine.dispose()
    return plan


async def main(cases: int, open_share: float, runs: int) -> None:
    name = f"civicline_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(database.upgrade, url)
        taxonomy = load_taxonomy()
        codes = sorted(taxonomy.departments)
        engine = database.create_engine(url)
        async with SqlUnitOfWork(database.session_factory(engine)) as uow:
            await uow.departments.sync(list(taxonomy.departments.values()))
            await uow.commit()
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in FILL.format(
                departments=", ".join(f"'{c}'" for c in codes),
                n_departments=len(codes),
                open_share=open_share,
                cases=cases,
            ).split(";"):
                if statement.strip():
                    await conn.execute(text(statement))
        elapsed = time.perf_counter() - started
        print(f"filled {cases:,} cases ({open_share:.0%} awaiting a reply) in {elapsed:.1f} s")
        department = codes[0]
        with_index = {
            "one department": await _time_queue(url, department, runs),
            "all departments": await _time_queue(url, None, runs),
        }
        plan = await _plan(url, department)
        async with engine.begin() as conn:
            await conn.execute(
                text("DROP INDEX ix_cases_reply_queue, ix_cases_awaiting_reply_by_deadline")
            )
            await conn.execute(text("ANALYZE cases"))
        await engine.dispose()
        without = {
            "one department": await _time_queue(url, department, max(5, runs // 10)),
            "all departments": await _time_queue(url, None, max(5, runs // 10)),
        }
        print(f"\nreply queue, first page of 50, {runs} runs (median / p99, ms):")
        print(f"{'query':<18}{'with indexes':>22}{'without (baseline)':>24}{'speed-up':>10}")
        for key, (median, p99) in with_index.items():
            base_median, base_p99 = without[key]
            print(
                f"{key:<18}{median:>10.2f} / {p99:>8.2f}{base_median:>12.2f} / {base_p99:>8.2f}"
                f"{base_median / median:>9.0f}x"
            )
        print("\nplan with indexes (one department):\n" + plan)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--open-share", type=float, default=0.03)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.open_share, args.runs))
