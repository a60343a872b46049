"""The console's queue page at a million cases, on PostgreSQL.

    .venv/bin/python bench/console_queue.py [--cases 1000000] [--open-share 0.03] [--runs 100]

Builds a throwaway database (generate_series), then times, for a supervisor (all departments)
and a clerk (one department): the page's data (``handlers.screens.queue_screen``: one page of
50 in deadline order, the filter's totals and the claims on the page) with no filter, overdue
only, urgent only and a word search; and the whole page over HTTP in process (sign-in cookie,
query, Jinja rendering), which is what a browser waits for, less the network.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civicline.domain.accounts import Role
from civicline.domain.claims import QueueFilter
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import services_for, utcnow
from civicline.gateway.settings import Settings
from civicline.gateway.users import create_user
from civicline.handlers.screens import queue_screen
from civicline.storage import database

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PASSWORD = "bench-password-1"
MODELS = Path("var/models").resolve()  # the trained NLU model, reused
FILL = """
INSERT INTO citizens (id, language, created_at) VALUES (1, 'zh', now());
INSERT INTO cases (number, citizen_id, channel, reply_to, summary, language, category,
                   department, status, urgent, created_at, updated_at, accept_due_at,
                   complete_due_at)
SELECT to_char(now(), 'YYMMDD') || '-' || lpad(g::text, 7, '0'), 1,
       (ARRAY['webchat', 'sms', 'telegram', 'hotline'])[1 + g % 4], 'conv',
       '幸福路' || (g % 500) || '号小区门口的路灯坏了，晚上一片漆黑', 'zh', 'other',
       (ARRAY[{departments}])[1 + g % {n_departments}],
       CASE WHEN random() < {open_share} THEN 'assigned' ELSE 'closed' END, g % 97 = 0,
       now(), now(), now() + interval '1 day',
       now() + (random() * 30 - 3) * interval '1 day'
FROM generate_series(1, {cases}) AS g;
VACUUM ANALYZE cases;
"""


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _time(call: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    for _ in range(3):
        await call()  # warm the pool and the caches
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.99) - 1)]


async def main(cases: int, open_share: float, runs: int) -> None:
    name = f"civicline_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    var = Path(tempfile.mkdtemp(prefix="civicline-bench-"))
    try:
        await asyncio.to_thread(database.upgrade, url)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=url,
            var_dir=var,
            model_dir=MODELS,
            secret_key="bench",
        )
        async with services_for(settings) as services:
            codes = sorted(services.taxonomy.departments)
            started = time.perf_counter()
            async with services.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                sql = FILL.format(
                    departments=", ".join(f"'{c}'" for c in codes),
                    n_departments=len(codes),
                    open_share=open_share,
                    cases=cases,
                )
                for statement in sql.split(";"):
                    if statement.strip():
                        await conn.execute(text(statement))
            print(f"filled {cases:,} cases ({open_share:.0%} awaiting a reply) "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
            department = "housing_construction"
            boss = await create_user(
                services.uow(), services.taxonomy, "boss", PASSWORD, Role.SUPERVISOR, None,
                now=utcnow(),
            )  # fmt: skip
            clerk = await create_user(
                services.uow(), services.taxonomy, "clerk", PASSWORD, Role.STAFF, department,
                now=utcnow(),
            )  # fmt: skip
            print(f"\nqueue page data, first page of 50, {runs} runs (median / p99, ms):")
            for label, user, query in [
                ("all departments", boss, QueueFilter()),
                ("all, overdue only", boss, QueueFilter(overdue=True)),
                ("all, urgent only", boss, QueueFilter(urgent=True)),
                ("all, word search", boss, QueueFilter(text="幸福路123号")),
                ("one department", clerk, QueueFilter()),
                ("one dept, overdue only", clerk, QueueFilter(overdue=True)),
            ]:

                def page(user=user, query=query):  # type: ignore[no-untyped-def]
                    return queue_screen(query, user=user, uow=services.uow(), now=utcnow())

                median, p99 = await _time(page, runs)
                found = await page()
                print(f"  {label:<24}{median:>8.2f} / {p99:>7.2f}   ({found.total:,} cases)")

            app = create_app(settings, services)
            app.state.services = services
            transport = httpx.ASGITransport(app=app)
            print(f"\nGET /console/queue over HTTP in process, {runs} runs (median / p99, ms):")
            for username in ("boss", "clerk"):
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                    form = await c.get("/console/login")
                    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
                    assert token
                    signed = await c.post(
                        "/console/login",
                        data={"csrf": token[1], "username": username, "password": PASSWORD},
                    )
                    assert signed.status_code == 303, signed.status_code

                    async def get(client: httpx.AsyncClient = c) -> None:
                        answer = await client.get("/console/queue")
                        assert answer.status_code == 200

                    median, p99 = await _time(get, runs)
                    print(f"  {username:<24}{median:>8.2f} / {p99:>7.2f}")
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--open-share", type=float, default=0.03)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.open_share, args.runs))
