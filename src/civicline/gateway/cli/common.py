"""What the command groups share: the settings, logging configured, and the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from civicline.domain.errors import InvalidInput
from civicline.domain.taxonomy import Taxonomy
from civicline.gateway import logs
from civicline.gateway.settings import Settings
from civicline.storage import database
from civicline.storage.base import UnitOfWork
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.unit_of_work import SqlUnitOfWork


def configured() -> Settings:
    """The settings from the environment, with logging configured as they say."""
    settings = Settings()
    logs.configure(settings.log_level)
    return settings


def taxonomy_of(settings: Settings) -> Taxonomy:
    """The city's departments and categories, or a clear error exit."""
    try:
        return load_taxonomy(settings.taxonomy_path, settings.nlu_training_dir, settings.units_path)
    except InvalidInput as exc:
        fail(str(exc))


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Callable[[], UnitOfWork]]:
    engine = database.create_engine(settings.db_url)
    sessions = database.session_factory(engine)
    try:
        yield lambda: SqlUnitOfWork(sessions)
    finally:
        await engine.dispose()


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def echo_by_category(counts: Counter[str]) -> None:
    """One line: how many were imported in each category, the most first."""
    if counts:
        shown = ", ".join(f"{code} {n}" for code, n in counts.most_common())
        typer.echo(f"imported by category: {shown}")


def progress_bar(enabled: bool = True, *, elapsed: bool = False) -> Progress:
    """A progress line on stderr, gone when done (stdout stays the command's output)."""
    columns: list[ProgressColumn] = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if elapsed:
        columns.append(TimeElapsedColumn())
    return Progress(*columns, console=Console(stderr=True), transient=True, disable=not enabled)
