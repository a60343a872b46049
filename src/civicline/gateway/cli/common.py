"""What the command groups share: the settings, logging configured, and the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from civicline.gateway import logs
from civicline.gateway.settings import Settings
from civicline.storage import database
from civicline.storage.base import UnitOfWork
from civicline.storage.sql import SqlUnitOfWork


def configured() -> Settings:
    """The settings from the environment, with logging configured as they say."""
    settings = Settings()
    logs.configure(settings.log_level)
    return settings


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Callable[[], UnitOfWork]]:
    engine = database.create_engine(settings.db_url)
    sessions = database.session_factory(engine)
    try:
        yield lambda: SqlUnitOfWork(sessions)
    finally:
        await engine.dispose()
