"""What a complaint names, read for incident grouping (nlu.addresses)."""

from __future__ import annotations

import pytest

from civicline.domain.incidents import IncidentPolicy, Signature
from civicline.nlu.addresses import number, signature
from civicline.storage.taxonomy_file import load_taxonomy

TAXONOMY = load_taxonomy()


def read(text: str) -> Signature:
    return signature(text, taxonomy=TAXONOMY, policy=IncidentPolicy())


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("18", 18),
        ("三", 3),
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("一百零五", 105),
        ("x", None),
    ],
)
def test_numbers_in_digits_and_chinese(text: str, value: int | None) -> None:
    assert number(text) == value


@pytest.mark.parametrize(
    ("text", "buildings"),
    [
        ("红星小区3号楼电梯坏了", {"3"}),
        ("红星小区3栋电梯坏了", {"3"}),
        ("红星小区三号楼电梯坏了", {"3"}),
        ("红星小区十二幢的楼顶", {"12"}),
        ("锦绣花园B座电梯", {"b"}),
        ("Building 3 of Jinxiu Garden", {"3"}),
        ("沿江路233号楼的电梯坏了", {"233"}),  # the house number names the building
        ("两栋楼之间的路灯坏了", set()),  # "two buildings", no number
        ("11月20号停电", set()),  # a date, not a building
    ],
)
def test_buildings(text: str, buildings: set[str]) -> None:
    assert read(text).buildings == buildings


def test_compounds_roads_houses_and_landmarks() -> None:
    found = read("宁国市红星小区旁边，沿江路233号门口")
    assert found.compounds == {"红星小区"} and found.roads == {"沿江路"}
    assert found.houses == {"沿江路#233"}
    assert read("翠竹苑3号楼电梯坏了").compounds == {"翠竹苑"}  # not in the gazetteer
    assert read("枫林路18号旁边的工地").houses == {"枫林路#18"}
    assert read("The streetlight outside 12 Harbour Road is out").houses == {"港湾路#12"}
    assert read("人民公园广场舞太吵了").landmarks == {"人民公园"}


def test_units_rooms_and_the_dashed_address() -> None:
    found = read("我家在阳光小区5栋2单元502，楼上漏水")
    assert (found.buildings, found.units, found.rooms) == ({"5"}, {"2"}, {"502"})
    dashed = read("住在5-2-502，楼上天天半夜蹦迪")
    assert (dashed.buildings, dashed.units, dashed.rooms) == ({"5"}, {"2"}, {"502"})
    assert read("2026-11-20停电").rooms == set()  # a date is not an address


def test_bus_and_metro_lines() -> None:
    assert read("21路公交车经常不按站停车").routes == {"21"}
    assert read("坐35路车上班，司机急刹车").routes == {"35"}
    assert read("地铁3号线早高峰太挤").routes == {"m3"}
    assert read("Bus 42 skipped our stop again").routes == {"42"}
    assert read("解放路公交站台坏了").routes == set()


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("11月20日晚上停电", {"11-20"}),
        ("2026年11月20号停电", {"11-20"}),
        ("2026-11-20停电", {"11-20"}),
        ("十一月二十日停电", {"11-20"}),
        ("The power went out on Nov 20", {"11-20"}),
        ("since 20th November", {"11-20"}),
    ],
)
def test_dates(text: str, dates: set[str]) -> None:
    assert read(text).dates == dates


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("晚上10点到12点一直施工", {"22", "0"}),
        ("凌晨两点还在打桩", {"2"}),
        ("半夜11点还在蹦迪", {"23"}),
        ("下午三点半停电了", {"15"}),
        ("中午1点开始停水", {"13"}),
        ("22:30还在放音乐", {"22"}),
        ("noise until 11pm every night", {"23"}),
        ("有一点吵，差一点摔倒", set()),
    ],
)
def test_clock_hours(text: str, hours: set[str]) -> None:
    assert read(text).hours == hours


def test_what_happened() -> None:
    lift = read("电梯坏了，物业也不管")
    assert lift.topic == "elevators" and lift.topics == {"elevators"}  # 物业: said of anything
    assert read("幸福路停水了").outage == "water"
    assert read("整栋楼都没电了").outage == "power"
    assert read("暖气不热，屋里只有十几度").outage == "heat"
    assert read("楼上漏水渗到我家").outage is None  # a leak is not an outage
