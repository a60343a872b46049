"""Incident grouping on SQLite and PostgreSQL: the relevant reports are found however many
cases are open, staff confirm or dismiss suggestions, and an unmerge gives a citizen back
their own case, thread and answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from civicline.channels.webchat import WebchatSender
from civicline.domain.accounts import Role, StaffUser
from civicline.domain.cases import Case, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput, NotAllowed
from civicline.domain.incidents import IncidentPolicy, SuggestionStatus
from civicline.domain.messages import Channel, DeliveryStatus, InboundMessage, Language
from civicline.gateway.users import create_user
from civicline.handlers import case_actions, incident_review
from civicline.handlers.cases import Reading, Routing, open_case, to_citizen
from civicline.handlers.delivery import RetryPolicy, deliver
from civicline.nlu.base import Classification
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.tables import IncidentKeyRow
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import Rules
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

SHANGHAI = ZoneInfo("Asia/Shanghai")
TAXONOMY = load_taxonomy()
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
ROUTING = Routing(0.4, SHANGHAI, incidents=IncidentPolicy())
HOUSING = "urban_rural_construction"  # housing_construction's category
TRANSPORT = "transport"


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
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
            case = await open_case(message, reading, uow=u, filing=Rules(TAXONOMY, ROUTING), now=at)
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
                await open_case(message, reading, uow=u, filing=Rules(TAXONOMY, ROUTING), now=when)
            await u.commit()

    async def answer(
        self, number: str, text: str, user: StaffUser, at: datetime = NOW
    ) -> case_actions.Reply:
        return await case_actions.reply_to_all(number, text, user=user, uow=self.uow(), now=at)

    async def case(self, number: str) -> Case:
        async with self.uow() as u:
            return await u.cases.by_number(number, with_history=True)


@pytest.fixture
def city(uow: SqlUnitOfWorkFactory) -> City:
    return City(uow)


async def _user(uow: SqlUnitOfWorkFactory, name: str, role: Role, dept: str | None) -> StaffUser:
    return await create_user(uow(), TAXONOMY, name, "a long password", role, dept, now=NOW)


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


async def test_unmerge_gives_the_citizen_back_their_case_and_answers(city: City) -> None:
    text = "阳光小区5号楼的电梯又坏了，这个月已经第三次了，老人上下楼特别困难"
    lead = await city.file(text, NOW, citizen="chat-lead")
    joined = await city.file(text.replace("又", "") + "，请尽快修", NOW, citizen="chat-joined")
    assert joined.merged_into == lead.number
    clerk = await _user(city.uow, "li", Role.STAFF, "housing_construction")
    elsewhere = await _user(city.uow, "wang", Role.STAFF, "transport")

    # One answer reaches both citizens, each on their own case and chat.
    first = await city.answer(lead.number, "已派人检修", clerk)
    assert len(first.copies) == 1

    with pytest.raises(NotAllowed):
        await incident_review.unmerge(
            joined.number, "不同电梯", user=elsewhere, uow=city.uow(), now=NOW
        )
    with pytest.raises(InvalidInput):
        await incident_review.unmerge(lead.number, "不同电梯", user=clerk, uow=city.uow(), now=NOW)
    later = NOW + timedelta(minutes=5)
    restored = await incident_review.unmerge(
        joined.number, "另一部电梯", user=clerk, uow=city.uow(), now=later
    )
    assert restored.status == CaseStatus.ASSIGNED and restored.merged_into is None

    back = await city.case(joined.number)
    moves = [(e.from_status, e.to_status) for e in back.events if e.kind == EventKind.TRANSITION]
    assert (CaseStatus.ASSIGNED, CaseStatus.MERGED) in moves  # the merge stays in history
    assert moves[-1] == (CaseStatus.MERGED, CaseStatus.ASSIGNED)  # and so does the unmerge
    incident = await city.case(lead.number)
    assert incident.reporters == 1
    assert [e.data.get("unmerged") for e in incident.events if e.kind == EventKind.INCIDENT][
        -1
    ] == joined.number

    # The citizen's own thread never left their case: their message, the ack, the copy.
    async with city.uow() as u:
        assert back.id is not None
        inbound = await u.inbox.for_case(back.id)
        outbound = await u.outbox.for_case(back.id)
    assert [m.sender_address for m in inbound] == ["chat-joined"]
    assert {m.recipient_address for m in outbound} == {"chat-joined"}
    assert "已派人检修" in [m.text for m in outbound]

    # After the unmerge, each answer reaches only its own case's citizen.
    to_lead = await city.answer(lead.number, "主板已更换", clerk, later)
    to_joined = await city.answer(joined.number, "另一部电梯明天检修", clerk, later)
    assert to_lead.copies == [] and to_joined.copies == []
    senders = {Channel.WEBCHAT: WebchatSender()}
    for outbound_id in [*first.ids(), *to_lead.ids(), *to_joined.ids()]:
        await deliver(
            outbound_id, uow_factory=city.uow, senders=senders, policy=RetryPolicy(), now=later
        )
    async with city.uow() as u:
        chats = {
            who: [
                (m.text, m.status)
                for m in await u.outbox.conversation(Channel.WEBCHAT, who, limit=20)
                if m.author.startswith("staff:")
            ]
            for who in ("chat-lead", "chat-joined")
        }
    sent = DeliveryStatus.SENT
    assert chats["chat-lead"] == [("已派人检修", sent), ("主板已更换", sent)]
    assert chats["chat-joined"] == [("已派人检修", sent), ("另一部电梯明天检修", sent)]


async def test_a_suggestion_is_confirmed_or_dismissed_by_staff_of_both_cases(city: City) -> None:
    lead = await city.file("和平小区电梯坏了，老人下不了楼", NOW)
    maybe = await city.file("和平小区3号楼电梯坏了，老人下不了楼", NOW + timedelta(minutes=1))
    assert maybe.merged_into is None  # a compound has many lifts: staff decide
    clerk = await _user(city.uow, "li", Role.STAFF, "housing_construction")
    elsewhere = await _user(city.uow, "wang", Role.STAFF, "transport")

    [suggestion] = await incident_review.suggestions_for(maybe.number, user=clerk, uow=city.uow())
    assert (suggestion.case, suggestion.lead) == (maybe.number, lead.number)
    assert await incident_review.suggestions_for(lead.number, user=clerk, uow=city.uow()) == [
        suggestion
    ]
    with pytest.raises(NotAllowed):
        await incident_review.suggestions_for(maybe.number, user=elsewhere, uow=city.uow())
    assert suggestion.id is not None
    with pytest.raises(NotAllowed):
        await incident_review.confirm(suggestion.id, user=elsewhere, uow=city.uow(), now=NOW)

    incident = await incident_review.confirm(suggestion.id, user=clerk, uow=city.uow(), now=NOW)
    assert incident.number == lead.number and incident.reporters == 2
    assert (await city.case(maybe.number)).merged_into == lead.number
    with pytest.raises(InvalidInput):  # decided once
        await incident_review.dismiss(suggestion.id, user=clerk, uow=city.uow(), now=NOW)
    reply = await city.answer(lead.number, "已修好", clerk)
    assert len(reply.copies) == 1

    other = await city.file("和平小区8号楼电梯坏了，老人下不了楼", NOW + timedelta(minutes=2))
    async with city.uow() as u:
        assert other.id is not None
        [open_one] = await u.incidents.suggestions(other.id)
    assert open_one.id is not None
    dismissed = await incident_review.dismiss(open_one.id, user=clerk, uow=city.uow(), now=NOW)
    assert dismissed.status == SuggestionStatus.DISMISSED
    assert await incident_review.suggestions_for(other.number, user=clerk, uow=city.uow()) == []
    assert (await city.case(other.number)).status == CaseStatus.ASSIGNED


async def test_a_clerk_sees_no_suggestion_reaching_into_another_department(city: City) -> None:
    lead = await city.file("幸福路停水了，什么时候来水", NOW, category=TRANSPORT)
    maybe = await city.file("人民路这边也停水了，什么时候恢复供水", NOW + timedelta(minutes=1))
    clerk = await _user(city.uow, "li", Role.STAFF, "housing_construction")
    boss = await _user(city.uow, "zhao", Role.SUPERVISOR, None)
    assert await incident_review.suggestions_for(maybe.number, user=clerk, uow=city.uow()) == []
    [seen] = await incident_review.suggestions_for(maybe.number, user=boss, uow=city.uow())
    assert seen.lead == lead.number
    assert seen.id is not None
    with pytest.raises(NotAllowed):  # the incident's case is another department's
        await incident_review.confirm(seen.id, user=clerk, uow=city.uow(), now=NOW)
    await incident_review.confirm(seen.id, user=boss, uow=city.uow(), now=NOW)
    assert (await city.case(maybe.number)).merged_into == lead.number


async def test_confirming_a_report_brings_its_own_reporters_along(city: City) -> None:
    lead = await city.file("红星小区停电好几个小时了，供电所电话一直打不通", NOW)
    # Another compound of the district: one fault of the grid, or two? Suggested.
    other = await city.file("阳光小区也停电了，整个小区都没电", NOW + timedelta(minutes=1))
    assert other.merged_into is None
    # A building of that compound joins it surely.
    follower = await city.file("阳光小区8号楼停电了，冰箱都要坏了", NOW + timedelta(minutes=2))
    assert follower.merged_into == other.number
    boss = await _user(city.uow, "zhao", Role.SUPERVISOR, None)
    [suggestion] = await incident_review.suggestions_for(other.number, user=boss, uow=city.uow())
    assert suggestion.lead == lead.number and suggestion.id is not None

    incident = await incident_review.confirm(suggestion.id, user=boss, uow=city.uow(), now=NOW)
    assert incident.reporters == 3
    assert (await city.case(follower.number)).merged_into == lead.number
    assert (await city.case(other.number)).reporters == 1
    reply = await city.answer(lead.number, "线路已抢修", boss)
    assert len(reply.copies) == 2

    await incident_review.unmerge(follower.number, "另一条线路", user=boss, uow=city.uow(), now=NOW)
    assert (await city.case(lead.number)).reporters == 2
    assert (await city.case(follower.number)).status == CaseStatus.ASSIGNED
