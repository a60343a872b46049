"""The taxonomy with the units tree: every county's departments, every township's and
village's office, and the matters that always stay with the city."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicline.domain.errors import InvalidInput
from civicline.domain.taxonomy import Taxonomy
from civicline.storage.taxonomy_file import load_taxonomy
from civicline.storage.units_file import load_units

UNITS = Path(__file__).resolve().parents[1] / "data" / "units.yml"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(units_path=UNITS)


def test_each_county_has_the_listed_kinds_and_each_township_its_office(taxonomy: Taxonomy) -> None:
    hr = taxonomy.department("341881.human_resources")
    assert (hr.name_zh, hr.unit) == ("宁国市人社局", "341881")
    assert hr.name_en == "Ningguo City Human Resources and Social Security Bureau"
    assert taxonomy.department("341802.city_management").name_zh == "宣州区城管局"
    assert taxonomy.department("341802003.office").name_zh == "鳌峰街道办事处"
    assert taxonomy.department("341881102.office").name_zh == "港口镇人民政府"
    assert taxonomy.department("341881102201.office").name_zh == "山门村村委会"
    # the city's own keep their codes and belong to the root; no county has a discipline body
    assert taxonomy.department("human_resources").unit == "341800"
    assert "341881.discipline_commission" not in taxonomy.departments
    kinds = {kind.kind for kind in taxonomy.county_departments}
    assert {d.code for d in taxonomy.departments_of("341881")} == {
        f"341881.{kind}" for kind in kinds
    }
    assert [d.code for d in taxonomy.departments_of("341881003")] == ["341881003.office"]
    assert taxonomy.unit_of("341881003.office") == "341881003"
    assert taxonomy.unit_of("nowhere") is None


def test_city_level_matters(taxonomy: Taxonomy) -> None:
    assert taxonomy.is_city_level("discipline")
    assert taxonomy.is_city_level("organisation_personnel")
    assert taxonomy.is_city_level("party_government")
    assert not taxonomy.is_city_level("labour_social_security")


def test_without_a_tree_only_the_city_departments() -> None:
    plain = load_taxonomy(units_path=None)
    assert plain.units is None and plain.department("human_resources").unit is None
    assert not any("." in code for code in plain.departments)


BASE_TRANSPORT: dict[str, object] = {
    "zh": "交通",
    "en": "Transport",
    "department": "transport",
    "accept_hours": 24,
    "complete_working_days": 5,
}
BASE: dict[str, object] = {
    "triage_department": "hotline",
    "departments": {
        "hotline": {"zh": "热线", "en": "Hotline"},
        "transport": {"zh": "交通局", "en": "Transport"},
    },
    "categories": {"transport": BASE_TRANSPORT},
}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"county_departments": {"nowhere": {"zh": "局", "en": "Bureau"}}}, "not a city"),
        ({"county_departments": {"transport": {"zh": "", "en": "Bureau"}}}, "non-empty"),
    ],
)
def test_broken_county_departments(extra: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Taxonomy.from_dict({**BASE, **extra}, units=load_units(UNITS))


def test_city_level_must_be_a_flag() -> None:
    category = {**BASE_TRANSPORT, "city_level": "yes"}
    with pytest.raises(InvalidInput, match="true or false"):
        Taxonomy.from_dict({**BASE, "categories": {"transport": category}})


def test_routed_by_matter_and_place(taxonomy: Taxonomy) -> None:
    wages = "labour_social_security"
    assert taxonomy.routed(wages, None, "341881003") == "341881.human_resources"  # township
    assert taxonomy.routed(wages, None, "341881102201") == "341881.human_resources"  # village
    assert taxonomy.routed(wages, None, "341802") == "341802.human_resources"  # county
    assert taxonomy.routed(wages, None, None) == "human_resources"  # no place
    assert taxonomy.routed(wages, None, "341800") == "human_resources"  # the city itself
    assert taxonomy.routed(wages, None, "999999") == "human_resources"  # unknown place
    assert taxonomy.routed("discipline", None, "341881003") == "discipline_commission"
    # a kind no county has stays with the city (the hotline centre takes "other")
    assert taxonomy.routed("other", None, "341881003") == taxonomy.department_for("other")
