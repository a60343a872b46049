"""``civicline users``: staff accounts."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from civicline.domain.accounts import Role
from civicline.gateway.bootstrap import sync_departments, utcnow
from civicline.gateway.cli.common import configured, open_database
from civicline.gateway.users import UserExists, create_user
from civicline.storage.taxonomy_file import load_taxonomy

users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="operator, staff, supervisor or admin")] = Role.STAFF,
    department: Annotated[str | None, typer.Option(help="department code (staff)")] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            help="unit code (supervisors, operators; default: the city): sees its subtree"
        ),
    ] = None,
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
    settings = configured()

    async def main() -> None:
        async with open_database(settings) as uow_factory:
            taxonomy = load_taxonomy(
                settings.taxonomy_path, settings.nlu_training_dir, settings.units_path
            )
            await sync_departments(uow_factory(), taxonomy)
            await create_user(
                uow_factory(),
                taxonomy,
                username,
                password,
                role,
                department,
                now=utcnow(),
                unit=unit,
            )

    try:
        asyncio.run(main())
    except (UserExists, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created {role} account {username}")
