"""The city's routing table: the shipped file, and what a broken file does."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.taxonomy import KeywordIndex, Subcategory, Taxonomy
from civicline.storage.taxonomy_file import load_taxonomy

NATIONAL_CATEGORIES = {
    "政法",
    "科技与信息产业",
    "纪检监察",
    "党务政务",
    "国土资源",
    "教育文体",
    "劳动和社会保障",
    "城乡建设",
    "农村农业",
    "卫生计生",
    "环境保护",
    "交通运输",
    "民政",
    "经济管理",
    "商贸旅游",
    "组织人事",
    "其他",
}

VALID = """\
triage_department: hotline
departments:
  hotline: {zh: 热线中心, en: Hotline}
  transport: {zh: 交通局, en: Transport Bureau}
categories:
  transport: {zh: 交通运输, en: Transport, department: transport,
              accept_hours: 24, complete_working_days: 5}
"""


@pytest.fixture(scope="module")
def shipped() -> Taxonomy:
    return load_taxonomy()


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "taxonomy.yml"
    path.write_text(text, encoding=encoding)
    return path


def test_shipped_file_has_the_17_national_categories(shipped: Taxonomy) -> None:
    names = [c.name_zh for c in shipped.categories.values()]
    assert len(names) == 17
    assert set(names) == NATIONAL_CATEGORIES


def test_shipped_categories_name_real_departments(shipped: Taxonomy) -> None:
    for category in shipped.categories.values():
        department = shipped.department(category.department)
        assert department.name_zh.strip(), department.code
        assert department.name_en.strip(), department.code
        assert category.name_en.strip(), category.code
        assert category.accept_hours > 0
        assert category.complete_working_days > 0


def test_shipped_triage_department_exists_and_other_goes_there(shipped: Taxonomy) -> None:
    assert shipped.triage_department in shipped.departments
    assert shipped.category("other").department == shipped.triage_department


def test_a_valid_file_loads(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, VALID), None)
    category = taxonomy.category("transport")
    assert (category.department, category.accept_hours, category.complete_working_days) == (
        "transport",
        24,
        5,
    )
    assert taxonomy.department("hotline").name_en == "Hotline"


def test_unknown_codes_raise_not_found(shipped: Taxonomy) -> None:
    with pytest.raises(NotFound) as category_error:
        shipped.category("potholes_on_mars")
    assert category_error.value.what == "category"
    assert category_error.value.key == "potholes_on_mars"
    with pytest.raises(NotFound) as department_error:
        shipped.department("ministry_of_magic")
    assert department_error.value.what == "department"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (VALID.replace("triage_department: hotline\n", ""), "triage_department"),
        (VALID.replace("department: transport,", "department: police,"), "police"),
        (VALID.replace("triage_department: hotline", "triage_department: nobody"), "nobody"),
        (VALID.replace(", en: Transport,", ","), "'en'"),
        (VALID.replace("accept_hours: 24", "accept_hours: soon"), "soon"),
        (VALID.replace("complete_working_days: 5", "complete_working_days: 0"), "deadlines"),
        ("- just\n- a list\n", "mapping"),
        ("", "mapping"),
        ("departments: [oops\n", "cannot read"),
        (
            VALID.replace("  hotline: {zh: 热线中心, en: Hotline}", "  hotline: 热线中心"),
            "malformed",
        ),
    ],
    ids=[
        "missing-key",
        "unknown-department",
        "unknown-triage",
        "missing-name",
        "non-integer-hours",
        "zero-deadline",
        "list",
        "empty",
        "bad-yaml",
        "department-not-a-mapping",
    ],
)
def test_malformed_files_raise_a_clear_invalid_input(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_taxonomy(write(tmp_path, text), None)


def test_unreadable_path_raises_invalid_input(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    with pytest.raises(InvalidInput, match=r"nowhere\.yml"):
        load_taxonomy(missing, None)


def test_non_utf8_file_raises_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        load_taxonomy(write(tmp_path, VALID, encoding="gbk"), None)


def test_empty_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        load_taxonomy(write(tmp_path, VALID.replace("zh: 交通局", "zh: ")), None)


SUBCATEGORIES = """
subcategories:
  transport:
    buses: {zh: 公交, en: Buses, keywords: [公交, Bus]}
    roads: {zh: 道路, en: Roads, keywords: [坑, pothole, road]}
