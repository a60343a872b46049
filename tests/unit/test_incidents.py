"""When two reports are one incident: never across places, surely at one place for one
matter, and a suggestion for staff when unsure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicline.domain.incidents import (
    Candidate,
    IncidentPolicy,
    Match,
    Report,
    Signature,
    compare,
    keys,
    text_bands,
)
from civicline.handlers.incidents import choose
from civicline.nlu.addresses import signature
from civicline.nlu.entities import district_of
from civicline.storage.taxonomy_file import load_taxonomy

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
POLICY = IncidentPolicy()
TAXONOMY = load_taxonomy()


def report(text: str, *, citizen: int = 1, minutes: int = 0) -> Report:
    return Report(
        number=f"261207-{citizen:05d}",
        citizen_id=citizen,
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        district=district_of(text),
        signature=signature(text, taxonomy=TAXONOMY, policy=POLICY),
    )


def verdict(new: str, old: str, **changes: int) -> Match:
    return compare(report(new, citizen=2, **changes), report(old), POLICY).match


# Pairs naming different places: never merged, and not even suggested.
APART = [
    # the issue's own example: a lift in a compound, and one on a road of the same district
    ("红星小区872号楼电梯坏了，困了人", "沿江路233号楼的电梯坏了，困了人"),
    # buildings of one compound, in every way people write them
    ("红星小区3号楼电梯坏了一个星期了", "红星小区5号楼电梯坏了一个星期了"),
    ("锦绣花园三号楼电梯停了，老人下不了楼", "锦绣花园12栋电梯停了，老人下不了楼"),
    ("Building 3 of Jinxiu Garden: the lift is broken", "Block 7, Jinxiu Garden, lift broken"),
    # compounds of one district
    ("红星小区的垃圾好几天没人清运了", "阳光小区的垃圾好几天没人清运了"),
    # house numbers of one road
    ("幸福路18号有家烧烤店油烟直排，熏得人难受", "幸福路120号有家烧烤店油烟直排，熏得人难受"),
    # roads of one district
    ("沿江路的路灯坏了一个多星期了，晚上一片漆黑", "胜利路的路灯坏了一个多星期了，晚上一片漆黑"),
    # units of one building
    ("阳光小区5栋2单元电梯坏了", "阳光小区5栋3单元电梯坏了"),
    # bus lines
    ("21路公交车经常不按站停车，司机态度很差", "35路公交车经常不按站停车，司机态度很差"),
    # landmarks
    ("人民公园每天晚上跳广场舞，音响开得特别大", "城市广场每天晚上跳广场舞，音响开得特别大"),
    # the same compound's power cut on two days
    ("11月20日，红星小区突然停电了", "11月26日，红星小区突然停电了"),
    # two districts, the same words
    ("幸福路一带从早上开始就没有自来水", "建设路一带从早上开始就没有自来水"),
]


@pytest.mark.parametrize(("new", "old"), APART)
def test_reports_naming_different_places_are_never_merged(new: str, old: str) -> None:
    assert verdict(new, old) == Match.NONE
    assert verdict(old, new) == Match.NONE


# One event, in other words: merged automatically.
SAME = [
    (
        "红星小区3号楼的电梯又坏了，这个月已经第三次了，物业一拖再拖",
        "反映一下宁国市红星小区三号楼电梯的问题，今天早上困了两个人",
    ),
    ("阳光小区5栋电梯停运好几天了", "我住阳光小区5号楼，电梯坏了一直没人修"),
    ("投诉幸福路18号的饭店油烟扰民", "幸福路18号门口那家饭馆的油烟机正对着居民窗户，油烟太重了"),
    ("人民公园广场舞噪音扰民，音箱声音太大了", "投诉人民公园的广场舞，晚上十点还在放音乐，太吵了"),
    # an outage named at a road, and at a house of that road
    ("幸福路一带从早上开始停水了，到现在还没来水", "幸福路18号停水一整天了，一滴水都没有"),
    # an outage of one compound named twice
    ("红星小区停电好几个小时了，供电所电话打不通", "宁国市红星小区晚上七点多突然停电了"),
]


@pytest.mark.parametrize(("new", "old"), SAME)
def test_one_event_in_other_words_is_merged(new: str, old: str) -> None:
    assert verdict(new, old) == Match.MERGE


# Unsure: suggested for staff to confirm or dismiss.
UNSURE = [
    # a compound, and a building in it: a compound has many lifts
    ("红星小区电梯坏了，老人下不了楼", "红星小区3号楼电梯坏了，老人下不了楼"),
    # an outage on two roads of one district: maybe one water main
    ("幸福路一带从早上开始停水了", "人民路这边也停水了，什么时候恢复供水？"),
    # only one of them names the place, the same matter and words
    ("电梯坏了一个星期了，老人上下楼很困难", "红星小区3号楼电梯坏了一个星期了，老人上下楼很困难"),
    # the same building site at two hours of the day
    ("沿江路233号工地晚上十一点还在施工，噪音太大", "沿江路233号工地下午三点施工噪音太大"),
    # a compound with nothing finer, the same matter: one rubbish point, or two?
    ("红星小区垃圾好几天没人清运了，臭味很大", "红星小区门口的垃圾站好几天没清理了，苍蝇很多"),
]


@pytest.mark.parametrize(("new", "old"), UNSURE)
def test_an_unsure_match_is_a_suggestion(new: str, old: str) -> None:
    assert verdict(new, old) == Match.SUGGEST


def test_the_same_place_with_another_matter_is_another_event() -> None:
    roof = "红星小区3号楼楼顶有人私自搭建彩钢房，存在安全隐患"
    assert verdict("红星小区3号楼电梯坏了", roof) == Match.NONE
    assert verdict("红星小区停电了", "红星小区停水了") == Match.NONE


def test_repeated_words_without_a_place() -> None:
    long = "小区电梯经常困人，物业不管不问，老人小孩都不敢坐了"
    assert verdict(long, long) == Match.MERGE  # too long to be a coincidence
    short = "电梯坏了"
    assert verdict(short, short) == Match.SUGGEST  # two citizens, two lifts perhaps
    same_citizen = report(short)
    assert compare(same_citizen, report(short), POLICY).match == Match.MERGE  # sent twice


def test_reports_further_apart_than_the_window_are_unrelated() -> None:
    text = "红星小区3号楼电梯坏了，困了人"
    assert verdict(text, text, minutes=7 * 60) == Match.NONE
    assert verdict(text, text, minutes=5 * 60) == Match.MERGE


def test_rooms_apart_make_a_merge_a_suggestion() -> None:
    assert verdict("阳光小区5-2-502楼上漏水", "阳光小区5-2-302楼上漏水") == Match.SUGGEST


def test_a_signature_survives_its_text_form() -> None:
    found = report("我家在阳光小区5栋2单元502，11月20日晚上10点开始停电").signature
    assert found.compounds == {"阳光小区"} and found.buildings == {"5"} and found.units == {"2"}
    assert found.rooms == {"502"} and found.dates == {"11-20"} and found.hours == {"22"}
    assert found.outage == "power"
    assert Signature.decode(found.encode()) == found
    assert Signature.decode(None) == Signature()


def test_reports_of_one_place_share_index_keys() -> None:
    a, b = report("红星小区3号楼电梯坏了"), report("宁国市红星小区三号楼的电梯又坏了，困了人")
    shared = {k for k, _ in keys(a.text, a.district, a.signature)} & {
        k for k, _ in keys(b.text, b.district, b.signature)
    }
    assert {"c:红星小区", "b:红星小区#3"} <= shared
    outage = report("幸福路停水了")
    assert ("a:宣州区:water", 2) in keys(outage.text, outage.district, outage.signature)


def test_text_bands_find_near_repeats() -> None:
    text = "小区门口的垃圾站好几天没清理了，污水流了一地，苍蝇蚊子特别多，请环卫部门尽快处理"
    assert text_bands(text) == text_bands(text) and len(text_bands(text)) >= 4
    edited = text.replace("好几天", "三天")
    assert set(text_bands(text)) & set(text_bands(edited))


async def test_reports_merged_into_one_incident_look_its_lead_up_once() -> None:
    """Near-duplicates: the candidates are earlier reports merged into one incident whose
    own case the index did not return; its lead is read once, not once a candidate."""
    new_text, old_text = SAME[0]
    lead = Candidate(99, report(old_text, citizen=99), "assigned", None, "housing")
    merged = [
        Candidate(i, report(old_text, citizen=i, minutes=i), "merged", lead.report.number, None)
        for i in range(3, 9)
    ]
    looked_up: list[str] = []

    async def lookup(number: str) -> Candidate | None:
        looked_up.append(number)
        return lead if number == lead.report.number else None

    choices = await choose(report(new_text, citizen=2), merged, policy=POLICY, lookup=lookup)
    assert looked_up == [lead.report.number]
    assert [c.lead.case_id for c in choices] == [99]
    assert choices[0].verdict.match == Match.MERGE
