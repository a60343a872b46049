"""The guided dialogue of chat apps (Telegram): where, which category, then the case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from civicline.bots.dialogue import Conversation
from civicline.bots.guided import finish_expired
from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.dialogues import DIALOGUE_TIMEOUT, Stage
from civicline.domain.messages import (
    SHARE_LOCATION,
    Channel,
    InboundMessage,
    Language,
    OutboundMessage,
)
from civicline.handlers.cases import Routing
from civicline.handlers.inbound import Handled
from civicline.nlu.base import Classification
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import T0
from tests.support.inbound import ask_for_rating, handle_inbound
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

TAXONOMY = load_taxonomy()
CHAT = "424242"
RANKING = (("urban_rural_construction", 0.7), ("transport", 0.2), ("environment", 0.05))


class RankedClassifier:
    engine = "fake"

    def __init__(self, ranking: tuple[tuple[str, float], ...] = RANKING) -> None:
        self.ranking = ranking

    async def classify(self, text: str) -> Classification:
        intent, confidence = self.ranking[0]
        return Classification(intent, confidence, self.ranking, self.engine)


@dataclass
class Chat:
    """One Telegram chat with the bot, through the real dialogue and storage."""

    uow: SqlUnitOfWorkFactory
    nlu: RankedClassifier = field(default_factory=RankedClassifier)
    address: str = CHAT
    ids: count[int] = field(default_factory=lambda: count(1))

    async def send(
        self, text: str = "", *, at: timedelta = timedelta(0), **fields: object
    ) -> tuple[Handled, list[OutboundMessage]]:
        message = InboundMessage(
            channel=Channel.TELEGRAM,
            provider_message_id=f"{self.address}-{next(self.ids)}",
            sender_address=self.address,
            text=text,
            received_at=T0 + at,
            language=Language.ZH,
            **fields,  # type: ignore[arg-type]
        )
        stored, _ = await SqlInboxWriter(self.uow.engine).add(message)
        conversation = Conversation(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), self.nlu)
        handled = await handle_inbound(
            stored.id or 0, uow_factory=self.uow, conversation=conversation, now=T0 + at
        )
        async with self.uow() as u:
            return handled, [await u.outbox.get(i) for i in handled.outbound_ids]

    async def stage(self) -> Stage | None:
        async with self.uow() as u:
            pending = await u.dialogues.get(ContactHandle(Channel.TELEGRAM, self.address))
        return None if pending is None else pending.stage


@pytest.fixture
async def chat(uow_factory: SqlUnitOfWorkFactory) -> Chat:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return Chat(uow_factory)


async def test_no_place_then_a_typed_place_then_another_category(chat: Chat) -> None:
    asked, [where] = await chat.send("垃圾好几天没人清运，臭气熏天")
    assert asked.case_number is None and "发生在哪里" in where.text
    assert [c.data for c in where.choices] == [SHARE_LOCATION]
    assert await chat.stage() == Stage.PLACE

    chat.nlu = RankedClassifier((("transport", 0.3),))  # an address is no complaint
    _, [confirm] = await chat.send("在我家楼下")
    chat.nlu = RankedClassifier()
    assert "城乡建设" in confirm.text and "市住房和城乡建设局" in confirm.text
    assert [c.data for c in confirm.choices] == [
        "cat:urban_rural_construction",
        "cat:transport",
        "cat:environment",
        "cat:other",
    ]
    assert confirm.choices[0].label.startswith("✓")

    opened, [done] = await chat.send(choice="cat:environment")
    number = opened.case_number or ""
    assert number in done.text and "市生态环境局" in done.text
    async with chat.uow() as u:
        case = await u.cases.by_number(number, with_history=True)
        complaint = await u.inbox.get(1)
    assert (case.category, case.department, case.place) == (
        "environment",
        "ecology_environment",
        "在我家楼下",
    )
    assert case.summary == "垃圾好几天没人清运，臭气熏天"  # the complaint, not the button
    assert case.subcategory == "waste"
    assert case.events[0].data["confirmed"] == {"by": "citizen", "category": "environment"}
    assert complaint.case_id == case.id
    assert await chat.stage() is None


async def test_a_named_place_skips_the_question_and_a_shared_location_is_kept(
    chat: Chat,
) -> None:
    _, [confirm] = await chat.send("幸福路18号门口的路灯坏了")
    assert "cat:urban_rural_construction" in [c.data for c in confirm.choices]
    assert await chat.stage() == Stage.CATEGORY

    other = Chat(chat.uow, address="777", ids=chat.ids)
    await other.send("垃圾好几天没人清运")
    _, [confirm] = await other.send(location=(31.23041, 121.47370))
    assert confirm.choices
    opened, _ = await other.send(choice="cat:urban_rural_construction")
    async with chat.uow() as u:
        case = await u.cases.by_number(opened.case_number or "")
    assert case.location == (31.23041, 121.4737)
    assert case.place == "31.23041,121.47370"


async def test_photos_sent_meanwhile_join_the_case(chat: Chat) -> None:
    await chat.send("垃圾好几天没人清运")
    _, [kept] = await chat.send(attachments=["photo:AgACAgIAAx0"])
    assert "已收到附件" in kept.text
    await chat.send("光明区人民路88号")
    opened, _ = await chat.send(choice="cat:urban_rural_construction")
    async with chat.uow() as u:
        case = await u.cases.by_number(opened.case_number or "")
        thread = await u.inbox.for_case(case.id or 0)
    assert ["photo:AgACAgIAAx0"] in [m.attachments for m in thread]
    # Once the case is open, a photo goes straight to it.
    _, [added] = await chat.send(attachments=["document:BQACAgIAAx0"])
    assert opened.case_number in added.text


async def test_a_lone_photo_or_location_asks_for_words(chat: Chat) -> None:
    _, [photo] = await chat.send(attachments=["photo:AgAC"])
    _, [place] = await chat.send(location=(31.2, 121.4))
    assert "请用文字描述" in photo.text and "请用文字描述" in place.text


async def test_a_new_complaint_opens_the_waiting_one_first(chat: Chat) -> None:
    await chat.send("垃圾好几天没人清运")
    handled, [reply] = await chat.send("小区门口的井盖丢了，很危险", at=timedelta(minutes=2))
    assert len(handled.opened) == 1  # the first complaint, on the NLU's reading
    assert handled.opened[0] in reply.text and "发生在哪里" in reply.text
    async with chat.uow() as u:
        first = await u.cases.by_number(handled.opened[0])
    assert first.summary == "垃圾好几天没人清运" and first.status == CaseStatus.ASSIGNED


async def test_an_abandoned_dialogue_opens_its_case_when_it_expires(chat: Chat) -> None:
    await chat.send("垃圾好几天没人清运")
    conversation = Conversation(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), chat.nlu)
    early = await finish_expired(uow_factory=chat.uow, conversation=conversation, now=T0)
    assert early == []
    later = T0 + DIALOGUE_TIMEOUT + timedelta(seconds=1)
    [reply_id] = await finish_expired(uow_factory=chat.uow, conversation=conversation, now=later)
    async with chat.uow() as u:
        reply = await u.outbox.get(reply_id)
    assert reply.channel == Channel.TELEGRAM and reply.recipient_address == CHAT
    assert "案件编号" in reply.text
    assert await chat.stage() is None
    assert await finish_expired(uow_factory=chat.uow, conversation=conversation, now=later) == []


async def test_danger_opens_a_case_at_once(chat: Chat) -> None:
    handled, [reply] = await chat.send("楼道里闻到很浓的煤气味，好像煤气泄漏了")
    assert handled.case_number and "119" in reply.text
    assert await chat.stage() is None


async def test_start_offers_the_languages_and_the_choice_sticks(chat: Chat) -> None:
    _, [welcome] = await chat.send("/start")
    assert [c.data for c in welcome.choices] == ["lang:zh", "lang:en"]
    _, [chosen] = await chat.send(choice="lang:en")
    assert "English" in chosen.text and "STATUS" in chosen.text
    _, [helped] = await chat.send("/help")
    assert "Just describe the problem" in helped.text
    _, [where] = await chat.send("垃圾好几天没人清运")
    assert "Where did it happen" in where.text


async def test_rating_buttons_then_a_comment(chat: Chat) -> None:
    chat.nlu = RankedClassifier((("urban_rural_construction", 0.9),))
    await chat.send("幸福路18号门口的路灯坏了")
    opened, _ = await chat.send(choice="cat:urban_rural_construction")
    number = opened.case_number or ""
    async with chat.uow() as u:
        case = await u.cases.by_number(number)
        case.transition(CaseStatus.ANSWERED, actor="staff:li", at=T0)
        case.close(actor="staff:li", at=T0, resolution="已修好")
        await u.cases.save(case)
        await u.commit()
    asked = await ask_for_rating(number, uow_factory=chat.uow, now=T0)
    async with chat.uow() as u:
        request = await u.outbox.get(asked or 0)
    assert [c.data for c in request.choices] == [f"visit:{number}:{n}" for n in range(1, 5)]
    assert [c.label for c in request.choices] == ["满意", "基本满意", "不满意", "问题未解决"]

    _, [thanks] = await chat.send(choice=f"visit:{number}:1")
    assert "满意" in thanks.text and "补充意见" in thanks.text
    _, [noted] = await chat.send("修得很快，谢谢")
    assert number in noted.text
    _, [again] = await chat.send(choice=f"visit:{number}:3")
    assert "待评价" in again.text
    async with chat.uow() as u:
        rated = await u.cases.by_number(number, with_history=True)
    assert (rated.rating, rated.satisfaction) == (5, "satisfied")
    assert rated.events[-1].data == {"comment": True}


async def test_stale_and_foreign_buttons_change_nothing(chat: Chat) -> None:
    _, [stale] = await chat.send(choice="cat:transport")
    assert "按钮已失效" in stale.text
    _, [odd] = await chat.send(choice="nonsense")
    assert "按钮已失效" in odd.text
    chat.nlu = RankedClassifier((("urban_rural_construction", 0.9),))
    await chat.send("幸福路18号门口的路灯坏了")
    opened, _ = await chat.send(choice="cat:urban_rural_construction")
    stranger = Chat(chat.uow, address="999", ids=chat.ids)
    _, [refused] = await stranger.send(choice=f"visit:{opened.case_number}:1")
    assert "待评价" in refused.text


async def test_a_shared_phone_links_the_sms_number(chat: Chat) -> None:
    _, [linked] = await chat.send(shared_phone="8613912345678")
    assert "已关联" in linked.text
    async with chat.uow() as u:
        on_telegram = await u.citizens.by_handle(ContactHandle(Channel.TELEGRAM, CHAT))
        on_sms = await u.citizens.by_handle(ContactHandle(Channel.SMS, "+8613912345678"))
    assert on_telegram is not None and on_sms is not None and on_telegram.id == on_sms.id
    other = Chat(chat.uow, address="555", ids=chat.ids)
    _, [refused] = await other.send(shared_phone="+86 139 1234 5678")
    assert "其他账号" in refused.text


async def test_an_edit_joins_the_open_case_or_replaces_the_waiting_complaint(chat: Chat) -> None:
    await chat.send("垃圾好几天没人清运")
    _, [asked] = await chat.send("幸福路18号的垃圾好几天没人清运", edited=True)
    assert "城乡建设" in asked.text  # the edit named a place: on to the category
    opened, _ = await chat.send(choice="cat:urban_rural_construction")
    async with chat.uow() as u:
        case = await u.cases.by_number(opened.case_number or "")
    assert case.summary == "幸福路18号的垃圾好几天没人清运"
    _, [added] = await chat.send("幸福路20号的垃圾也没人清运", edited=True)
    assert opened.case_number in added.text


async def test_the_board_question_comes_with_buttons_and_a_press_answers_it(chat: Chat) -> None:
    await chat.send("幸福路的路灯坏了好几天，晚上很黑")
    opened, [done] = await chat.send(choice="cat:urban_rural_construction")
    number = opened.case_number or ""
    assert "阳光信访" in done.text
    assert [c.data for c in done.choices] == [f"publish:{number}:1", f"publish:{number}:0"]
    _, [stale] = await chat.send(choice="publish:261127-99999:1")
    assert "261127-99999" not in stale.text
    _, [thanks] = await chat.send(choice=f"publish:{number}:1")
    assert number in thanks.text and "公开" in thanks.text
    async with chat.uow() as u:
        case = await u.cases.by_number(number)
        entry = await u.board.get(case.id or 0)
    assert entry is not None and entry.consent is True
    _, [nothing] = await chat.send(choice=f"publish:{number}:0")  # answered already
    assert "没有等待" in nothing.text
