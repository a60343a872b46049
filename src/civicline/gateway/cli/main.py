"""The ``civicline`` command line: ``run``, ``gateway`` and ``worker`` here, a module per group
(``db``, ``users``, ``nlu``, ``telegram``, ``hotline``, ``places``)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from typing import Annotated, Any

import typer
import uvicorn
import uvloop

from civicline.domain.accounts import Role
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import Services, services_for
from civicline.gateway.cli.common import configured
from civicline.gateway.cli.db import db_app
from civicline.gateway.cli.hotline import hotline_app
from civicline.gateway.cli.nlu import nlu_app
from civicline.gateway.cli.places import places_app
from civicline.gateway.cli.telegram import telegram_app
from civicline.gateway.cli.users import users_app
from civicline.gateway.settings import Settings
from civicline.gateway.stopping import Server, StopSignals
from civicline.gateway.users import create_user
from civicline.gateway.worker import build_worker, stop_worker
from civicline.storage import database

app = typer.Typer(
    help="Civicline: a city's multi-channel complaint gateway.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold complaint text
)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(nlu_app, name="nlu")
app.add_typer(telegram_app, name="telegram")
app.add_typer(hotline_app, name="hotline")
app.add_typer(places_app, name="places")


def _server(settings: Settings, services: Services | None) -> Server:
    config = uvicorn.Config(
        create_app(settings, services),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # the app believes only CIVICLINE_TRUSTED_PROXIES (gateway/proxies)
    )
    return Server(config)


@app.command()
def run() -> None:
    """Everything in one process on embedded defaults: migrate, train, serve and work.

    TERM, INT or HUP stop it, and everything it started (worker, embedded Redis)."""
    settings = configured()
    database.upgrade(settings.db_url)

    async def main() -> None:
        with StopSignals().caught() as signals:
            async with services_for(settings) as services:
                await _first_admin(services)
                worker = await build_worker(services)
                server = _server(settings, services)
                typer.echo(
                    f"Civicline is up: citizens at {settings.public_base_url}/ , API docs at /docs"
                )
                work = asyncio.create_task(worker.async_run())
                try:
                    await signals.serve(server)
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


def serve_on_uvloop(main: Coroutine[Any, Any, None]) -> None:
    """Run an HTTP server's event loop on uvloop, as ``uvicorn --loop uvloop`` would (its
    default when installed): asyncio's own loop cost a web chat request about 0.1 ms more of
    CPU (README, benchmarks)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


@app.command()
def gateway() -> None:
    """Serve HTTP only (run workers separately with ``civicline worker``)."""
    settings = configured()

    async def main() -> None:
        with StopSignals().caught() as signals:
            await signals.serve(_server(settings, None))

    serve_on_uvloop(main())


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="stop when the queue is empty")] = False,
) -> None:
    """Process the job queue: inbound messages, deliveries and the sweeper."""
    settings = configured()

    async def main() -> None:
        with StopSignals().caught() as signals:
            async with services_for(settings) as services:
                work = await build_worker(services, burst=burst)
                running = asyncio.create_task(work.async_run())
                await signals.wait(running)
                await stop_worker(work, running)

    asyncio.run(main())
