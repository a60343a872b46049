"""Open311 requests in the worker and the read side: a stored request opens its case with no
dialogue and no reply; clients see Open311 cases only, and only their published updates."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from civicline.bots.dialogue import Conversation
from civicline.channels.open311 import Intake, to_inbound
from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import Channel, DeliveryStatus, Language, OutboundMessage
from civicline.handlers.cases import Routing
from civicline.handlers.open311 import find_requests, find_updates
from civicline.nlu.base import Classification
from civicline.storage.database import session_factory
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.open311 import RequestQuery, SqlOpen311Store
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import T0, case
from tests.support.inbound import ask_for_rating, handle_inbound
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

TAXONOMY = load_taxonomy()
CITY = ZoneInfo("Asia/Shanghai")
FORM = {
    "service_code": "transport",
    "lat": "30.2741",
    "long": "120.1551",
    "address_string": "幸福路公交站",
    "description": "公交站台的灯坏了，晚上看不清站牌。电话13987654321",
    "email": "Someone@Example.com",
}


class Recording:
    engine = "fake"

    def __init__(self, intent: str = "environment") -> None:
        self.intent, self.texts = intent, []

    async def classify(self, text: str) -> Classification:
        self.texts.append(text)
        return Classification(self.intent, 0.9, ((self.intent, 0.9),), self.engine)


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


def conversation(nlu: Recording) -> Conversation:
    return Conversation(taxonomy=TAXONOMY, routing=Routing(0.4, CITY), nlu=nlu)


async def filed(uow: SqlUnitOfWorkFactory, nlu: Recording, token: str, **changes: str) -> str:
    message = to_inbound(
        {**FORM, **changes}, Intake(TAXONOMY, "CN", "c0ffee00"), now=T0, token=token
    )
    stored, created = await SqlInboxWriter(uow.engine).add(message)
    assert created and stored.id is not None
    handled = await handle_inbound(
        stored.id, uow_factory=uow, conversation=conversation(nlu), now=T0
    )
    assert handled.outbound_ids == [] and handled.case_number is not None
    again = await handle_inbound(stored.id, uow_factory=uow, conversation=conversation(nlu), now=T0)
    assert again.already_done
    return handled.case_number


async def test_a_request_opens_its_case_with_no_dialogue_and_no_reply(
    uow: SqlUnitOfWorkFactory,
) -> None:
    nlu = Recording("environment")  # the NLU disagrees: the client's service code wins
    number = await filed(uow, nlu, "t1")
    [seen] = nlu.texts
    assert "13987654321" not in seen and "<phone>" in seen
    async with uow() as u:
        opened = await u.cases.by_number(number, with_history=True)
        assert opened.id is not None
        outbox = await u.outbox.for_case(opened.id)
        by_email = await u.citizens.by_handle(
            ContactHandle(Channel.OPEN311, "email:someone@example.com")
        )
    assert (opened.channel, opened.category, opened.department) == (
        Channel.OPEN311,
        "transport",
        "transport",
    )
    assert opened.status == CaseStatus.ASSIGNED
    assert (opened.place, opened.location) == ("幸福路公交站", (30.2741, 120.1551))
    assert opened.events[0].data["confirmed"] == {"by": "open311", "category": "transport"}
    assert outbox == []
    assert by_email is not None and by_email.id == opened.citizen_id


async def test_clients_see_open311_cases_and_their_published_updates_only(
    uow: SqlUnitOfWorkFactory,
) -> None:
    nlu = Recording()
    first = await filed(uow, nlu, "t1")
    second = await filed(uow, nlu, "t2", service_code="environment", lat="", long="")
    async with uow() as u:
        citizen = await u.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, "conv-1"), at=T0, language=Language.ZH
        )
        assert citizen.id is not None
        chat = await u.cases.add(case("261127-09999", citizen.id, department="transport"))
        opened = await u.cases.by_number(first, lock=True)
        for status, author, minutes in [
            (DeliveryStatus.SENT, "staff:zhao", 5),
            (DeliveryStatus.QUEUED, "staff:zhao", 6),  # not yet published
            (DeliveryStatus.SENT, "bot", 7),  # not a staff update
        ]:
            await u.outbox.add(
                OutboundMessage(
                    channel=Channel.OPEN311,
                    recipient_address=opened.reply_to,
                    text=f"回复{minutes}：已派人检修。",
                    created_at=T0 + timedelta(minutes=minutes),
                    case_id=opened.id,
                    author=author,
                    status=status,
                )
            )
        opened.mark_answered(actor="staff:zhao", at=T0 + timedelta(minutes=5))
        opened.close(actor="staff:zhao", at=T0 + timedelta(minutes=10), resolution="灯已修好。")
        await u.cases.save(opened)
        await u.commit()
    assert chat.number not in (first, second)

    store = SqlOpen311Store(session_factory(uow.engine))
    day = RequestQuery(limit=10, since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1))

    async def numbers(query: RequestQuery) -> list[str]:
        return [r.case.number for r in await store.requests(query)]

    assert await numbers(day) == [first, second]
    assert await numbers(RequestQuery(limit=10, numbers=(first, chat.number))) == [first]
    assert await numbers(RequestQuery(limit=10, categories=("environment",))) == [second]
    assert await numbers(RequestQuery(limit=10, statuses=frozenset({CaseStatus.CLOSED}))) == [first]
    assert await numbers(RequestQuery(limit=1)) == [first]
    assert await numbers(RequestQuery(limit=10, since=T0 + timedelta(minutes=1))) == []

    views = await find_requests(
        day, store=store, taxonomy=TAXONOMY, language=Language.EN, timezone=CITY
    )
    assert [(v.status, v.status_notes) for v in views] == [("closed", "灯已修好。"), ("open", None)]
    assert views[0].agency_responsible == "Municipal Transport Bureau"
    assert views[1].address == "幸福路公交站" and views[1].lat is None
    assert "13987654321" not in views[0].description

    updates = await find_updates(
        since=T0,
        until=T0 + timedelta(hours=1),
        limit=10,
        store=store,
        language=Language.ZH,
        timezone=CITY,
    )
    assert [(u.service_request_id, u.status, u.description) for u in updates] == [
        (first, "open", "回复5：已派人检修。"),
        (first, "closed", "灯已修好。"),
    ]
    assert updates[0].update_id.startswith("reply-") and updates[1].update_id.startswith("event-")
    later = await store.updates(
        since=T0 + timedelta(minutes=11), until=T0 + timedelta(hours=1), limit=10
    )
    assert later == []

    token = await store.token("t1")
    assert token is not None and token.case_number == first
    assert await store.token("nope") is None

    # Closing asks nobody to rate: an Open311 app cannot answer.
    assert await ask_for_rating(first, uow_factory=uow, now=T0 + timedelta(minutes=11)) is None
