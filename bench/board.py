"""The public board at a million cases (a tenth of them published), on PostgreSQL.

    .venv/bin/python bench/board.py [--cases 1000000] [--published 100000] [--runs 60]
                                    [--keep] [--reuse] [--no-http]

Creates ``civicline_board_bench`` on 127.0.0.1:5432 (dropped at the end unless ``--keep``;
``--reuse`` measures the one left behind), migrates it and fills it with bench/rates.py's year
of cases; then ``--published`` of the closed ones get a board entry (their masked text and
search terms made by the real code, ``nlu.public_masking`` and ``domain.board``), a district
and a listed state, and ``VACUUM ANALYZE``.

(a) **Cold page cache**: what a board page costs when the gateway's page cache does not hold
    it: ``handlers.board.board_page`` (the SQL and the masking of the replies) for the first
    page, deeper pages, searches by common and rare words, unit, district and dates, and a
    case's page; ``--runs`` of each, p50 / p99 in milliseconds. Every run asks a different
    page or word, so no two runs read exactly the same rows.
(b) **Cached page**: a real ``civicline gateway`` on this database (one core), wrk on the
    other core for 10 s: ``GET /board`` answered from the page cache (req/s and the server's
    CPU per request), and the same with the cache off (``CIVICLINE_BOARD_CACHE_SECONDS=0``),
    every request then reaching PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import rates
from common import BIN, SERVER_CPU, BenchFailed, Processes, free_port, metered, wrk

from civicline.domain.board import BoardQuery, index_text, new_public_id, title_of
from civicline.gateway.bootstrap import load_classifier
from civicline.gateway.settings import Settings
from civicline.handlers import board
from civicline.nlu.entities import default_gazetteer
from civicline.nlu.public_masking import mask_for_board
from civicline.storage import database
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork

NAME = "civicline_board_bench"
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{NAME}"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("CIVICLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
WORDS_COMMON = ["路灯", "电梯 物业", "噪音", "工资", "公交 班次", "施工"]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _departments() -> None:
    engine = database.create_engine(URL)
    async with SqlUnitOfWork(database.session_factory(engine)) as uow:
        await uow.departments.sync(list(load_taxonomy().departments.values()))
        await uow.commit()
    await engine.dispose()


async def _publish(published: int) -> float:
    """Board entries for ``published`` closed cases, spread over the year."""
    conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
    started = time.perf_counter()
    districts = sorted(p.zh for p in default_gazetteer().places if p.type == "district")
    try:
        closed = await conn.fetchval("SELECT count(*) FROM cases WHERE status = 'closed'")
        step = max(1, closed // published)
        rows = await conn.fetch(
            "SELECT * FROM (SELECT id, summary, created_at, category, department, closed_at, "
            "row_number() OVER (ORDER BY id) AS n FROM cases WHERE status = 'closed') c "
            f"WHERE n % {step} = 0 LIMIT {published}"
        )
        made: dict[str, tuple[str, str, str]] = {}
        records = []
        for row in rows:
            summary = row["summary"]
            if summary not in made:
                masked = mask_for_board(summary)
                made[summary] = (title_of(masked), masked, index_text(masked))
            title, masked, terms = made[summary]
            records.append(
                (row["id"], new_public_id(), "listed", True, title, masked, terms,
                 row["created_at"], "closed", row["category"], row["department"],
                 districts[row["id"] % len(districts)], row["closed_at"], row["created_at"])
            )  # fmt: skip
        await conn.copy_records_to_table(
            "board_entries",
            records=records,
            columns=["case_id", "public_id", "state", "consent", "title", "text", "terms",
                     "filed_at", "status", "category", "department", "district",
                     "answered_at", "updated_at"],
        )  # fmt: skip
        await conn.execute(
            "UPDATE cases SET district = ($1::text[])[1 + id % $2], "  # as the entries say
            "resolution = '已派人现场处理，问题已解决，感谢您的监督。' "
            "WHERE id IN (SELECT case_id FROM board_entries)",
            districts,
            len(districts),
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    print(f"published {len(records):,} of {closed:,} closed cases in {seconds:.0f} s")
    return seconds


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
    return statistics.median(timings), p99


async def _time(runs: int, call: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    timings = []
    for i in range(runs):
        started = time.perf_counter()
        await call(i)
        timings.append((time.perf_counter() - started) * 1e3)
    return _percentiles(timings)


async def cold(runs: int) -> dict[str, tuple[float, float]]:
    engine = database.create_engine(URL)
    sessions = database.session_factory(engine)
    city = rates.CITY
    districts = sorted(p.zh for p in default_gazetteer().places if p.type == "district")
    departments = [
        r["department"]
        for r in await _fetch("SELECT DISTINCT department FROM cases WHERE department IS NOT NULL")
    ]
    public_ids = [
        r["public_id"]
        for r in await _fetch(f"SELECT public_id FROM board_entries ORDER BY random() LIMIT {runs}")
    ]
    last = rates.NOW.astimezone(city).date()

    cases: dict[str, Callable[[int], Awaitable[object]]] = {
        "first page": lambda i: board.board_page(
            BoardQuery(), uow=SqlUnitOfWork(sessions), city=city
        ),
        "pages 2-10": lambda i: board.board_page(
            BoardQuery(page=2 + i % 9), uow=SqlUnitOfWork(sessions), city=city
        ),
        "common words": lambda i: board.board_page(
            BoardQuery(words=WORDS_COMMON[i % len(WORDS_COMMON)], page=1 + i % 3),
            uow=SqlUnitOfWork(sessions),
            city=city,
        ),
        "rare words": lambda i: board.board_page(
            BoardQuery(words=f"编号 {random.randrange(997)}"),
            uow=SqlUnitOfWork(sessions),
            city=city,
        ),
        "no match": lambda i: board.board_page(
            BoardQuery(words=f"井盖{i}"), uow=SqlUnitOfWork(sessions), city=city
        ),
        "unit": lambda i: board.board_page(
            BoardQuery(department=departments[i % len(departments)]),
            uow=SqlUnitOfWork(sessions),
            city=city,
        ),
        "district + words": lambda i: board.board_page(
            BoardQuery(district=districts[i % len(districts)], words="路灯"),
            uow=SqlUnitOfWork(sessions),
            city=city,
        ),
        "a month": lambda i: board.board_page(
            BoardQuery(
                since=last - timedelta(days=30 * (1 + i % 11)),
                until=last - timedelta(days=30 * (i % 11)),
            ),
            uow=SqlUnitOfWork(sessions),
            city=city,
        ),
        "case page": lambda i: board.public_case(
            public_ids[i % len(public_ids)], uow=SqlUnitOfWork(sessions)
        ),
    }
    figures = {}
    for label, call in cases.items():
        await call(0)  # the statement compiled once, as in a running gateway
        figures[label] = await _time(runs, call)
        p50, p99 = figures[label]
        print(f"  {label:18} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    await engine.dispose()
    return figures


async def _fetch(sql: str) -> list[Any]:
    conn = await asyncpg.connect(URL.replace("+asyncpg", ""))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def cached(tmp: Path) -> None:
    procs = Processes(tmp)
    civicline = str(BIN / "civicline")
    env = os.environ | {
        "CIVICLINE_SECRET_KEY": "bench",
        "CIVICLINE_LOG_LEVEL": "WARNING",
        "CIVICLINE_VAR_DIR": str(tmp / "var"),
        "CIVICLINE_DATABASE_URL": URL,
        "CIVICLINE_REDIS_URL": REDIS_URL,
    }
    asyncio.run(load_classifier(Settings(var_dir=tmp / "var", secret_key="bench")))
    try:
        for label, seconds in (("cached", "60"), ("uncached", "0")):
            port = free_port()
            run_env = env | {"CIVICLINE_PORT": str(port), "CIVICLINE_BOARD_CACHE_SECONDS": seconds}
            procs.start("gateway", [civicline, "gateway"], run_env, tmp, cpu=SERVER_CPU)
            procs.wait_healthy("gateway", f"http://127.0.0.1:{port}/healthz", 180)
            url = f"http://127.0.0.1:{port}/board"
            wrk(url, ["get"], seconds=2, connections=20)  # warm up
            pid = procs.running["gateway"].pid
            metered(pid, label, lambda at=url: wrk(at, ["get"], seconds=10, connections=20))
            procs.stop("gateway")
    finally:
        procs.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--published", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    if not args.reuse:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        asyncio.run(_admin(f'CREATE DATABASE "{NAME}"'))
        database.upgrade(URL, rates.BEFORE_SUMMARY)
        rates.URL = URL
        asyncio.run(_departments())
        seconds = asyncio.run(rates._fill(args.cases))
        database.upgrade(URL)
        print(f"filled {args.cases:,} cases in {seconds:.0f} s")
        asyncio.run(_publish(args.published))
    try:
        print(f"cold page cache, {args.runs} runs each:")
        asyncio.run(cold(args.runs))
        if not args.no_http:
            with tempfile.TemporaryDirectory() as tmp:
                cached(Path(tmp))
    except BenchFailed as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if not args.keep:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
