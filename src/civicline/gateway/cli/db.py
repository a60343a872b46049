"""``civicline db``: the database schema."""

from __future__ import annotations

import asyncio

import typer

from civicline.gateway.bootstrap import sync_departments
from civicline.gateway.cli.common import configured, open_database
from civicline.storage import database
from civicline.storage.taxonomy_file import load_taxonomy

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations up to REVISION and load the departments of the taxonomy."""
    settings = configured()
    database.upgrade(settings.db_url, revision)

    async def main() -> None:
        async with open_database(settings) as uow_factory:
            await sync_departments(
                uow_factory(),
                load_taxonomy(
                    settings.taxonomy_path, settings.nlu_training_dir, settings.units_path
                ),
            )

    asyncio.run(main())
    typer.echo("database schema is up to date")
