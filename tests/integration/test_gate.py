"""The complaint gate through the real dialogue and storage, with the real local classifier:
what is not a complaint gets the polite answer and no case on web chat, SMS and Telegram;
danger always opens a case; an unsure complaint opens one in triage; a sub-category routes to
its own department."""

from __future__ import annotations

import asyncio
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from civicline.bots.dialogue import Conversation
from civicline.bots.texts import say
from civicline.domain.cases import CaseStatus
from civicline.domain.messages import Channel, InboundMessage, Language, OutboundMessage
from civicline.gateway.bootstrap import load_classifier
from civicline.handlers.cases import Routing
from civicline.handlers.inbound import Handled
from civicline.nlu.base import OUT_OF_SCOPE, Classification, Classifier
from civicline.nlu.local import LocalClassifier
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import T0
from tests.support.inbound import handle_inbound
from tests.support.places import SqlUnitOfWorkFactory, make_settings
from tests.support.taxonomy import sync_taxonomy

TAXONOMY = load_taxonomy()
OFF_DOMAIN = [
    ("帮我定一个明天早上七点的闹钟", Language.ZH),
    ("附近有什么好吃的火锅店推荐吗", Language.ZH),
    ("测试", Language.ZH),
    ("What's the weather going to be like in Beijing tomorrow?", Language.EN),
    ("Can you recommend a good credit card with no annual fee?", Language.EN),
]
CHANNELS = [Channel.WEBCHAT, Channel.SMS, Channel.TELEGRAM]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> LocalClassifier:
    """The gateway's own classifier (the shipped data), trained once for the test run."""
    settings = make_settings(tmp_path_factory.mktemp("gate"), model_dir)
    return asyncio.run(load_classifier(settings, TAXONOMY.shares()))


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


async def _send(
    uow: SqlUnitOfWorkFactory,
    nlu: Classifier,
    text: str,
    channel: Channel,
    language: Language = Language.ZH,
    provider_id: str = "m1",
) -> tuple[Handled, list[OutboundMessage]]:
    address = "+8613912345678" if channel == Channel.SMS else f"{channel}-citizen"
    message = InboundMessage(
        channel=channel,
        provider_message_id=provider_id,
        sender_address=address,
        text=text,
        received_at=T0,
        language=language,
    )
    stored, _ = await SqlInboxWriter(uow.engine).add(message)
    conversation = Conversation(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), nlu)
    handled = await handle_inbound(
        stored.id or 0, uow_factory=uow, conversation=conversation, now=T0
    )
    async with uow() as u:
        return handled, [await u.outbox.get(i) for i in handled.outbound_ids]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_off_domain_text_gets_the_polite_answer_and_no_case(
    uow: SqlUnitOfWorkFactory, local: LocalClassifier, channel: Channel
) -> None:
    for index, (text, language) in enumerate(OFF_DOMAIN):
        handled, [reply] = await _send(uow, local, text, channel, language, f"off-{index}")
        assert handled.case_number is None and handled.opened == []
        # In a chat app the citizen's first language sticks: the answer may be in Chinese.
        polite = {say(key, lang) for key in (OUT_OF_SCOPE, "greet", "thanks") for lang in Language}
        assert reply.text in polite, text
        assert reply.channel == channel


@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_urgent_message_always_opens_a_case(
    uow: SqlUnitOfWorkFactory, local: LocalClassifier, channel: Channel
) -> None:
    text = "哈哈你好，楼下好像着火了，浓烟很大"
    handled, [reply] = await _send(uow, local, text, channel)
    assert handled.case_number is not None
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number)
    assert case.urgent and handled.case_number in reply.text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_short_complaint_opens_a_case(
    uow: SqlUnitOfWorkFactory, local: LocalClassifier, channel: Channel
) -> None:
    handled, [reply] = await _send(uow, local, "楼下烧烤摊天天吵到半夜，油烟也大", channel)
    assert reply.text != say(OUT_OF_SCOPE, Language.ZH)
    if channel == Channel.TELEGRAM:  # the guided flow asks where before it opens the case
        assert handled.case_number is None and "发生在哪里" in reply.text
    else:
        assert handled.case_number is not None


class Fixed:
    engine = "fake"

    def __init__(self, answer: Classification) -> None:
        self.answer = answer

    async def classify(self, text: str) -> Classification:
        return self.answer


async def test_a_complaint_the_engine_is_unsure_of_goes_to_triage(
    uow: SqlUnitOfWorkFactory,
) -> None:
    unsure = Classification("transport", 0.25, (("transport", 0.25),), "fake", complaint=0.6)
    handled, [reply] = await _send(uow, Fixed(unsure), "有个事情想反映一下", Channel.WEBCHAT)
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number or "")
    assert (case.status, case.department, case.category) == (CaseStatus.RECEIVED, None, None)
    assert "尽快确定承办部门" in reply.text


async def test_a_service_request_the_gate_turned_away_gets_the_polite_answer(
    uow: SqlUnitOfWorkFactory,
) -> None:
    # The gate said "not a complaint" and the best conversation intent is unsure: no case.
    gated = Classification("status_query", 0.3, (("status_query", 0.3),), "fake", complaint=0.05)
    handled, [reply] = await _send(uow, Fixed(gated), "查一下", Channel.SMS)
    assert handled.case_number is None and handled.opened == []
    assert reply.text == say(OUT_OF_SCOPE, Language.ZH)


async def test_a_sub_category_routes_to_its_own_department(
    uow: SqlUnitOfWorkFactory, local: LocalClassifier
) -> None:
    text = "广德市桃州镇的菜市场门口摊贩占道经营，交通堵塞，垃圾遍地，希望城管部门加强管理。"
    handled, [reply] = await _send(uow, local, text, Channel.WEBCHAT)
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number or "", with_history=True)
    assert (case.category, case.subcategory) == ("urban_rural_construction", "street_vending")
    # the sub-category's kind (城管) in the county the place lies in (广德市桃州镇)
    assert case.department == "341882.city_management" and "广德市城管局" in reply.text
    assert case.unit == "341882100"
    assigned = [e for e in case.events if e.reason == "routed by sub-category and place"]
    assert assigned
