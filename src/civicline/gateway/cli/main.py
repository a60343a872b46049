"""The ``civicline`` command line."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import typer
import uvicorn

from civicline.domain.staff import Role
from civicline.gateway import logs
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import Services, services_for, sync_departments, utcnow
from civicline.gateway.cli.hotline import hotline_app
from civicline.gateway.cli.nlu import nlu_app
from civicline.gateway.cli.telegram import telegram_app
from civicline.gateway.settings import Settings
from civicline.gateway.users import UserExists, create_user
from civicline.gateway.worker import build_worker, stop_worker
from civicline.storage import database
from civicline.storage.base import UnitOfWork
from civicline.storage.sql import SqlUnitOfWork
from civicline.storage.taxonomy_file import load_taxonomy

app = typer.Typer(
    help="Civicline: a city's multi-channel complaint gateway.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold complaint text
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(nlu_app, name="nlu")
app.add_typer(telegram_app, name="telegram")
app.add_typer(hotline_app, name="hotline")


def _settings() -> Settings:
    settings = Settings()
    logs.configure(settings.log_level)
    return settings


def _server(settings: Settings, services: Services | None) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, services),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    return uvicorn.Server(config)


@app.command()
def run() -> None:
    """Everything in one process on embedded defaults: migrate, train, serve and work."""
    settings = _settings()
    database.upgrade(settings.db_url)

    async def main() -> None:
        async with services_for(settings) as services:
            await _first_admin(services)
            worker = await build_worker(services)
            server = _server(settings, services)
            typer.echo(
                f"Civicline is up: citizens at {settings.public_base_url}/ , API docs at /docs"
            )
            work = asyncio.create_task(worker.async_run())
            try:
                await server.serve()
            finally:
                await stop_worker(worker, work)

    asyncio.run(main())


async def _first_admin(services: Services) -> None:
    async with services.uow() as uow:
        if await uow.staff.count():
            return
    password = secrets.token_urlsafe(12)
    await create_user(
        services.uow(), services.taxonomy, "admin", password, Role.ADMIN, None, now=services.now()
    )
    path = services.settings.var_dir / "admin-password.txt"
    path.write_text(password + "\n")
    path.chmod(0o600)
    typer.echo(f"Created staff account 'admin'; its password is in {path}")


@app.command()
def gateway() -> None:
    """Serve HTTP only (run workers separately with ``civicline worker``)."""
    settings = _settings()
    _server(settings, None).run()


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="stop when the queue is empty")] = False,
) -> None:
    """Process the job queue: inbound messages, deliveries and the sweeper."""
    settings = _settings()

    async def main() -> None:
        async with services_for(settings) as services:
            work = await build_worker(services, burst=burst)
            running = asyncio.create_task(work.async_run())
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            await stop_worker(work, running)

    asyncio.run(main())


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations up to REVISION and load the departments of the taxonomy."""
    settings = _settings()
    database.upgrade(settings.db_url, revision)

    async def main() -> None:
        async with _database(settings) as uow_factory:
            await sync_departments(uow_factory(), load_taxonomy(settings.taxonomy_path))

    asyncio.run(main())
    typer.echo("database schema is up to date")


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Callable[[], UnitOfWork]]:
    engine = database.create_engine(settings.db_url)
    sessions = database.session_factory(engine)
    try:
        yield lambda: SqlUnitOfWork(sessions)
    finally:
        await engine.dispose()


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="operator, staff, supervisor or admin")] = Role.STAFF,
    department: Annotated[str | None, typer.Option(help="department code (staff)")] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CIVICLINE_NEW_USER_PASSWORD",
        ),
    ] = "",
) -> None:
    """Create a staff account."""
    settings = _settings()

    async def main() -> None:
        async with _database(settings) as uow_factory:
            taxonomy = load_taxonomy(settings.taxonomy_path)
            await sync_departments(uow_factory(), taxonomy)
            await create_user(
                uow_factory(), taxonomy, username, password, role, department, now=utcnow()
            )

    try:
        asyncio.run(main())
    except (UserExists, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created {role} account {username}")
