"""Which unit a complaint's place lies in, for routing: the operator's choice, a unit the words
name outright, or the one nearest a shared location."""

from __future__ import annotations

import pytest

from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.cases import Confirmed, place_unit
from civicline.storage.taxonomy_file import load_taxonomy

NINGGUO_SEAT = (30.633882, 118.983171)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("宁国市河沥溪街道某工地拖欠工资", "341881003"),
        ("宣城市宣州区鳌峰街道的路灯坏了", "341802003"),
        ("广德市桃州镇菜市场", "341882100"),
        ("泾县的一个工厂", "341823"),
        ("幸福路88号的路灯坏了", None),  # a road alone: the same names recur across counties
        ("路灯坏了", None),
    ],
)
def test_the_words(taxonomy: Taxonomy, text: str, expected: str | None) -> None:
    assert place_unit(text, Confirmed(), taxonomy) == expected


def test_the_operator_wins_and_a_location_comes_last(taxonomy: Taxonomy) -> None:
    assert place_unit("宣州区鳌峰街道", Confirmed(unit="341881"), taxonomy) == "341881"
    assert place_unit("路灯坏了", Confirmed(unit="nowhere"), taxonomy) is None
    assert place_unit("路灯坏了", Confirmed(location=NINGGUO_SEAT), taxonomy) == "341881"
    assert place_unit("路灯坏了", Confirmed(), taxonomy, NINGGUO_SEAT) == "341881"
    assert place_unit("泾县的工厂", Confirmed(), taxonomy, NINGGUO_SEAT) == "341823"
    assert place_unit("路灯坏了", Confirmed(), taxonomy, (39.9, 116.4)) is None  # Beijing
    assert place_unit("宁国市", Confirmed(), load_taxonomy(units_path=None)) is None
