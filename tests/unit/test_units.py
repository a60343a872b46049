"""The units tree: paths, subtrees, chains and the checks on the units file."""

from __future__ import annotations

import pytest

from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.units import Level, UnitTree, department_code, split_department_code

CITY = {"code": "341800", "zh": "宣城市", "en": "Xuancheng"}
UNITS: list[dict[str, object]] = [
    {
        "code": "341802",
        "zh": "宣州区",
        "en": "Xuanzhou District",
        "level": "county",
        "parent": "341800",
    },
    {
        "code": "341881",
        "zh": "宁国市",
        "en": "Ningguo City",
        "level": "county",
        "parent": "341800",
    },
    {
        "code": "341802001",
        "zh": "鳌峰街道",
        "level": "township",
        "parent": "341802",
        "aliases": ["鳌峰"],
    },
    {
        "code": "341881001",
        "zh": "河沥溪街道",
        "level": "township",
        "parent": "341881",
        "lat": 30.6,
        "lon": 118.9,
    },
]
RAW = {"city": CITY, "units": UNITS}


def test_paths_subtrees_and_chains() -> None:
    tree = UnitTree.from_dict(RAW)
    assert tree.city.code == "341800" and len(tree) == 5
    assert tree.unit("341881001").path == "341800/341881/341881001/"
    assert [u.code for u in tree.subtree("341881")] == ["341881", "341881001"]
    assert [u.code for u in tree.chain("341802001")] == ["341802001", "341802", "341800"]
    assert tree.contains("341800", "341881001") and tree.contains("341881", "341881")
    assert not tree.contains("341802", "341881001") and not tree.contains("341802", "nope")
    assert tree.county_of("341881001").code == "341881"  # type: ignore[union-attr]
    assert tree.county_of("341800") is None
    assert tree.unit("341802001").aliases == ("鳌峰",)
    assert tree.unit("341802001").name_en == "鳌峰街道"  # no English given: the Chinese name
    assert tree.unit("341881001").latitude == 30.6
    assert [u.code for u in tree.children("341800")] == ["341802", "341881"]
    assert Level.VILLAGE.depth == 3
    with pytest.raises(NotFound):
        tree.unit("999999")


def test_department_codes() -> None:
    assert department_code("341881", "human_resources") == "341881.human_resources"
    assert split_department_code("341881.human_resources") == ("341881", "human_resources")
    assert split_department_code("human_resources") == (None, "human_resources")


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ([{"code": "1", "zh": "x", "level": "county", "parent": "nowhere"}], "not listed before"),
        ([{"code": "1", "zh": "x", "level": "city", "parent": "341800"}], "cannot lie in"),
        ([{"code": "1", "zh": "x", "level": "county", "parent": "341800"}] * 2, "listed twice"),
        ([{"code": "a.b", "zh": "x", "level": "county", "parent": "341800"}], "without"),
        ([{"code": "1", "zh": "x", "level": "province", "parent": "341800"}], "malformed"),
        ([{"code": "1", "level": "county", "parent": "341800"}], "malformed"),
    ],
)
def test_bad_units_files_are_refused(units: list[dict[str, str]], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        UnitTree.from_dict({"city": CITY, "units": units})
