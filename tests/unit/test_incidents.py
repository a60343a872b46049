"""When two reports are one incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from civicline.domain.incidents import IncidentPolicy, Report, same_incident, similarity

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
POLICY = IncidentPolicy()


def report(text: str, **changes: object) -> Report:
    fields: dict[str, object] = {
        "number": "261127-00001",
        "text": text,
        "created_at": T0,
        "category": "urban_rural_construction",
        "subcategory": "water_supply",
        "district": "和平区",
        "place": None,
    }
    fields.update(changes)
    return Report(**fields)  # type: ignore[arg-type]


def test_near_identical_words_are_one_incident_whatever_the_category() -> None:
    a = report("幸福路18号楼道里着火了，浓烟很大", category="politics_law", subcategory=None)
    b = report("幸福路18号楼道着火了！浓烟很大", category="health", subcategory=None)
    assert similarity(a.text, b.text) >= POLICY.duplicate
    assert same_incident(b, a, POLICY) > 0


def test_an_outage_is_one_incident_across_a_district() -> None:
    a = report("幸福路一带从早上开始停水了")
    b = report("我们小区突然没有自来水，解放路23号", place="解放路23号")
    assert same_incident(b, a, POLICY) > 0
    elsewhere = report("突然没有自来水了", district="江北区")
    assert same_incident(elsewhere, a, POLICY) == 0
    later = report("幸福路一带从早上开始停水了", created_at=T0 + timedelta(hours=7))
    assert same_incident(later, a, POLICY) == 0


def test_two_broken_lifts_in_one_district_are_two_incidents() -> None:
    a = report("阳光小区3号楼电梯坏了", subcategory="elevators", place="阳光小区")
    b = report("翠苑小区电梯停运三天了", subcategory="elevators", place="翠苑小区")
    same_lift = report("阳光小区3号楼的电梯又坏了", subcategory="elevators", place="阳光小区")
    assert same_incident(b, a, POLICY) == 0
    assert same_incident(same_lift, a, POLICY) > 0


def test_the_same_words_about_two_districts_are_two_events() -> None:
    a = report("幸福路一带从早上开始就没有自来水")
    b = report("建设路一带从早上开始就没有自来水", district="江北区")
    assert similarity(a.text, b.text) >= POLICY.duplicate
    assert same_incident(b, a, POLICY) == 0
