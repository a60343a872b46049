"""Admins edit the units tree in the console (/console/units): rename a unit, add one, set a
unit's departments. Each change is written to the units file, synced to the database and
routes this gateway's cases at once; others may only look (403)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from civicline.storage.units_file import DEFAULT_UNITS, load_units
from tests.support.console import console, csrf_of, post_form
from tests.support.gateway import PASSWORD, Gateway, serving
from tests.support.places import Places

PAGE = "/console/units"


@pytest.fixture
async def edited(places: Places, tmp_path: Path) -> AsyncIterator[tuple[Gateway, Path]]:
    units = tmp_path / "units.yml"
    shutil.copy(DEFAULT_UNITS, units)
    async with places.services(units_path=units) as services, serving(services) as gateway:
        await create_user(
            services.uow(), services.taxonomy, "root", PASSWORD, Role.ADMIN, None,
            now=services.now(),
        )  # fmt: skip
        yield gateway, units


async def test_an_admin_renames_adds_and_sets_departments(
    edited: tuple[Gateway, Path],
) -> None:
    gateway, units = edited
    admin = await console(gateway, "root")
    page = await admin.get(PAGE)
    assert page.status_code == 200 and "河沥溪街道" in page.text

    renamed = await post_form(
        admin, PAGE, f"{PAGE}/341881003/rename", zh="河沥溪街道（新）", en="Helixi"
    )
    assert renamed.status_code == 303, renamed.text
    added = await post_form(
        admin, PAGE, PAGE, parent="341881003", level="village", code="341881003201",
        zh="东城社区", en="Dongcheng Community",
    )  # fmt: skip
    assert added.status_code == 303, added.text
    # 宁国市 keeps only two of its bureaus; the new community's office is there already
    kinds = await post_form(
        admin, PAGE, f"{PAGE}/341881/departments", kind_human_resources="on", kind_education="on"
    )
    assert kinds.status_code == 303, kinds.text

    tree = load_units(units)  # the file holds the changes, its source note kept
    assert units.read_text(encoding="utf-8").startswith("# source:")
    assert tree.unit("341881003").name_zh == "河沥溪街道（新）"
    assert tree.unit("341881003201").path == "341800/341881/341881003/341881003201/"
    assert tree.unit("341881").kinds == ("education", "human_resources")
    taxonomy = gateway.services.taxonomy  # routes by them at once
    assert taxonomy.department("341881003201.office").name_zh == "东城社区居委会"
    assert "341881.city_management" not in taxonomy.departments
    # a matter of a kind 宁国市 no longer has goes up to the city's bureau
    assert taxonomy.routed("urban_rural_construction", None, "341881003") == "housing_construction"
    assert taxonomy.routed("labour_social_security", None, "341881003") == "341881.human_resources"
    async with gateway.services.uow() as u:
        stored = {unit.code: unit for unit in await u.units.all()}
        depts = {d.code: d for d in await u.departments.all()}
    assert stored["341881003"].name_zh == "河沥溪街道（新）"
    assert depts["341881003201.office"].unit == "341881003201"
    page = await admin.get(PAGE)
    assert "东城社区" in page.text

    # a unit whose parent does not exist, or a code taken, is refused and nothing changes
    before = units.read_text(encoding="utf-8")
    taken = await post_form(
        admin, PAGE, PAGE, parent="341881", level="township", code="341881003", zh="x"
    )
    assert taken.status_code == 422
    wrong = await post_form(admin, PAGE, PAGE, parent="341881", level="city", code="9", zh="x")
    assert wrong.status_code == 422
    assert units.read_text(encoding="utf-8") == before


async def test_only_admins_edit_units(edited: tuple[Gateway, Path]) -> None:
    gateway, units = edited
    before = units.read_text(encoding="utf-8")
    boss = await console(gateway, "boss")  # the city's supervisor, not an admin
    assert (await boss.get(PAGE)).status_code == 403
    token = csrf_of((await boss.get("/console/queue")).text)
    answer = await boss.post(f"{PAGE}/341881/rename", data={"csrf": token, "zh": "x"})
    assert answer.status_code == 403
    assert units.read_text(encoding="utf-8") == before
