"""Entities: case numbers, phones, places (gazetteer and patterns) and time expressions."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from civicline.nlu.base import Entity
from civicline.nlu.entities import (
    _districts,
    default_gazetteer,
    default_gazetteer_path,
    district_of,
    extract_entities,
    load_gazetteer,
)
from civicline.nlu.training_data import default_data_path, load_examples

CJK = re.compile("[\u4e00-\u9fff]")


def _of(kind: str, text: str) -> list[Entity]:
    return [e for e in extract_entities(text) if e.kind == kind]


def _surfaces(kind: str, text: str) -> list[str]:
    return [text[e.start : e.end] for e in _of(kind, text)]


# --- the gazetteer ------------------------------------------------------------------------------


def test_the_gazetteer_file_loads_and_every_entry_has_chinese_and_english_names() -> None:
    gazetteer = load_gazetteer(default_gazetteer_path())
    assert gazetteer.city_zh and gazetteer.city_en
    counts: dict[str, int] = {}
    for place in gazetteer.places:
        counts[place.type] = counts.get(place.type, 0) + 1
        assert CJK.search(place.zh), place
        assert place.en.strip() and not CJK.search(place.en), place
    assert counts["city"] == 1
    assert counts["district"] == 7  # 宣城市's county-level units
    assert counts["township"] >= 90
    assert counts["road"] >= 60
    assert counts["landmark"] >= 40
    assert counts["neighbourhood"] >= 25


def test_every_place_lies_in_a_known_district() -> None:
    gazetteer = default_gazetteer()
    districts = {p.zh for p in gazetteer.places if p.type == "district"}
    assert gazetteer.tree is not None
    for place in gazetteer.places:
        if place.type != "city":
            assert place.district in districts, place
            assert place.unit is not None and gazetteer.tree.get(place.unit) is not None, place


@pytest.mark.parametrize(
    "name",
    [
        "幸福路",
        "幸福南路",
        "人民路",
        "解放路",
        "和平街",
        "宣州区",
        "人民公园",
        "滨江公园",
        "东湖小区",
        "锦绣花园",
        "阳光小区",
        "金桂小区",
        "化工路",
        "城北大道",
        "南门广场",
        "火车站北广场",
        "市妇幼保健院",
        "鳌峰街道",
        "Maple Street",
        "Harbour Road",
        "Riverside Avenue",
    ],
)
def test_places_named_in_the_training_data_are_in_the_gazetteer(name: str) -> None:
    assert default_gazetteer().find(name) is not None


UNITS = (
    'city: {code: "341800", zh: 宣城市, en: Xuancheng}\n'
    "units:\n"
    '  - {code: "341802", zh: 宣州区, en: Xuanzhou District, level: county, parent: "341800",'
    " aliases: [宣州]}\n"
)


def _gazetteer_file(tmp_path: Path, places: str) -> tuple[Path, Path]:
    units = tmp_path / "units.yml"
    units.write_text(UNITS, encoding="utf-8")
    path = tmp_path / "gazetteer.yml"
    path.write_text(places, encoding="utf-8")
    return path, units


def test_a_gazetteer_entry_without_an_english_name_is_refused(tmp_path: Path) -> None:
    path, units = _gazetteer_file(tmp_path, 'roads:\n  - {zh: 幸福路, unit: "341802"}\n')
    with pytest.raises(ValueError, match=r"roads\[0\]\.en"):
        load_gazetteer(path, units)


def test_an_entry_in_an_unknown_unit_is_refused(tmp_path: Path) -> None:
    path, units = _gazetteer_file(
        tmp_path, 'roads:\n  - {zh: 幸福路, en: Xingfu Road, unit: "341881"}\n'
    )
    with pytest.raises(ValueError, match="unknown unit 341881"):
        load_gazetteer(path, units)


def test_one_name_for_two_places_is_refused(tmp_path: Path) -> None:
    path, units = _gazetteer_file(
        tmp_path,
        'roads:\n  - {zh: 幸福路, en: Xingfu Road, unit: "341802"}\n'
        '  - {zh: 幸福大道, en: Xingfu Road, unit: "341802"}\n',
    )
    with pytest.raises(ValueError, match="names both"):
        load_gazetteer(path, units)


def test_a_curated_place_keeps_a_name_a_unit_has_as_alias(tmp_path: Path) -> None:
    path, units = _gazetteer_file(
        tmp_path, 'landmarks:\n  - {zh: 宣州, en: Xuanzhou Landmark, unit: "341802"}\n'
    )
    gazetteer = load_gazetteer(path, units)
    found = gazetteer.find("宣州")
    assert found is not None and found.type == "landmark"
    assert gazetteer.find("宣州区") is not None


# --- identifiers --------------------------------------------------------------------------------


def test_case_numbers_dashed_and_bare_come_back_canonical() -> None:
    text = "我上周反映的261127-00042和昨天的26112800007都没有回音"
    cases = _of("case_number", text)
    assert [c.value for c in cases] == ["261127-00042", "261128-00007"]
    assert [text[c.start : c.end] for c in cases] == ["261127-00042", "26112800007"]


def test_a_phone_is_not_a_case_number_and_a_wrong_date_is_neither() -> None:
    text = "电话13912345678，编号261399-00042"
    assert _of("case_number", text) == []
    assert [p.value for p in _of("phone", text)] == ["8613912345678"]


def test_phones_are_entities_with_e164_digits() -> None:
    text = "Call me on +86 139-1234-5678 or at the office on 0571-87654321"
    assert [(p.value, text[p.start : p.end]) for p in _of("phone", text)] == [
        ("8613912345678", "+86 139-1234-5678"),
        ("8657187654321", "0571-87654321"),
    ]


# --- places -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "surface", "value"),
    [
        ("昨天晚上宣州区幸福路上又有人飙车", "宣州区", "宣州区"),
        ("昨天晚上宣州区幸福路上又有人飙车", "幸福路", "幸福路"),
        ("幸福南路的窨井盖松动了，车一压就响", "幸福南路", "幸福南路"),
        ("我住在光明路18号院，楼下出租屋天天吵", "光明路18号院", "光明路18号"),
        ("在幸福路菜市场门口电动车被偷了", "幸福路菜市场", "幸福路菜市场"),
        ("我的车停在东湖小区里被人划了", "东湖小区", "东湖小区"),
        ("在火车站打车司机不打表", "火车站", "宣城站"),
        ("The manhole cover on South Xingfu Road is loose", "South Xingfu Road", "幸福南路"),
        ("Drunk people fight outside the bars on Jiefang Street", "Jiefang Street", "解放街"),
        ("The pavement outside 25 Renmin Rd is broken", "25 Renmin Rd", "人民路25号"),
        ("Kids play in People's Park until late", "People's Park", "人民公园"),
    ],
)
def test_gazetteer_places_longest_match_with_canonical_values(
    text: str, surface: str, value: str
) -> None:
    places = _of("place", text)
    found = {text[p.start : p.end]: p for p in places}
    assert surface in found, places
    assert found[surface].value == value
    assert found[surface].source == "gazetteer"


@pytest.mark.parametrize(
    ("text", "surface"),
    [
        ("我住在枫林路18号，楼下烧烤店太吵", "枫林路18号"),
        ("长虹街12-3号门口的垃圾一直没人清", "长虹街12-3号"),
        ("我家在翠竹苑，小区里的路灯坏了", "翠竹苑"),
        ("桃李小区3栋的电梯又停了", "桃李小区"),
        ("天成公寓的物业乱收费", "天成公寓"),
        ("光华东路上的红绿灯坏了", "光华东路"),
        ("在金沙巷口有人乱倒垃圾", "金沙巷"),
        ("Someone dumps rubbish at 12 Oak Lane every week", "12 Oak Lane"),
        ("The lights on birch road have been out for days", "birch road"),
        ("There is a pothole on Willow Street near the school", "Willow Street"),
    ],
)
def test_addresses_not_in_the_gazetteer_are_found_by_pattern(text: str, surface: str) -> None:
    places = [p for p in _of("place", text) if p.source == "pattern"]
    assert [text[p.start : p.end] for p in places] == [surface]
    assert places[0].value == surface


@pytest.mark.parametrize(
    "text",
    [
        "行人过马路非常危险",
        "这条路上的路灯不亮",
        "我们小区的物业不作为",
        "老旧小区改造一直没动静",
        "新建的道路又被挖开了",
        "每天早上等21路公交车",
        "社区让我去找街道办",
        "公交线路调整后不方便",
        "网约车司机半路把我赶下车",
        "村里修的水泥路坏了",
        "Half the street lamps are out",
        "Street racers roar along the riverside road every night",
        "The bus lane is always blocked",
    ],
)
def test_generic_roads_and_compounds_are_not_places(text: str) -> None:
    assert _of("place", text) == []


# --- time expressions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "surface"),
    [
        ("今天又停水了", "今天"),
        ("昨天下午在路口被撞了", "昨天下午"),
        ("前天夜里有人撬门", "前天夜里"),
        ("今晚还在施工", "今晚"),
        ("吵到凌晨两点才停", "凌晨两点"),
        ("晚上十一点以后还在打桩", "晚上十一点以后"),
        ("每天晚上都有人在楼下喝酒", "每天晚上"),
        ("上周反映过一次", "上周"),
        ("停水三天了", "三天"),
        ("路灯坏了一个多月了", "一个多月"),
        ("投诉了两个星期没人管", "两个星期"),
        ("星期三下午来过一次", "星期三下午"),
        ("11月20日上午已经报修", "11月20日"),
        ("2026年11月20日下的单", "2026年11月20日"),
        ("约好10:30上门维修", "10:30"),
        ("晚上十点到凌晨两点一直在响", "晚上十点到凌晨两点"),
        ("It started today", "today"),
        ("They came yesterday and left", "yesterday"),
        ("The noise went on all through last night", "last night"),
        ("No water since Monday", "since Monday"),
        ("The light has been out for two weeks", "for two weeks"),
        ("They start drilling at 11 pm", "at 11 pm"),
        ("I called three days ago", "three days ago"),
        ("Every Friday night the bar is full", "Every Friday night"),
    ],
)
def test_time_expressions(text: str, surface: str) -> None:
    assert surface in _surfaces("time", text)


@pytest.mark.parametrize(
    "text",
    [
        "声音能不能小一点",
        "我有两点建议",
        "孩子上一年级了",
        "四周都是垃圾",
        "押金3000元不退",
        "我住在18号楼",
    ],
)
def test_things_that_look_like_times_but_are_not(text: str) -> None:
    assert _of("time", text) == []


# --- all together -------------------------------------------------------------------------------

SENTENCES = [
    "我住在光明路18号院，案件号261127-00042，电话13912345678，昨天晚上十一点以后楼下还在吵",
    "解放路和人民路交叉口路面塌陷了一个大坑，已经三天了，联系电话0571-87654321",
    "My case 26112700042: since Monday the lights on Harbour Road are out, call +86 139 1234 5678",
    "每天早上在火车站北广场等25路公交，车一来全是人，根本挤不上去",
    "我家在阳光小区住了五年，2026年9月1日孩子上小学却被告知不在划片范围内",
]


def _every_text() -> list[str]:
    return SENTENCES + [example.text for example in load_examples(default_data_path())]


def test_offsets_point_at_the_surface_and_nothing_of_one_kind_overlaps() -> None:
    for text in _every_text():
        entities = extract_entities(text)
        assert list(entities) == sorted(entities, key=lambda e: (e.start, e.end, e.kind))
        for entity in entities:
            assert 0 <= entity.start < entity.end <= len(text)
            surface = text[entity.start : entity.end]
            assert surface == surface.strip() and surface, (text, entity)
            if entity.kind == "time" or (entity.kind == "place" and entity.source == "pattern"):
                assert entity.value == " ".join(surface.split())
        for kind in {e.kind for e in entities}:
            spans = [(e.start, e.end) for e in entities if e.kind == kind]
            assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


def test_one_sentence_with_every_kind() -> None:
    text = SENTENCES[0]
    by_kind = {(e.kind, text[e.start : e.end]): e.value for e in extract_entities(text)}
    assert by_kind == {
        ("place", "光明路18号院"): "光明路18号",
        ("case_number", "261127-00042"): "261127-00042",
        ("phone", "13912345678"): "8613912345678",
        ("time", "昨天晚上十一点以后"): "昨天晚上十一点以后",
    }


def test_identifiers_win_over_times_and_places_inside_them() -> None:
    text = "案件号261127-00042，电话0571-87654321"
    kinds = [e.kind for e in extract_entities(text)]
    assert kinds == ["case_number", "phone"]


def test_nothing_in_nothing() -> None:
    assert extract_entities("") == ()
    assert extract_entities("谢谢！") == ()


def test_district_of_is_the_first_name_in_longest_first_order_the_text_holds() -> None:
    """The one-pass search gives what checking every name in turn gives."""
    names = [name for name, _ in _districts()]

    def in_turn(text: str) -> str | None:
        folded = text.casefold()
        return next((district for name, district in _districts() if name in folded), None)

    texts = [
        "",
        "路灯坏了",
        *names[::7],
        *(a + "旁边的" + b for a, b in zip(names[::5], names[3::11])),
    ]
    texts += ["".join(names[i : i + 3]).upper() for i in range(0, len(names), 17)]
    assert any(in_turn(t) for t in texts) and any(in_turn(t) is None for t in texts)
    assert [district_of(t) for t in texts] == [in_turn(t) for t in texts]
