"""The units tree in the console (admins): list it, rename a unit, add one, and set which
departments a unit has. Changes are written to the units file (``CIVICLINE_UNITS_PATH``, the
source of truth, keeping its opening comments), checked by loading it again (a bad change is
undone), then synced to the database and applied to this process's routing at once; other
processes (workers, more gateways) read the file at their next start.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from civicline.domain.accounts import Role
from civicline.domain.errors import DomainError, InvalidInput, NotAllowed
from civicline.domain.taxonomy import Taxonomy
from civicline.domain.units import OFFICE, Level, Unit, UnitTree
from civicline.gateway.bootstrap import Services, sync_departments
from civicline.gateway.console.errors import error_page
from civicline.gateway.console.web import (
    PREFIX,
    ViewerDep,
    checked_form,
    redirect,
    render,
    services_of,
)
from civicline.gateway.settings import Settings
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.units_file import save_units

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Code = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


def _tree(services: Services) -> UnitTree:
    tree = services.taxonomy.units
    if tree is None:
        raise InvalidInput("no units file is set up")
    return tree


def _admin(role: Role) -> None:
    if role != Role.ADMIN:
        raise NotAllowed("only admins edit the units")


async def _apply(services: Services, tree: UnitTree) -> None:
    """Write the tree, load it back with the taxonomy (undoing a change that does not load),
    sync the database, and route by it in this process."""
    taxonomy = await asyncio.to_thread(_write_and_load, services.settings, tree)
    await sync_departments(services.uow(), taxonomy)
    services.taxonomy = taxonomy


def _write_and_load(settings: Settings, tree: UnitTree) -> Taxonomy:
    """File work, off the event loop: write the tree, read the taxonomy back with it."""
    path = settings.units_path
    before = path.read_text(encoding="utf-8")
    save_units(tree, path)
    try:
        return load_taxonomy(settings.taxonomy_path, settings.nlu_training_dir, path)
    except DomainError:
        path.write_text(before, encoding="utf-8")
        raise


@router.get("/units", response_class=HTMLResponse)
async def units_page(request: Request, who: ViewerDep) -> Response:
    services = services_of(request)
    try:
        _admin(who.user.role)
        tree = _tree(services)
    except DomainError as exc:
        return error_page(request, who, exc)
    kinds = [OFFICE, *(k.kind for k in services.taxonomy.county_departments)]
    return render(
        request,
        "console_units.html",
        {"tree": tree, "kinds": kinds, "levels": [lv.value for lv in Level if lv != Level.CITY]},
        who=who,
    )


@router.post("/units/{code}/rename")
async def rename(request: Request, code: Code, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        _admin(who.user.role)
        tree = _tree(services)
        unit = tree.unit(code)
        zh, en = form.get("zh", "").strip(), form.get("en", "").strip()
        if not zh or len(zh) > 100 or len(en) > 200:
            raise InvalidInput("a unit needs a Chinese name (at most 100 characters)")
        await _apply(services, tree.replaced(replace(unit, name_zh=zh, name_en=en or zh)))
    except DomainError as exc:
        return error_page(request, who, exc)
    return redirect(PREFIX + "/units")


@router.post("/units/{code}/departments")
async def departments(request: Request, code: Code, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        _admin(who.user.role)
        tree = _tree(services)
        unit = tree.unit(code)
        if unit.parent is None:
            raise InvalidInput("the city's departments are the taxonomy file's")
        known = [OFFICE, *(k.kind for k in services.taxonomy.county_departments)]
        chosen = tuple(k for k in known if form.get(f"kind_{k}") == "on")
        await _apply(services, tree.replaced(replace(unit, kinds=chosen)))
    except DomainError as exc:
        return error_page(request, who, exc)
    return redirect(PREFIX + "/units")


@router.post("/units")
async def add(request: Request, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        _admin(who.user.role)
        tree = _tree(services)
        parent = tree.unit(form.get("parent", ""))
        code, zh = form.get("code", "").strip(), form.get("zh", "").strip()
        if not code or len(code) > 32 or not code.isalnum() or code in tree.units:
            raise InvalidInput("a new unit needs a new code of letters and digits")
        if not zh or len(zh) > 100:
            raise InvalidInput("a unit needs a Chinese name (at most 100 characters)")
        try:
            level = Level(form.get("level", ""))
        except ValueError:
            raise InvalidInput("level is county, township or village") from None
        unit = Unit(
            code=code,
            name_zh=zh,
            name_en=form.get("en", "").strip()[:200] or zh,
            level=level,
            parent=parent.code,
            path=f"{parent.path}{code}/",
        )
        await _apply(services, tree.replaced(unit))
    except DomainError as exc:
        return error_page(request, who, exc)
    return redirect(PREFIX + "/units")
