"""Early warning of a surge: a category in a district far above its usual hourly rate."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers.cases import Reading, Routing, open_case
from civicline.handlers.surge import SurgePolicy, warn_of_surges
from civicline.nlu.base import Classification
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import Rules
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

SHANGHAI = ZoneInfo("Asia/Shanghai")
TAXONOMY = load_taxonomy()
NOW = datetime(2026, 11, 27, 15, 30, tzinfo=SHANGHAI)


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


async def _report(uow: SqlUnitOfWorkFactory, i: int, text: str, at: datetime) -> None:
    stored, _ = await SqlInboxWriter(uow.engine).add(
        InboundMessage(Channel.WEBCHAT, f"m{i}", f"c{i}", text, at, Language.ZH)
    )
    async with uow() as u:
        message = await u.inbox.get(stored.id or 0)
        citizen = await u.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, f"c{i}"), at=at, language=Language.ZH
        )
        message.citizen_id = citizen.id
        reading = Reading(Classification("urban_rural_construction", 0.9, (), "fake"))
        await open_case(
            message, reading, uow=u, filing=Rules(TAXONOMY, Routing(0.4, SHANGHAI)), now=at
        )
        await u.commit()


async def test_a_burst_warns_supervisors_once_an_hour(uow: SqlUnitOfWorkFactory) -> None:
    # The week before: two reports in Heping; now twelve within the hour.
    for i in range(2):
        await _report(uow, i, "幸福路停水了", NOW - timedelta(days=3 + i))
    for i in range(12):
        await _report(uow, 10 + i, "幸福路停水了", NOW - timedelta(minutes=5 * i))
    # A quieter district: five reports in the hour is below the minimum of ten.
    for i in range(5):
        await _report(uow, 50 + i, "宁国市停水了", NOW - timedelta(minutes=i))

    async def warn(now: datetime) -> list[object]:
        found = await warn_of_surges(
            uow_factory=uow,
            policy=SurgePolicy(),
            taxonomy=TAXONOMY,
            city_timezone=SHANGHAI,
            now=now,
        )
        return list(found)

    [surge] = await warn(NOW)
    assert (surge.category, surge.district, surge.count) == (  # type: ignore[attr-defined]
        "urban_rural_construction",
        "宣州区",
        12,
    )
    assert await warn(NOW + timedelta(minutes=1)) == []  # once in this hour
    async with uow() as u:
        [notice] = await u.governance.notifications(
            audiences=["supervising_office"], department=None, limit=5, unread_only=True
        )
    assert notice.kind == "surge" and "宣州区" in notice.text and "12" in notice.text
