"""Incident grouping on SQLite and PostgreSQL: the relevant reports are found however many
cases are open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from civicline.domain.cases import Case
from civicline.domain.citizens import ContactHandle
from civicline.domain.incidents import IncidentPolicy
from civicline.domain.messages import Channel, InboundMessage, Language
from civicline.handlers.cases import Reading, Routing, open_case, to_citizen
from civicline.nlu.base import Classification
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.tables import IncidentKeyRow
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.places import SqlUnitOfWorkFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
TAXONOMY = load_taxonomy()
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
ROUTING = Routing(0.4, SHANGHAI, incidents=IncidentPolicy())
HOUSING = "urban_rural_construction"  # housing_construction's category


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await u.departments.sync(list(TAXONOMY.departments.values()))
        await u.commit()
    return uow_factory


class City:
    """Citizens filing complaints through ``open_case`` (the worker's path), each message
    linked to its case and acknowledged on the citizen's chat."""

    def __init__(self, uow: SqlUnitOfWorkFactory) -> None:
        self.uow = uow
        self.filed = 0

    async def file(
        self, text: str, at: datetime, *, category: str = HOUSING, citizen: str | None = None
    ) -> Case:
        self.filed += 1
        address = citizen or f"chat-{self.filed}"
        stored, _ = await SqlInboxWriter(self.uow.engine).add(
            InboundMessage(Channel.WEBCHAT, f"m{self.filed}", address, text, at, Language.ZH)
        )
        async with self.uow() as u:
            message = await u.inbox.get(stored.id or 0)
            person = await u.citizens.get_or_create(
                ContactHandle(Channel.WEBCHAT, address), at=at, language=Language.ZH
            )
            message.citizen_id = person.id
            reading = Reading(Classification(category, 0.9, (), "fake"))
            case = await open_case(
                message, reading, uow=u, taxonomy=TAXONOMY, routing=ROUTING, now=at
            )
            assert case.id is not None and message.id is not None
            await u.inbox.link_case([message.id], case.id)
            await u.outbox.add(to_citizen(case, f"已受理 {case.number}", now=at))
            await u.commit()
        return case

    async def file_many(self, texts: list[str], at: datetime) -> None:
        """One citizen's many complaints, one a second, in one transaction (quicker)."""
        async with self.uow() as u:
            person = await u.citizens.get_or_create(
                ContactHandle(Channel.WEBCHAT, "chat-many"), at=at, language=Language.ZH
            )
            reading = Reading(Classification(HOUSING, 0.9, (), "fake"))
            for i, text in enumerate(texts):
                when = at + timedelta(seconds=i)
                message = InboundMessage(
                    Channel.WEBCHAT, f"many-{i}", "chat-many", text, when, Language.ZH
                )
                message.citizen_id = person.id
                await open_case(
                    message, reading, uow=u, taxonomy=TAXONOMY, routing=ROUTING, now=when
                )
            await u.commit()

    async def case(self, number: str) -> Case:
        async with self.uow() as u:
            return await u.cases.by_number(number, with_history=True)


@pytest.fixture
def city(uow: SqlUnitOfWorkFactory) -> City:
    return City(uow)


async def test_the_newest_report_is_found_among_more_than_500_open_cases(city: City) -> None:
    # 520 open cases of the same compound and matter (other buildings), filed first ...
    await city.file_many(
        [f"红星小区{i + 1000}号楼电梯坏了，老人上下楼很困难" for i in range(520)], NOW
    )
    at = NOW + timedelta(seconds=700)
    first = await city.file("红星小区872号楼电梯坏了，困了两个人，物业半天没人来", at)
    assert first.merged_into is None
    # ... and the identical report of another citizen one second later joins the newest.
    again = await city.file(
        "红星小区872号楼电梯坏了，困了两个人，物业半天没人来", at + timedelta(seconds=1)
    )
    assert again.merged_into == first.number
    assert (await city.case(first.number)).reporters == 2
    # A lift in another building of the compound is its own case, not even a suggestion.
    other = await city.file("红星小区5号楼电梯坏了，困了两个人", at + timedelta(seconds=2))
    assert other.merged_into is None
    async with city.uow() as u:
        assert other.id is not None
        assert await u.incidents.suggestions(other.id) == []


async def test_keys_older_than_any_window_are_pruned(city: City) -> None:
    old = await city.file("红星小区3号楼电梯坏了", NOW - timedelta(days=3))
    new = await city.file("红星小区3号楼电梯坏了", NOW)
    assert new.merged_into is None  # three days apart: another breakdown

    async def keyed() -> set[int]:
        async with city.uow() as u:
            return set(await u.session.scalars(select(IncidentKeyRow.case_id)))

    assert await keyed() == {old.id, new.id}
    async with city.uow() as u:
        assert await u.incidents.prune(before=NOW - timedelta(days=1)) > 0
        await u.commit()
    assert await keyed() == {new.id}
