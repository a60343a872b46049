"""Shared fixtures: SQLite and PostgreSQL databases, embedded and real Redis, the services, the
real mail servers. What they are built from lives in tests/support/ (services.py: the real
services' URLs and what tests do to them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.gateway import auth
from civicline.gateway.bootstrap import Services
from civicline.storage import database
from civicline.storage.redis_server import EmbeddedRedis
from tests.support.mailserver import Dovecot, SmtpSink
from tests.support.places import Places, SqlUnitOfWorkFactory
from tests.support.services import (
    REDIS_URL,
    flushed,
    fresh_postgres,
    migrated_database,
)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """Staff passwords hashed at argon2's lowest cost in this process: the defaults (64 MiB,
    three passes) take tens of milliseconds a hash, and the suite creates thousands of accounts.
    A hash carries its own cost, so verifying works as in production."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


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
    with migrated_database(request, tmp_path, request.param) as url:
        yield url


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
    async with flushed(url):
        yield url


@pytest.fixture
async def real_redis() -> AsyncIterator[str]:
    """The real Redis alone, flushed before and after."""
    async with flushed(REDIS_URL):
        yield REDIS_URL


@pytest.fixture
def places(db_url: str, tmp_path: Path, model_dir: Path, embedded_redis: EmbeddedRedis) -> Places:
    return Places(db_url, tmp_path, model_dir, embedded_redis)


@pytest.fixture
async def services(places: Places) -> AsyncIterator[Services]:
    """The gateway's services on this test's database and a clean embedded Redis."""
    async with places.services() as built:
        yield built


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
