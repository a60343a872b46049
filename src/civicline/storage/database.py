"""The database engine and migrations, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from civicline.domain.text import flaw

MIGRATIONS = Path(__file__).parent / "migrations"


class UnstorableText(ValueError):
    """A bound string that no database can store. Says which parameter and why, never the
    text: the driver's own error (asyncpg's) would quote it."""


def create_engine(url: str, *, pool_size: int = 10, **options: Any) -> AsyncEngine:
    """An engine whose errors never carry bound values (complaint text, phone numbers): its
    messages leave them out (``hide_parameters``), and strings no database can store are
    refused before a driver quotes them in its error. SQLite refuses them like PostgreSQL.
    ``options`` go to PostgreSQL's engine (``create_intake_engine``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            hide_parameters=True,
            **({"pool_pre_ping": True} | options),
        )
        event.listen(engine.sync_engine, "handle_error", _recognise_lost_connections)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_unstorable)
    event.listen(engine.sync_engine, "handle_error", _without_row_values)
    return engine


def create_intake_engine(url: str) -> AsyncEngine | None:
    """PostgreSQL: the inbox writer's own engine (``storage/intake.py``), in autocommit mode
    and without a pre-ping; its flushes run one at a time, so two connections are plenty.
    None for SQLite, where the writer shares the one engine."""
    if make_url(url).get_backend_name() == "sqlite":
        return None
    return create_engine(url, pool_size=2, pool_pre_ping=False, isolation_level="AUTOCOMMIT")


def _without_row_values(context: ExceptionContext) -> None:
    """PostgreSQL's DETAIL quotes the row or the key a statement broke ("Failing row contains
    (…)", "Key (address)=(+86…) already exists"), and asyncpg prints it with the error: it is
    dropped from every error of the chain (the constraint's name says enough)."""
    error: BaseException | None = context.original_exception
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "detail", None):
            error.detail = None  # type: ignore[attr-defined]
        error = error.__cause__ or error.__context__


def _refuse_unstorable(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    strings = list(_strings(parameters))
    if flaw("".join(strings)) is None:  # one scan in C for the common case
        return
    problem = next(filter(None, map(flaw, strings)))
    raise UnstorableText(f"a bound string {problem}")


def _strings(parameters: Any) -> Iterator[str]:
    """The strings among a statement's parameters: one row (a tuple or a dict) or many."""
    for value in parameters.values() if isinstance(parameters, Mapping) else parameters or ():
        if type(value) is str:
            yield value
        elif isinstance(value, Mapping):
            yield from (v for v in value.values() if type(v) is str)
        elif isinstance(value, (list, tuple)):
            yield from (v for v in value if type(v) is str)


# How asyncpg reports a connection the server ended (pg_terminate_backend, a restart, a
# failover). The server's last message, FATAL 57P01, often reaches an idle pooled connection a
# loop turn before the end of the socket: asyncpg, given a message nobody asked for, leaves the
# protocol in its error state (2), and the next statement on it, the first of a unit of work
# just after the pre-ping passed, fails with ``InternalClientError: cannot switch to state 12;
# another operation (2) is in progress``. No task shares a connection (a plain loop of one
# session per task shows it); SQLAlchemy counts such errors as disconnects only when the
# connection already reads as closed, so all of them are counted here, pre-ping included.
_LOST = (
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,  # class 08, "connection was closed in the middle of ..."
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


def _recognise_lost_connections(context: ExceptionContext) -> None:
    cause: BaseException | None = context.original_exception
    while cause is not None:
        if isinstance(cause, _LOST):
            context.is_disconnect = True
            return
        cause = cause.__cause__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def unreachable(exc: BaseException) -> bool:
    """The database could not be reached or used at all: no statement of a batch is to blame."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OSError, TimeoutError, OperationalError, PoolTimeout))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; blocking, so call it outside the event loop."""
    if make_url(url).get_backend_name() == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
