"""Shared fixtures: SQLite and PostgreSQL databases, embedded and real Redis, the services.

The real PostgreSQL and Redis come from CIVICLINE_TEST_POSTGRES_URL and
CIVICLINE_TEST_REDIS_URL (defaults: this machine's). When one is unreachable its tests skip,
unless CIVICLINE_REQUIRE_SERVICES=1 (CI sets it): then they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.gateway.bootstrap import Services
from civicline.storage import database
from civicline.storage.redis_server import EmbeddedRedis
from civicline.storage.tables import Base
from tests.support.places import Places, SqlUnitOfWorkFactory

# The real mail servers' fixtures (dovecot, smtp_sink) for the letters' tests.
pytest_plugins = ["tests.mailserver"]

POSTGRES_URL = os.environ.get(
    "CIVICLINE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CIVICLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("CIVICLINE_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc!r}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def terminate_backends(url: str) -> int:
    """End every other session on ``url``'s database (pg_terminate_backend), as an operator
    or a failover would; how many there were."""
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
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
        conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable("PostgreSQL", exc)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the real PostgreSQL, migrated once, dropped at the end."""
    with fresh_postgres() as url:
        database.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained NLU model for the whole run."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'civicline.db'}"
        database.upgrade(url)
        yield url
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    asyncio.run(truncate_database(url))


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


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = database.create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "real"])
async def redis_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A clean Redis: the embedded server, then the real one."""
    if request.param == "embedded":
        url = request.getfixturevalue("embedded_redis").url
    else:
        url = REDIS_URL
    async with _flushed(url):
        yield url


@pytest.fixture
async def real_redis() -> AsyncIterator[str]:
    """The real Redis alone, flushed before and after."""
    async with _flushed(REDIS_URL):
        yield REDIS_URL


@asynccontextmanager
async def _flushed(url: str) -> AsyncIterator[None]:
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
    except (OSError, aioredis.ConnectionError) as exc:
        await client.aclose()
        _unavailable("Redis", exc)
    yield
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def places(db_url: str, tmp_path: Path, model_dir: Path, embedded_redis: EmbeddedRedis) -> Places:
    return Places(db_url, tmp_path, model_dir, embedded_redis)


@pytest.fixture
async def services(places: Places) -> AsyncIterator[Services]:
    """The gateway's services on this test's database and a clean embedded Redis."""
    async with places.services() as built:
        yield built