"""


def test_a_subcategory_is_the_one_whose_keywords_the_text_names_most(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write(tmp_path, VALID + SUBCATEGORIES), None)

    def code(text: str) -> str | None:
        found = taxonomy.subcategory_for("transport", text)
        return found.code if found else None

    assert code("公交站台旁边有个大坑") == "buses"  # one hit each: the first listed wins
    assert code("The BUS lane has a pothole and the road is cracked") == "roads"
    assert code("路上到处都是垃圾") is None
    assert taxonomy.subcategory_for("other", "公交") is None  # a category without any


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SUBCATEGORIES.replace("  transport:", "  trains:"), "unknown category trains"),
        (SUBCATEGORIES.replace("keywords: [公交, Bus]", "keywords: []"), "needs keywords"),
        (SUBCATEGORIES.replace("keywords: [公交, Bus]", "keywords: 公交"), "must be a list"),
        (SUBCATEGORIES.replace("en: Buses, ", ""), "'en'"),
    ],
    ids=["unknown-category", "no-keywords", "keywords-not-a-list", "missing-name"],
)
def test_malformed_subcategories_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_taxonomy(write(tmp_path, VALID + text), None)


def test_shipped_subcategories_belong_to_shipped_categories(shipped: Taxonomy) -> None:
    assert len(shipped.subcategories) >= 6
    found = shipped.subcategory_for("labour_social_security", "公司拖欠工资三个月了")
    assert found is not None and found.code == "wage_arrears"


def test_training_files_add_sub_categories_with_their_departments(tmp_path: Path) -> None:
    training = tmp_path / "training"
    training.mkdir()
    (training / "transport.yml").write_text(
        "category: transport\n"
        "subcategories:\n"
        "  buses: {zh: 公交, en: Buses, department: hotline, keywords: [站台], examples: [x]}\n"
        "  ferries: {zh: 轮渡, en: Ferries, department: hotline, examples: [y]}\n",
        encoding="utf-8",
    )
    (training / "not_complaint.yml").write_text(
        "category: none\nsubcategories:\n  chat: {zh: 闲聊, en: Chat, examples: [z]}\n",
        encoding="utf-8",
    )
    subs = "subcategories:\n  transport:\n    buses: {zh: 公共汽车, en: Bus, keywords: [公交]}\n"
    taxonomy = load_taxonomy(write(tmp_path, VALID + subs), training)

    buses, ferries = taxonomy.subcategories["transport"]
    # The data file's names win, the training file's department applies, the keywords join.
    assert (buses.name_zh, buses.department, buses.keywords) == (
        "公共汽车",
        "hotline",
        ("公交", "站台"),
    )
    assert (ferries.code, ferries.keywords) == ("ferries", ())
    assert taxonomy.department_for("transport", "ferries") == "hotline"
    assert taxonomy.department_for("transport", None) == "transport"
    assert taxonomy.subcategory_named("transport", "轮渡") == ferries

    (training / "transport.yml").write_text(
        "category: transport\nsubcategories:\n"
        "  ferries: {zh: 轮渡, en: Ferries, department: harbour, examples: [y]}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="unknown department harbour"):
        load_taxonomy(write(tmp_path, VALID), training)


def test_shipped_outside_units_and_shares(shipped: Taxonomy) -> None:
    outside = {code for code, d in shipped.departments.items() if d.outside}
    assert outside == {"power_utility", "water_utility", "gas_utility", "telecom_operators"}
    shares = shipped.shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    common = min(shares["urban_rural_construction"], shares["labour_social_security"])
    rare = max(shares[c] for c in ("discipline", "organisation_personnel", "party_government"))
    assert common > 5 * rare
    assert shipped.department_for("urban_rural_construction", "street_vending") == (
        "city_management"
    )


def test_the_keyword_index_counts_what_each_sub_category_counts(shipped: Taxonomy) -> None:
    subs = [sub for listed in shipped.subcategories.values() for sub in listed]
    words = [word for sub in subs for word in sub.keywords]
    texts = ["", "a", "水", "小区的电梯又坏了，物业不管", "the streetlight is out, no water"]
    texts += words  # each keyword alone, its first two characters, and keywords side by side
    texts += [word[:2] for word in words]
    texts += ["，".join(words[i : i + 7]) for i in range(0, len(words), 5)]
    for text in texts:
        folded = text.casefold()
        expected = [(sub, sub.hits(folded)) for sub in subs if sub.hits(folded)]
        assert shipped.keywords.hits(folded) == expected, text
    index = KeywordIndex.of(
        [
            Subcategory("one", "c", "一", "one", ("x", "", "xy")),
            Subcategory("two", "c", "二", "two", ("yz",)),
        ]
    )
    assert [(s.code, n) for s, n in index.hits("xyz")] == [("one", 3), ("two", 1)]
    assert [(s.code, n) for s, n in index.hits("")] == [("one", 1)]
