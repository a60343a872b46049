"""The conversation with a fake classifier: routing, triage, small talk, status questions."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from civicline.bots import commands
from civicline.bots.dialogue import Conversation
from civicline.domain.cases import CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import Channel, OutboundMessage
from civicline.handlers.cases import Routing
from civicline.handlers.inbound import Handled
from civicline.nlu.base import Classification
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.taxonomy_file import load_taxonomy
from tests.support.factories import T0, inbound
from tests.support.inbound import ask_for_rating, handle_inbound
from tests.support.places import SqlUnitOfWorkFactory
from tests.support.taxonomy import sync_taxonomy

TAXONOMY = load_taxonomy()


class FakeClassifier:
    engine = "fake"

    def __init__(self, intent: str, confidence: float) -> None:
        self.answer = Classification(intent, confidence, ((intent, confidence),), self.engine)
        self.seen = 0

    async def classify(self, text: str) -> Classification:
        self.seen += 1
        return self.answer


@pytest.fixture
async def uow(uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow_factory() as u:
        await sync_taxonomy(u, TAXONOMY)
        await u.commit()
    return uow_factory


async def _handle(
    uow: SqlUnitOfWorkFactory, text: str, nlu: FakeClassifier, provider_id: str = "m1"
) -> tuple[Handled, list[OutboundMessage]]:
    stored, _ = await SqlInboxWriter(uow.engine).add(inbound(provider_id, text=text))
    conversation = Conversation(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), nlu)
    handled = await handle_inbound(
        stored.id or 0, uow_factory=uow, conversation=conversation, now=T0
    )
    async with uow() as u:
        replies = [await u.outbox.get(i) for i in handled.outbound_ids]
    return handled, replies


async def test_a_sure_classification_routes_to_the_department(uow: SqlUnitOfWorkFactory) -> None:
    handled, [reply] = await _handle(
        uow, "小区电梯坏了", FakeClassifier("urban_rural_construction", 0.9)
    )
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number or "", with_history=True)
    assert (case.status, case.department, case.category) == (
        CaseStatus.ASSIGNED,
        "housing_construction",
        "urban_rural_construction",
    )
    assert (case.classified_by, case.confidence) == ("fake", 0.9)
    assert case.subcategory == "elevators"  # from the taxonomy's keywords
    assert case.events[0].data["intent"] == "urban_rural_construction"
    assert case.events[0].data["subcategory"] == "elevators"
    # 10:00 in Shanghai on Friday 27 Nov; 5 working days later is Friday 4 Dec.
    assert (
        case.complete_due_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
        == "2026-12-04"
    )
    assert handled.case_number in reply.text and "市住房和城乡建设局" in reply.text


async def test_an_unsure_classification_goes_to_triage(uow: SqlUnitOfWorkFactory) -> None:
    handled, [reply] = await _handle(uow, "有个事情想反映一下", FakeClassifier("transport", 0.2))
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number or "")
    assert (case.status, case.department, case.category) == (CaseStatus.RECEIVED, None, None)
    assert "尽快确定承办部门" in reply.text


async def test_small_talk_opens_no_case_and_a_replay_does_nothing(
    uow: SqlUnitOfWorkFactory,
) -> None:
    nlu = FakeClassifier("greet", 0.95)
    handled, [reply] = await _handle(uow, "你好", nlu)
    assert handled.case_number is None and "您好" in reply.text
    again = await handle_inbound(
        1,
        uow_factory=uow,
        conversation=Conversation(TAXONOMY, Routing(0.4, ZoneInfo("UTC")), nlu),
        now=T0,
    )
    assert again.already_done and again.outbound_ids == [] and nlu.seen == 1


async def test_status_questions_skip_the_nlu(uow: SqlUnitOfWorkFactory) -> None:
    nlu = FakeClassifier("other", 0.9)
    handled, _ = await _handle(uow, "路灯坏了", FakeClassifier("urban_rural_construction", 0.9))
    _, [known] = await _handle(uow, f"查询{handled.case_number}进度", nlu, "m2")
    _, [unknown] = await _handle(uow, "查询 991231-00001", nlu, "m3")
    assert nlu.seen == 0
    assert "已交办" in known.text and "市住房和城乡建设局" in known.text
    assert "没有找到案件 991231-00001" in unknown.text


async def test_a_status_question_in_free_words_lists_the_open_cases(
    uow: SqlUnitOfWorkFactory,
) -> None:
    opened, _ = await _handle(uow, "路灯坏了", FakeClassifier("urban_rural_construction", 0.9))
    asked, [listing] = await _handle(
        uow, "我上周反映的问题处理得怎么样了", FakeClassifier("status_query", 0.8), "m2"
    )
    assert asked.case_number is None
    assert opened.case_number in listing.text and "已交办" in listing.text
    # A case number in the question gets that case's status, whatever else is said.
    _, [one] = await _handle(
        uow,
        f"麻烦看看{opened.case_number}这个件办得怎么样",
        FakeClassifier("status_query", 0.8),
        "m3",
    )
    assert f"案件 {opened.case_number}：已交办" in one.text


async def test_help_in_free_words(uow: SqlUnitOfWorkFactory) -> None:
    handled, [reply] = await _handle(uow, "请问怎么提交诉求", FakeClassifier("help", 0.9))
    assert handled.case_number is None and "查询" in reply.text
    async with uow() as u:
        assert await u.cases.for_citizen(1, statuses=list(CaseStatus), limit=5) == []


async def test_feedback_joins_the_latest_case_and_invites_a_rating(
    uow: SqlUnitOfWorkFactory,
) -> None:
    _, [nobody] = await _handle(uow, "问题已经解决了，很满意", FakeClassifier("feedback", 0.9))
    assert "没有找到您的案件" in nobody.text
    opened, _ = await _handle(
        uow, "小区路灯坏了", FakeClassifier("urban_rural_construction", 0.9), "m2"
    )
    number = opened.case_number or ""
    async with uow() as u:
        case = await u.cases.by_number(number)
        case.transition(CaseStatus.ANSWERED, actor="staff:li", at=T0)
        case.close(actor="staff:li", at=T0, resolution="已修好")
        await u.cases.save(case)
        await u.commit()
    said, [noted] = await _handle(
        uow, "路灯修好了，感谢工作人员", FakeClassifier("feedback", 0.9), "m3"
    )
    assert said.case_number is None
    assert number in noted.text and "1 满意" in noted.text
    async with uow() as u:
        case = await u.cases.by_number(number, with_history=True)
        thread = await u.inbox.get(3)
    assert case.status == CaseStatus.CLOSED and case.events[-1].kind == "message"
    assert case.events[-1].data == {"intent": "feedback"}  # never the words themselves
    assert thread.case_id == case.id


async def test_an_unsure_service_intent_opens_a_case_instead(uow: SqlUnitOfWorkFactory) -> None:
    handled, _ = await _handle(
        uow, "处理结果我不认可，路灯还是坏的", FakeClassifier("feedback", 0.3)
    )
    assert handled.case_number is not None


async def test_danger_is_never_taken_for_small_talk(uow: SqlUnitOfWorkFactory) -> None:
    handled, [reply] = await _handle(
        uow, "谢谢，另外楼下着火了，浓烟很大", FakeClassifier("thanks", 0.9)
    )
    assert handled.case_number is not None and "119" in reply.text


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("查询 261127-00042", "261127-00042"),
        ("status 26112700042", "261127-00042"),
        ("261127-00042", "261127-00042"),
        ("我的电话13812345678，路灯坏了，请查询一下", None),
        ("261127-00042号案件说好三天修好路灯，现在还没修，我要投诉", None),
    ],
)
def test_what_counts_as_a_status_question(text: str, number: str | None) -> None:
    command = commands.parse_command(text)
    assert (command.number if isinstance(command, commands.Status) else None) == number


def _sms(provider_id: str, text: str, address: str = "+8613912345678"):  # type: ignore[no-untyped-def]
    message = inbound(provider_id, address=address, text=text)
    message.channel = Channel.SMS
    return message


async def _handle_sms(uow: SqlUnitOfWorkFactory, provider_id: str, text: str):  # type: ignore[no-untyped-def]
    stored, _ = await SqlInboxWriter(uow.engine).add(_sms(provider_id, text))
    conversation = Conversation(TAXONOMY, Routing(0.4, ZoneInfo("Asia/Shanghai")), CLASSIFIER)
    handled = await handle_inbound(
        stored.id or 0, uow_factory=uow, conversation=conversation, now=T0
    )
    async with uow() as u:
        return handled, [await u.outbox.get(i) for i in handled.outbound_ids]


CLASSIFIER = FakeClassifier("urban_rural_construction", 0.9)


async def test_keywords_my_cases_help_and_sms_opt_out(uow: SqlUnitOfWorkFactory) -> None:
    opened, _ = await _handle_sms(uow, "s1", "小区路灯坏了")
    _, [listing] = await _handle_sms(uow, "s2", "我的案件")
    assert opened.case_number in listing.text and "已交办" in listing.text
    _, [helped] = await _handle_sms(uow, "s3", "HELP")
    assert "STATUS" in helped.text or "查询" in helped.text

    stopped, replies = await _handle_sms(uow, "s4", "STOP")
    assert replies == [] and stopped.case_number is None
    handle = ContactHandle(Channel.SMS, "+8613912345678")
    async with uow() as u:
        assert await u.citizens.is_opted_out(handle) is True
    _, [resumed] = await _handle_sms(uow, "s5", "START")
    assert "again" in resumed.text or "恢复" in resumed.text
    async with uow() as u:
        assert await u.citizens.is_opted_out(handle) is False


async def test_stop_on_web_chat_is_just_text(uow: SqlUnitOfWorkFactory) -> None:
    handled, [reply] = await _handle(uow, "STOP", FakeClassifier("out_of_scope", 0.9))
    assert (handled.case_number is None and "抱歉" in reply.text) or "Sorry" in reply.text


async def test_the_return_visit_is_answered_once(uow: SqlUnitOfWorkFactory) -> None:
    _, [nothing] = await _handle_sms(uow, "r0", "1")
    assert "待评价" in nothing.text
    opened, _ = await _handle_sms(uow, "r1", "小区路灯坏了")
    number = opened.case_number or ""
    await _close(uow, number)
    asked = await ask_for_rating(number, uow_factory=uow, now=T0)
    async with uow() as u:
        request = await u.outbox.get(asked or 0)
        case = await u.cases.by_number(number)
    assert request.channel == Channel.SMS and number in request.text and "回访" in request.text
    assert case.visit_status == "asked"
    _, [thanks] = await _handle_sms(uow, "r2", "基本满意")
    assert number in thanks.text and "基本满意" in thanks.text
    async with uow() as u:
        visited = await u.cases.by_number(number, with_history=True)
    assert (visited.satisfaction, visited.solved, visited.rating) == ("basic", True, 4)
    assert visited.events[-1].kind == "visited" and visited.status == CaseStatus.CLOSED
    assert await ask_for_rating(number, uow_factory=uow, now=T0) is None
    _, [again] = await _handle_sms(uow, "r3", "1")
    assert "待评价" in again.text


async def test_an_unsolved_answer_reopens_the_case_once(uow: SqlUnitOfWorkFactory) -> None:
    opened, _ = await _handle_sms(uow, "u1", "小区路灯坏了")
    number = opened.case_number or ""
    await _close(uow, number)
    await ask_for_rating(number, uow_factory=uow, now=T0)
    _, [sorry] = await _handle_sms(uow, "u2", "4")
    assert "重新交办" in sorry.text
    async with uow() as u:
        reopened = await u.cases.by_number(number)
    assert reopened.status == CaseStatus.REOPENED and reopened.second_review
    # The second review ends in a close and a second visit; a second "no" is only recorded.
    async with uow() as u:
        case = await u.cases.by_number(number)
        case.transition(CaseStatus.ANSWERED, actor="staff:li", at=T0)
        case.close(actor="staff:li", at=T0, resolution="已更换灯具")
        await u.cases.save(case)
        await u.commit()
    await ask_for_rating(number, uow_factory=uow, now=T0)
    _, [noted] = await _handle_sms(uow, "u3", "不满意")
    assert "不满意" in noted.text
    async with uow() as u:
        final = await u.cases.by_number(number)
    assert final.status == CaseStatus.CLOSED and final.satisfaction == "dissatisfied"


async def _close(uow: SqlUnitOfWorkFactory, number: str) -> None:
    async with uow() as u:
        case = await u.cases.by_number(number)
        case.transition(CaseStatus.ANSWERED, actor="staff:li", at=T0)
        case.close(actor="staff:li", at=T0, resolution="已修好")
        await u.cases.save(case)
        await u.commit()


async def test_an_urgent_complaint_gets_the_shortest_deadline_and_an_alert(
    uow: SqlUnitOfWorkFactory,
) -> None:
    text = "幸福路18号楼道里闻到很浓的煤气味，好像煤气泄漏了，我的电话13912345678"
    nlu = RecordingClassifier("urban_rural_construction", 0.9)
    handled, [reply] = await _handle(uow, text, nlu)
    assert "13912345678" not in nlu.texts[0] and "幸福路" in nlu.texts[0]  # masked first
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number or "", with_history=True)
    assert case.urgent and not case.collective
    assert case.place and "幸福路" in case.place
    assert case.accept_due_at - T0 == timedelta(hours=1)
    # One working day: Friday 27 Nov (10:00 Shanghai) → Monday 30 Nov.
    assert (
        case.complete_due_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
        == "2026-11-30"
    )
    alert = next(e for e in case.events if e.kind == "alert")
    assert alert.reason == "urgent" and "gas_leak" in alert.data["reasons"]
    classified = case.events[0].data
    assert ["phone"] in classified["entities"]  # the kind only: no number in the history
    assert "13912345678" not in str(classified)
    assert reply.text.startswith("【紧急】")


async def test_a_collective_complaint_is_flagged(uow: SqlUnitOfWorkFactory) -> None:
    text = "我们全小区上百户业主联名反映，物业私自涨价，再不解决就去市政府上访"
    handled, _ = await _handle(uow, text, FakeClassifier("urban_rural_construction", 0.9))
    async with uow() as u:
        case = await u.cases.by_number(handled.case_number or "", with_history=True)
    assert case.collective and not case.urgent
    assert any(e.kind == "alert" and e.reason == "collective" for e in case.events)


class RecordingClassifier(FakeClassifier):
    def __init__(self, intent: str, confidence: float) -> None:
        super().__init__(intent, confidence)
        self.texts: list[str] = []

    async def classify(self, text: str) -> Classification:
        self.texts.append(text)
        return await super().classify(text)
