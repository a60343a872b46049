"""Migration 0013 (units) on a database filled by the schema before it (0014): every department and
staff account goes to the city unit, cases keep everything, and the start-up sync then fills
the rest of the tree and the counties' and townships' departments."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from civicline.gateway.bootstrap import sync_departments
from civicline.storage import database
from civicline.storage.tables import UTCDateTime
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.services import fresh_postgres

CITY_ONLY = load_taxonomy(units_path=None)
TAXONOMY = load_taxonomy()
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def before_units(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own at revision 0014 (handing), the one before units."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        database.upgrade(url, "0014")
        yield url
        return
    with fresh_postgres() as url:
        database.upgrade(url, "0014")
        yield url


async def _fill_the_old_schema(url: str) -> None:
    engine = database.create_engine(url)
    async with engine.begin() as c:
        await c.execute(
            sa.text("INSERT INTO departments (code, name_zh, name_en) VALUES (:c, :z, :e)"),
            [{"c": d.code, "z": d.name_zh, "e": d.name_en} for d in CITY_ONLY.departments.values()],
        )
        staff = sa.table(
            "staff_users",
            *(sa.column(n) for n in ("username", "password_hash", "role", "department", "active")),
            sa.column("created_at", UTCDateTime()),
        )
        await c.execute(
            sa.insert(staff),
            [
                {"username": "clerk", "password_hash": "h", "role": "staff",
                 "department": "human_resources", "active": True, "created_at": NOW},
                {"username": "lead", "password_hash": "h", "role": "supervisor",
                 "department": None, "active": True, "created_at": NOW},
            ],
        )  # fmt: skip
        citizen = sa.table(
            "citizens", sa.column("language"), sa.column("created_at", UTCDateTime())
        )
        await c.execute(sa.insert(citizen).values(language="zh", created_at=NOW))
        cases = sa.table(
            "cases",
            *(
                sa.column(n)
                for n in ("number", "citizen_id", "channel", "reply_to", "summary", "language")
            ),
            *(sa.column(n) for n in ("category", "department", "status", "urgent", "district")),
            *(
                sa.column(n, UTCDateTime())
                for n in ("created_at", "updated_at", "accept_due_at", "complete_due_at")
            ),
        )
        await c.execute(
            sa.insert(cases).values(
                number="261206-00001", citizen_id=1, channel="webchat", reply_to="chat-1",
                summary="工地拖欠工资三个月", language="zh", category="labour_social_security",
                department="human_resources", status="assigned", urgent=False, district=None,
                created_at=NOW, updated_at=NOW, accept_due_at=NOW + timedelta(days=1),
                complete_due_at=NOW + timedelta(days=10),
            )
        )  # fmt: skip
    await engine.dispose()


async def test_existing_departments_staff_and_cases_go_to_the_city(before_units: str) -> None:
    await _fill_the_old_schema(before_units)
    await asyncio.to_thread(database.upgrade, before_units, "0013")

    engine = database.create_engine(before_units)
    try:
        async with engine.connect() as c:
            units = (await c.execute(sa.text("SELECT code, parent, level, path FROM units"))).all()
            assert [tuple(u) for u in units] == [("341800", None, "city", "341800/")]
            departments: dict[str, str] = {
                code: unit
                for code, unit in (await c.execute(sa.text("SELECT code, unit FROM departments")))
            }
            assert departments == {code: "341800" for code in CITY_ONLY.departments}
            staff = (
                await c.execute(
                    sa.text("SELECT username, role, department, unit FROM staff_users ORDER BY id")
                )
            ).all()
            assert [tuple(s) for s in staff] == [
                ("clerk", "staff", "human_resources", "341800"),
                ("lead", "supervisor", None, "341800"),
            ]
            case = (
                await c.execute(
                    sa.text("SELECT number, summary, department, status, unit FROM cases")
                )
            ).one()
            assert tuple(case) == (
                "261206-00001",
                "工地拖欠工资三个月",
                "human_resources",
                "assigned",
                None,  # no place was recognised as a unit when it was filed
            )
        await engine.dispose()
        await asyncio.to_thread(database.upgrade, before_units)  # and whatever comes after
        engine = database.create_engine(before_units)
        uow = SqlUnitOfWorkFactory(engine)
        await sync_departments(uow(), TAXONOMY)
        async with uow() as u:
            units_now = {unit.code: unit for unit in await u.units.all()}
            depts = {d.code: d for d in await u.departments.all()}
            clerk = await u.staff.by_username("clerk")
            kept = await u.cases.by_number("261206-00001")
        assert units_now["341881003"].path == "341800/341881/341881003/"
        assert depts["human_resources"].unit == "341800"
        assert depts["341881.human_resources"].unit == "341881"
        assert depts["341881003.office"].name_zh == "河沥溪街道办事处"
        assert clerk is not None and clerk.unit == "341800"
        assert clerk.department == "human_resources"
        assert kept.department == "human_resources" and kept.summary == "工地拖欠工资三个月"
    finally:
        await engine.dispose()
