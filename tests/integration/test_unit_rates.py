"""Rates roll up the units' tree on SQLite and PostgreSQL: the hand-counted month of
tests/support/rates_cases.py with its housing cases held by 宁国市's housing bureau and its
transport cases by 河沥溪街道's office; every level counts each case once, in the unit holding
it, and a supervisor reads their subtree only."""

from __future__ import annotations

from datetime import date

import pytest

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.errors import NotAllowed
from civicline.domain.taxonomy import Department
from civicline.handlers.rates import RateLine, rates_report
from civicline.handlers.unit_rates import Units
from tests.support.factories import DEPARTMENTS, T0
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.rates_cases import (
    BY_DEPARTMENT,
    CITY,
    HOUSING,
    NOW,
    TOTAL,
    TRANSPORT,
    store_november,
)
from tests.support.units import SMALL_TREE

TREE = SMALL_TREE
COUNTY_HOUSING, TOWNSHIP = "341881.housing_construction", "341881003.office"
HELD_BY = {HOUSING: COUNTY_HOUSING, TRANSPORT: TOWNSHIP}
UNIT_DEPARTMENTS = [
    Department(COUNTY_HOUSING, "宁国市住建局", "Ningguo Housing"),
    Department(TOWNSHIP, "河沥溪街道办事处", "Helixi Office"),
    Department("341802.housing_construction", "宣州区住建局", "Xuanzhou Housing"),
]
UNITS = Units(TREE, frozenset(d.code for d in [*DEPARTMENTS, *UNIT_DEPARTMENTS]))
BOSS = StaffUser("boss", "x", Role.SUPERVISOR, T0, id=1)
NINGGUO_LEAD = StaffUser(
    "ng",
    "x",
    Role.SUPERVISOR,
    T0,
    id=2,
    unit="341881",
    scope="341800/341881/",  # as the account is loaded: its subtree and its departments
    reach=frozenset({COUNTY_HOUSING, TOWNSHIP}),
)
CLERK = StaffUser("li", "x", Role.STAFF, T0, department=COUNTY_HOUSING, id=3)
NOVEMBER = {"since": date(2026, 11, 1), "until": date(2026, 11, 30)}


def _sum(*rows: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sum(values) for values in zip(*rows, strict=True))


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await u.departments.sync([*DEPARTMENTS, *UNIT_DEPARTMENTS])
        await u.commit()
    await store_november(uow_factory(), HELD_BY)
    return uow_factory


def _lines(lines: list[RateLine], group: str) -> dict[str | None, tuple[int, ...]]:
    return {line.key: tuple(line.count_values().values()) for line in lines if line.group == group}


async def _report(uow: SqlUnitOfWorkFactory, user: StaffUser, unit: str | None) -> list[RateLine]:
    report = await rates_report(
        user=user,
        uow=uow(),
        now=NOW,
        city=CITY,
        groups=("total", "unit", "department"),
        period="all",
        unit=unit,
        units=UNITS,
        **NOVEMBER,  # type: ignore[arg-type]
    )
    assert report.unit is not None
    return report.lines


async def test_every_level_counts_each_case_once_in_the_unit_holding_it(
    uow: SqlUnitOfWorkFactory,
) -> None:
    county = _sum(BY_DEPARTMENT[HOUSING], BY_DEPARTMENT[TRANSPORT])
    city = await _report(uow, BOSS, None)
    assert _lines(city, "total") == {None: TOTAL}
    # The city's own line: the cases in triage; 宁国市 holds the rest; 宣州区 none.
    assert _lines(city, "unit") == {"341800": BY_DEPARTMENT[None], "341881": county}
    assert [line.key for line in city if line.group == "unit"] == ["341800", "341881"]

    ningguo = await _report(uow, BOSS, "341881")
    assert _lines(ningguo, "total") == {None: county}
    assert _lines(ningguo, "unit") == {
        "341881": BY_DEPARTMENT[HOUSING],
        "341881003": BY_DEPARTMENT[TRANSPORT],
    }
    assert set(_lines(ningguo, "department")) == {COUNTY_HOUSING, TOWNSHIP}

    township = await _report(uow, BOSS, "341881003")
    assert _lines(township, "total") == {None: BY_DEPARTMENT[TRANSPORT]}
    assert _lines(township, "unit") == {"341881003": BY_DEPARTMENT[TRANSPORT]}

    assert await _report(uow, BOSS, "341802") == []  # another county: nothing of it


async def test_a_county_supervisor_reads_their_subtree_only(uow: SqlUnitOfWorkFactory) -> None:
    own = await _report(uow, NINGGUO_LEAD, None)  # their unit by default
    assert _lines(own, "unit") == {
        "341881": BY_DEPARTMENT[HOUSING],
        "341881003": BY_DEPARTMENT[TRANSPORT],
    }
    assert _lines(await _report(uow, NINGGUO_LEAD, "341881003"), "total") == {
        None: BY_DEPARTMENT[TRANSPORT]
    }
    for elsewhere in ("341802", "341800"):
        with pytest.raises(NotAllowed):
            await _report(uow, NINGGUO_LEAD, elsewhere)
    with pytest.raises(NotAllowed):
        await _report(uow, CLERK, "341881")


async def test_a_county_supervisor_s_plain_report_is_their_subtree(
    uow: SqlUnitOfWorkFactory,
) -> None:
    report = await rates_report(
        user=NINGGUO_LEAD,
        uow=uow(),
        now=NOW,
        city=CITY,
        period="all",
        units=UNITS,
        **NOVEMBER,  # type: ignore[arg-type]
    )
    assert report.unit is not None and report.unit.unit.code == "341881"
    assert _lines(report.lines, "total") == {
        None: _sum(BY_DEPARTMENT[HOUSING], BY_DEPARTMENT[TRANSPORT])
    }
    assert set(_lines(report.lines, "department")) == {COUNTY_HOUSING, TOWNSHIP}
    with pytest.raises(NotAllowed):
        await rates_report(
            user=NINGGUO_LEAD,
            uow=uow(),
            now=NOW,
            city=CITY,
            department=HOUSING,  # the city's bureau: not theirs
            units=UNITS,
        )
