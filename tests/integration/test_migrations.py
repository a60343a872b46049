"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.domain.citizens import ContactHandle
from civicline.domain.incidents import IncidentPolicy
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers.cases import Reading, Routing, open_case
from civicline.handlers.incidents import index_unsigned
from civicline.nlu.base import Classification
from civicline.storage import database
from civicline.storage.tables import Base, UTCDateTime
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import Rules
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.services import fresh_postgres

TAXONOMY = load_taxonomy()


async def test_migrated_schema_matches_the_tables(engine: AsyncEngine) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


@pytest.fixture(params=["sqlite", "postgres"])
def before_0010(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own at the revision before 0010 (incident keys)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        database.upgrade(url, "0011")
        yield url
        return
    with fresh_postgres() as url:
        database.upgrade(url, "0011")
        yield url


_CASES = sa.table(
    "cases",
    *(
        sa.column(name, type_)
        for name, type_ in [
            ("number", sa.String()),
            ("citizen_id", sa.Integer()),
            ("channel", sa.String()),
            ("reply_to", sa.String()),
            ("summary", sa.Text()),
            ("language", sa.String()),
            ("category", sa.String()),
            ("department", sa.String()),
            ("status", sa.String()),
            ("urgent", sa.Boolean()),
            ("district", sa.String()),
            ("created_at", UTCDateTime()),
            ("updated_at", UTCDateTime()),
            ("accept_due_at", UTCDateTime()),
            ("complete_due_at", UTCDateTime()),
        ]
    ),
)


async def test_upgrade_keeps_cases_and_the_worker_indexes_the_open_ones(before_0010: str) -> None:
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    text = "红星小区872号楼电梯坏了，困了两个人，物业半天没人来"
    engine = database.create_engine(before_0010)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text("INSERT INTO departments (code, name_zh, name_en) VALUES (:c, :z, :e)"),
            [{"c": d.code, "z": d.name_zh, "e": d.name_en} for d in TAXONOMY.departments.values()],
        )
        citizen = sa.table(
            "citizens", sa.column("language"), sa.column("created_at", UTCDateTime())
        )
        await connection.execute(sa.insert(citizen).values(language="zh", created_at=now))
        await connection.execute(
            sa.insert(_CASES),
            [
                {
                    "number": number,
                    "citizen_id": 1,
                    "channel": "webchat",
                    "reply_to": "chat-1",
                    "summary": text,
                    "language": "zh",
                    "category": "urban_rural_construction",
                    "department": "housing_construction",
                    "status": status,
                    "urgent": False,
                    "district": "宁国市",
                    "created_at": now - timedelta(hours=1),
                    "updated_at": now - timedelta(hours=1),
                    "accept_due_at": now + timedelta(days=1),
                    "complete_due_at": now + timedelta(days=5),
                }
                for number, status in [("261206-00001", "assigned"), ("261206-00002", "closed")]
            ],
        )
    await engine.dispose()
    await asyncio.to_thread(database.upgrade, before_0010)

    engine = database.create_engine(before_0010)
    uow = SqlUnitOfWorkFactory(engine)
    try:
        async with uow() as u:
            kept = await u.cases.by_number("261206-00001")
        assert kept.summary == text and kept.incident_signature is None
        policy = IncidentPolicy()
        indexed = await index_unsigned(uow, taxonomy=TAXONOMY, policy=policy, now=now)
        assert indexed == 1  # the open one; a closed case is no candidate
        async with uow() as u:
            signed = await u.cases.by_number("261206-00001")
            assert signed.incident_signature is not None and "b:872" in signed.incident_signature
            citizen_id = (
                await u.citizens.get_or_create(
                    ContactHandle(Channel.WEBCHAT, "chat-2"), at=now, language=Language.ZH
                )
            ).id
            message = InboundMessage(Channel.WEBCHAT, "m2", "chat-2", text, now, Language.ZH)
            message.citizen_id = citizen_id
            again = await open_case(
                message,
                Reading(Classification("urban_rural_construction", 0.9, (), "fake")),
                uow=u,
                filing=Rules(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai"), incidents=policy)),
                now=now,
            )
            await u.commit()
        assert again.merged_into == "261206-00001"
        assert await index_unsigned(uow, taxonomy=TAXONOMY, policy=policy, now=now) == 0
    finally:
        await engine.dispose()
