"""Place recognition on real address forms of 宣城市, with the unit each place gives routing,
and the nearest unit to a shared location."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicline.domain.units import UnitTree
from civicline.nlu.divisions import build_units, render_units
from civicline.nlu.entities import (
    default_gazetteer,
    default_units_path,
    extract_entities,
    use_units,
    warm_up,
)
from civicline.nlu.places import nearest_unit, places_in, unit_of

# (text, the unit to route by): with and without the city's prefix, in Chinese and in
# pinyin / English, the most specific unit named.
ADDRESSES = [
    ("宣城市宣州区鳌峰街道", "341802003"),
    ("宣州区鳌峰街道", "341802003"),
    ("鳌峰街道", "341802003"),
    ("宁国市河沥溪街道", "341881003"),
    ("广德市桃州镇", "341882100"),
    ("泾县", "341823"),
    ("Jingxian", "341823"),
    ("Ningguo City Helixi Subdistrict", "341881003"),
    ("宣城市宁国市西津街道", "341881001"),
    ("安徽省宣城市郎溪县建平镇", "341821100"),
    ("郎溪建平镇", "341821100"),
    ("郎溪县 郎川街道", "341821002"),
    ("旌德县旌阳镇", "341825100"),
    ("泾县桃花潭镇", "341823101"),
    ("泾县云岭镇", "341823109"),
    ("绩溪县上庄镇", "341824103"),
    ("绩溪县瀛洲镇龙川村", "341824107"),
    ("宣州区水阳镇", "341802111"),
    ("宁国港口镇", "341881100"),
    ("宁国市青龙乡", "341881205"),
    ("宁国市云梯畲族乡", "341881200"),
    ("广德市祠山街道", "341882002"),
    ("宣城市广德市新杭镇太极洞", "341882104"),
    ("宣州区济川街道叠嶂东路18号", "341802004"),
    ("我住在宁国市河沥溪街道宁阳东路，路灯坏了", "341881003"),
    ("Xuancheng, Xuanzhou District, Aofeng Subdistrict", "341802003"),
    ("Aofeng Subdistrict, Xuanzhou", "341802003"),
    ("Guangde City Taozhou Town", "341882100"),
    ("Langxi County Jianping Town", "341821100"),
    ("Shuiyang Town, Xuanzhou District", "341802111"),
    ("Jixi County", "341824"),
    ("Jingde County", "341825"),
    ("Xuanzhou District", "341802"),
    ("Ningguo", "341881"),
    ("Guangde", "341882"),
    ("Taozhou", "341882100"),
    ("Helixi", "341881003"),
    ("the landfill near Jingxian County is on fire", "341823"),
    ("xuancheng city jingxian", "341823"),
    ("敬亭山上有人乱扔垃圾", "341802005"),
    ("桃花潭景区门票涨价了", "341823101"),
    ("在宣城站打车司机不打表", "341802"),
    ("宁国市人民医院挂号难", "341881"),
]


@pytest.mark.parametrize(("text", "unit"), ADDRESSES)
def test_real_address_forms_give_the_most_specific_unit(text: str, unit: str) -> None:
    assert unit_of(text) == unit


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("宣城市宣州区鳌峰街道", "鳌峰街道", "341802003"),
        ("宁国市河沥溪街道", "河沥溪街道", "341881003"),
        ("广德市桃州镇", "桃州镇", "341882100"),
        ("Ningguo City Helixi Subdistrict", "河沥溪街道", "341881003"),
        ("Xuancheng, Xuanzhou District, Aofeng Subdistrict", "鳌峰街道", "341802003"),
    ],
)
def test_an_address_s_administrative_part_is_one_place(text: str, value: str, unit: str) -> None:
    (place,) = places_in(text)
    assert (place.zh, place.unit, place.level, place.kind) == (value, unit, "township", "township")
    assert (place.start, place.end) == (0, len(text))
    (entity,) = [e for e in extract_entities(text) if e.kind == "place"]
    assert (entity.value, entity.unit, entity.source) == (value, unit, "gazetteer")


def test_a_road_after_the_units_is_a_place_of_its_own_with_its_unit() -> None:
    places = places_in("宣州区济川街道叠嶂东路18号门口的井盖坏了")
    assert [(p.zh, p.unit, p.kind) for p in places] == [
        ("济川街道", "341802004", "township"),
        ("叠嶂东路18号", "341802004", "road"),
    ]


def test_the_city_alone_is_no_unit_to_route_by() -> None:
    assert [p.unit for p in places_in("宣城市")] == ["341800"]
    assert unit_of("宣城市的公交车太少了") is None
    assert unit_of("楼下烧烤店太吵了") is None


def test_named_units_win_over_a_place_of_another_county() -> None:
    # 叠嶂路 is in 宣州区; the text says 宁国市: routing follows what the citizen said
    assert unit_of("宁国市的叠嶂路上有坑") == "341881"


@pytest.mark.parametrize(
    "text",
    [
        "重新发放补贴要等多久",  # 新发 (新发镇) inside 重新发放
        "医生开了阿莫西林",  # 西林 (西林街道) inside a word
        "港口的货车太吵了",  # 港口 is a harbour, not 港口镇
        "十字路口红绿灯坏了",  # 十字 is a cross, not 十字镇
        "Jing is my name",  # one syllable is no county
    ],
)
def test_a_township_s_short_name_inside_other_words_is_no_place(text: str) -> None:
    assert unit_of(text) is None


def test_a_short_name_on_its_own_is_the_township() -> None:
    assert unit_of("我家住在新发，村里的路坏了") == "341821108"
    assert unit_of("鳌峰这边停水了") == "341802003"


def test_the_nearest_unit_to_a_location_is_a_county_seat() -> None:
    ningguo = nearest_unit(30.62, 118.99)
    assert ningguo is not None
    assert (ningguo.unit, ningguo.zh, ningguo.level) == ("341881", "宁国市", "county")
    assert ningguo.km < 3
    xuanzhou = nearest_unit(30.95, 118.76)
    assert xuanzhou is not None and xuanzhou.unit == "341802"  # not the city's own point
    guangde = nearest_unit(30.89, 119.41)
    assert guangde is not None and guangde.unit == "341882"


def test_a_location_outside_the_city_or_invalid_has_no_unit() -> None:
    assert nearest_unit(31.82, 117.23) is None  # 合肥
    assert nearest_unit(91.0, 118.0) is None


def test_with_township_points_the_nearest_is_a_township() -> None:
    tree = UnitTree.from_dict(
        {
            "city": {"code": "341800", "zh": "宣城市", "lat": 30.94, "lon": 118.76},
            "units": [
                {
                    "code": "341802",
                    "zh": "宣州区",
                    "level": "county",
                    "parent": "341800",
                    "lat": 30.944,
                    "lon": 118.786,
                },
                {
                    "code": "341802003",
                    "zh": "鳌峰街道",
                    "level": "township",
                    "parent": "341802",
                    "lat": 30.95,
                    "lon": 118.75,
                },
                {
                    "code": "341802111",
                    "zh": "水阳镇",
                    "level": "township",
                    "parent": "341802",
                    "lat": 31.12,
                    "lon": 118.85,
                },
            ],
        }
    )
    found = nearest_unit(31.10, 118.84, tree=tree)
    assert found is not None and found.unit == "341802111"
    found = nearest_unit(30.944, 118.786, tree=tree)
    assert found is not None and found.unit == "341802"


def test_another_city_s_units_file_gives_its_units_as_places(tmp_path: Path) -> None:
    units = tmp_path / "units.yml"
    units.write_text(render_units(build_units("340100")), encoding="utf-8")
    try:
        warm_up(units)
        assert unit_of("合肥市包河区") == "340111"
        assert unit_of("宁国市河沥溪街道") is None  # 宣城's units are not this city's
        assert unit_of("敬亭山") is None  # nor are the shipped gazetteer's landmarks
    finally:
        use_units(default_units_path())
    assert unit_of("宁国市河沥溪街道") == "341881003"
    assert unit_of("敬亭山") == "341802005"


def test_every_unit_is_recognised_by_its_names_with_its_code() -> None:
    gazetteer = default_gazetteer()
    assert gazetteer.tree is not None
    for unit in gazetteer.tree:
        for name in (unit.name_zh, unit.name_en):
            found = places_in(f"我住在{name}，门口的路坏了")
            assert [(p.zh, p.unit) for p in found] == [(unit.name_zh, unit.code)], name
