"""The real services tests run against, and what tests do to them.

The real PostgreSQL and Redis come from CIVICLINE_TEST_POSTGRES_URL and
CIVICLINE_TEST_REDIS_URL (defaults: this machine's). When one is unreachable its tests skip,
unless CIVICLINE_REQUIRE_SERVICES=1 (CI sets it): then they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civicline.storage import database
from civicline.storage.tables import Base

POSTGRES_URL = os.environ.get(
    "CIVICLINE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CIVICLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("CIVICLINE_REQUIRE_SERVICES") == "1"


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc!r}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def terminate_backends(url: str) -> int:
    """End every other session on ``url``'s database (pg_terminate_backend), as an operator
    or a failover would; how many there were."""
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        ended = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return int(ended)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the real PostgreSQL (its URL), dropped afterwards."""
    admin = make_url(POSTGRES_URL)
    name = f"civicline_test_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(POSTGRES_URL), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_database(url: str) -> None:
    engine = database.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # Case numbers' day sequences (storage.case_numbers) live outside the tables.
        sequences = await conn.scalars(
            text("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'case_seq_%'")
        )
        for name in list(sequences):
            await conn.execute(text(f'DROP SEQUENCE "{name}"'))
    await engine.dispose()


@asynccontextmanager
async def flushed(url: str) -> AsyncIterator[None]:
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        unavailable("Redis", exc)
    yield
    await client.flushdb()
    await client.aclose()


_SQLITE_TEMPLATES: dict[str | None, Path] = {}


def _sqlite_template(request: pytest.FixtureRequest) -> Path:
    """A SQLite file migrated once per run (and per units file, which migration 0013 reads),
    copied for each test: migrating took 0.8 s of CPU a test, hundreds of times a run."""
    units = os.environ.get("CIVICLINE_UNITS_PATH")
    template = _SQLITE_TEMPLATES.get(units)
    if template is None:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        template = factory.mktemp("sqlite-template") / "civicline.db"
        database.upgrade(f"sqlite+aiosqlite:///{template}")
        with sqlite3.connect(template) as connection:  # everything in the one file
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        _SQLITE_TEMPLATES[units] = template
    return template


@contextmanager
def migrated_database(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> Iterator[str]:
    """A migrated database with no rows (its URL): a new SQLite file under ``tmp_path``, or
    the run's PostgreSQL database (the ``postgres_database`` fixture), emptied afterwards."""
    if kind == "sqlite":
        path = tmp_path / "civicline.db"
        shutil.copyfile(_sqlite_template(request), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    asyncio.run(truncate_database(url))
