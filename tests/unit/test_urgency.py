"""Urgency and collective flags: emergencies and many-people complaints, negations left out."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from civicline.nlu import urgency
from civicline.nlu.entities import extract_entities
from civicline.nlu.masking import mask
from civicline.nlu.training_data import default_data_path, load_examples
from civicline.nlu.urgency import COLLECTIVE_REASONS, URGENT_REASONS, Flags, assess

URGENT = [
    ("楼道里一股很浓的煤气味，敲邻居家门也没人应", "gas_leak"),
    ("我家厨房的燃气管道泄漏了，阀门关不上", "gas_leak"),
    ("对面楼五层着火了，浓烟一直往上冒", "fire"),
    ("小区配电箱冒烟，还有噼啪的声音", "fire"),
    ("幸福路上突然塌陷了一个两米多深的大洞", "collapse"),
    ("工地旁边的老房子墙体倒塌，压住了一辆车", "collapse"),
    ("暴雨把地下车库淹了，水已经漫到一楼", "flood"),
    ("楼上水管爆裂，水从天花板往下灌", "flood"),
    ("路边的电线掉落在人行道上，还在打火花", "electric"),
    ("小区路灯杆漏电，刚才一只狗被电到了", "electric"),
    ("楼下有人持刀砍人，快派人来", "violence"),
    ("我老公又家暴我，我现在躲在卫生间", "violence"),
    ("工资拖了半年，我真的不想活了", "self_harm"),
    ("讨不到工钱，工友说要去跳楼", "self_harm"),
    ("我儿子在人民公园走失了，穿红色外套，五岁", "missing_person"),
    ("我妈有老年痴呆，早上出门到现在找不到了", "missing_person"),
    ("There is a strong smell of gas in our stairwell", "gas_leak"),
    ("The flat next door is on fire and nobody answers the door", "fire"),
    ("The factory behind our estate is on fire!", "fire"),
    ("A sinkhole opened on Harbour Road this morning", "collapse"),
    ("Our basement is flooded and water is pouring in through the wall", "flood"),
    ("A live wire is hanging over the bus stop on Renmin Road", "electric"),
    ("A man with a knife is threatening people outside the market", "violence"),
    ("My neighbour keeps beating his wife, I can hear her screaming", "violence"),
    ("If nobody pays me I will kill myself", "self_harm"),
    ("My daughter has gone missing near People's Park", "missing_person"),
]

COLLECTIVE = [
    ("我们全楼三十多户联名反映电梯问题", "many_people"),
    ("几十个工人被拖欠工资，已经三个月了", "many_people"),
    ("上百户业主的房子都漏水", "many_people"),
    ("整栋楼停水两天了，物业电话打不通", "many_people"),
    ("再不解决我们就去北京上访", "escalation"),
    ("物业不管，我们准备找媒体曝光", "escalation"),
    ("村民说要去堵路拉横幅", "escalation"),
    ("All the residents of our building signed a joint letter", "many_people"),
    ("Hundreds of us have had no heating for a week", "many_people"),
    ("The whole compound has been without water since Monday", "many_people"),
    ("If nothing happens we will go to the media", "escalation"),
    ("We are planning to protest outside the district office", "escalation"),
]

ORDINARY = [
    "楼下广场舞每天晚上放到十点，吵得孩子没法写作业",
    "幸福路的路灯坏了一个多星期了",
    "人民路上有好几个坑，电动车经过很颠",
    "老板拖欠我三个月工资不给，劳动监察说要排队",
    "楼上卫生间漏水漏到我家天花板",
    "小区门口积水，走路要绕",
    "每到下雨天小区门口就积水到膝盖",
    "消防通道被私家车堵死了，物业说管不了",
    "隔壁工厂烟囱冒黑烟，气味刺鼻",
    "打了12345人工客服也没人处理",
    "商场跳楼价大甩卖其实是先涨价后打折",
    "周末总被打扰，楼上装修声音太大",
    "老人的医保卡找不到了，补办要跑三个地方",
    "The street lights on Jiefang Road have been out for two weeks",
    "There is a pothole outside 12 Oak Lane that nobody fixes",
    "My boss has not paid my wages since March",
    "The neighbours play loud music until 2 am every night",
    "I was fired without any compensation",
    "The fire exit in the shopping mall is locked",
    "People keep smoking in the stairwell",
    "Black smoke is pouring out of the factory chimney again",
    "Our crops flood every time it rains because the ditch is blocked",
    "The car hit me on the crossing and the driver drove off",
    "My dog went missing, is there a lost pet notice board",
    "The petition office forwarded my complaint to the office I complained about",
]

NEGATED = [
    "没有着火，只是楼下烧烤的烟飘上来",
    "不是煤气泄漏，是下水道的臭味",
    "物业说并没有漏电，但我还是不放心",
    "我没闻到煤气味，就是楼道很闷",
    "我不会上访的，只希望尽快解决",
    "There is no fire, just a lot of noise from the bar",
    "It's not a gas leak, the smell comes from the sewer",
    "There was no smell of gas when the engineer came",
    "并没有发生火灾，是有人在烧纸",
    "The wall isn't collapsing, it just has a crack",
    "Nobody is violent, they are just loud",
]

HAZARDS = [
    "电动车在楼道里充电，存在火灾隐患",
    "我担心电线老化会着火",
    "城中村的电线乱拉乱接，随时可能起火",
    "The old wiring is a fire hazard",
    "Please check the pipes in case of a gas leak",
]


@pytest.mark.parametrize(("text", "reason"), URGENT)
def test_emergencies_are_urgent(text: str, reason: str) -> None:
    flags = assess(text)
    assert flags.urgent
    assert reason in flags.reasons


@pytest.mark.parametrize(("text", "reason"), COLLECTIVE)
def test_many_people_and_threats_to_escalate_are_collective(text: str, reason: str) -> None:
    flags = assess(text)
    assert flags.collective
    assert not flags.urgent
    assert flags.reasons == (reason,)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_complaints_are_neither(text: str) -> None:
    assert assess(text) == Flags(urgent=False, collective=False, reasons=())


@pytest.mark.parametrize("text", NEGATED)
def test_negated_keywords_do_not_count(text: str) -> None:
    assert assess(text).reasons == ()


@pytest.mark.parametrize("text", HAZARDS)
def test_hazards_are_routine_not_emergencies(text: str) -> None:
    assert not assess(text).urgent


def test_a_negation_in_another_clause_does_not_cancel_the_emergency() -> None:
    assert assess("没有人来管，现在楼道里着火了").reasons == ("fire",)
    assert assess("Nobody came, and now the kitchen is on fire").reasons == ("fire",)


def test_both_flags_and_several_reasons_in_order() -> None:
    flags = assess("整栋楼闻到很浓的煤气味，楼下还冒烟了，我们几十户居民都跑出来了，再不管就找媒体")
    assert flags.urgent and flags.collective
    assert flags.reasons == ("gas_leak", "fire", "many_people", "escalation")


def test_reasons_are_machine_codes_never_text() -> None:
    known = set(URGENT_REASONS) | set(COLLECTIVE_REASONS)
    for text, _ in URGENT + COLLECTIVE:
        for reason in assess(text).reasons:
            assert reason in known
            assert reason.isascii() and reason.isidentifier()


def test_flags_are_frozen() -> None:
    flags = assess("着火了")
    with pytest.raises(dataclasses.FrozenInstanceError):
        flags.urgent = False  # type: ignore[misc]


def test_every_match_holds_one_of_its_anchors() -> None:
    """The substring pre-check may skip a rule only when the rule could not match anyway."""
    texts = [t for t, _ in URGENT + COLLECTIVE] + ORDINARY + NEGATED + HAZARDS
    texts += [example.text for example in load_examples(default_data_path())]
    for rules, fold in ((urgency._ZH_RULES, False), (urgency._EN_RULES, True)):
        for reason, anchors, pattern in rules:
            if anchors is None:
                continue
            for text in texts:
                for match in pattern.finditer(text):
                    found = match.group().lower() if fold else match.group()
                    assert any(anchor in found for anchor in anchors), (reason, found)


def test_few_training_examples_are_urgent() -> None:
    """nlu.yml is ordinary complaints; the few flagged ones are violence, collapses, a gas leak."""
    examples = load_examples(default_data_path())
    urgent = [e for e in examples if assess(e.text).urgent]
    collective = [e for e in examples if assess(e.text).collective]
    assert len(urgent) <= 0.03 * len(examples)
    assert len(collective) <= 0.03 * len(examples)
    assert all(e.intent not in {"greet", "thanks"} for e in urgent + collective)


def test_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    text = "我叫张三，电话13912345678，家住幸福路18号，煤气泄漏了，快来人"
    with caplog.at_level(logging.DEBUG):
        mask(text)
        extract_entities(text)
        assess(text)
    assert not [r for r in caplog.records if r.name.startswith(("civicline", "jieba"))]
