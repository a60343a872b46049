"""Where a test's gateway lives (its database, var dir, the shared model and Redis), its
settings, and a unit-of-work factory over a test database. The fixtures are in conftest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.gateway.bootstrap import Services, services_for
from civicline.gateway.settings import Settings
from civicline.storage import database
from civicline.storage.redis_server import EmbeddedRedis
from civicline.storage.unit_of_work import SqlUnitOfWork


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = database.session_factory(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)


def make_settings(tmp_path: Path, model_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "var_dir": tmp_path / "var",
        "model_dir": model_dir,
        "secret_key": "test-secret-key",
        "sweep_grace_seconds": 0,
        # A full collection per start-up over the whole suite's heap: half the e2e tests' CPU.
        "gc_freeze": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@dataclass
class Places:
    """Where a test's services live: its database, its var dir, the shared model and Redis."""

    db_url: str
    tmp_path: Path
    model_dir: Path
    redis: EmbeddedRedis

    @asynccontextmanager
    async def services(self, **overrides: object) -> AsyncIterator[Services]:
        """The gateway's services here, on a clean embedded Redis, with settings overridden."""
        client = aioredis.Redis.from_url(self.redis.url)
        await client.flushdb()
        await client.aclose()
        settings = make_settings(
            self.tmp_path,
            self.model_dir,
            database_url=self.db_url,
            redis_url=self.redis.url,
            **overrides,
        )
        async with services_for(settings) as built:
            yield built
