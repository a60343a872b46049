"""The reception rota against the working calendar, and the register's rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from civicline.domain.errors import InvalidInput
from civicline.domain.rota import Level, Rota, Venue, check_venues, venues_from_dict
from civicline.domain.visits import (
    Earlier,
    Outcome,
    Visit,
    VisitKind,
    Visitor,
    by_leader_and_unit,
    check_booking,
    history_flags,
    month_report,
    record_type,
)
from civicline.storage.calendar_file import load_calendar
from civicline.storage.rota_file import load_venues
from civicline.storage.units_file import load_units

CHINA = load_calendar()
CITY = Venue(
    "341800", "市信访局", "City bureau", "鳌峰路1号", Level.CITY,
    ("甲", "乙", "丙"), since=date(2026, 9, 28),
)  # fmt: skip
TOWN = Venue(
    "341881001", "西津街道", "Xijin", "办事处", Level.TOWNSHIP, ("丁",),
    since=date(2026, 9, 28), weekdays=frozenset({0}), capacity=2,
)  # fmt: skip
ROTA = Rota({v.code: v for v in (CITY, TOWN)}, CHINA)


def test_a_leader_each_working_day_none_on_holidays_and_one_on_make_up_days() -> None:
    days = {
        r.day: r.leader for r in ROTA.receptions(date(2026, 9, 28), date(2026, 10, 11), "341800")
    }
    # 国庆: 10-01..10-07 off, Saturday 10-10 a make-up working day; 10-11 a plain Sunday.
    assert not any(date(2026, 10, d) in days for d in range(1, 8))
    assert date(2026, 10, 10) in days and date(2026, 10, 11) not in days
    assert date(2026, 10, 3) not in days  # a Saturday inside the holiday
    # The leaders take turns over reception days only: Mon 9-28 甲, Tue 乙, Wed 丙, then
    # (skipping the holiday) Thu 10-08 甲, Fri 10-09 乙, the make-up Saturday 10-10 丙.
    assert [days[date(2026, 9, d)] for d in (28, 29, 30)] == ["甲", "乙", "丙"]
    assert [days[date(2026, 10, d)] for d in (8, 9, 10)] == ["甲", "乙", "丙"]


def test_fixed_reception_days_skip_holidays() -> None:
    town = [r.day for r in ROTA.receptions(date(2026, 9, 28), date(2026, 10, 19), "341881001")]
    assert town == [date(2026, 9, 28), date(2026, 10, 12), date(2026, 10, 19)]  # not 10-05
    assert ROTA.leader_on("341881001", date(2026, 10, 5)) is None
    assert ROTA.leader_on("341881001", date(2026, 10, 12)) == "丁"


def test_an_override_names_another_leader_for_one_day() -> None:
    rota = Rota(ROTA.venues, CHINA, {("341800", date(2026, 9, 29)): "戊"})
    assert rota.leader_on("341800", date(2026, 9, 29)) == "戊"
    assert rota.leader_on("341800", date(2026, 9, 30)) == "丙"  # the turn goes on as planned


def test_the_shipped_rota_file_loads_and_bad_files_are_refused(tmp_path: Path) -> None:
    venues = load_venues()
    assert venues["341800"].level == Level.CITY and not venues["341800"].weekdays
    assert venues["341881001"].weekdays == {0}
    with pytest.raises(InvalidInput, match="days"):
        venues_from_dict({"venues": {"1": {**_entry(), "days": ["someday"]}}})
    with pytest.raises(InvalidInput, match="level"):
        venues_from_dict({"venues": {"1": {**_entry(), "level": "galaxy"}}})
    with pytest.raises(InvalidInput, match="needs address"):
        venues_from_dict({"venues": {"1": {**_entry(), "address": ""}}})
    with pytest.raises(InvalidInput, match="unknown unit"):
        ROTA.venue("999999")


def test_the_shipped_venues_are_units_of_the_shipped_tree_at_their_level() -> None:
    units = load_units()
    check_venues(load_venues(), units)
    with pytest.raises(InvalidInput, match="not a unit"):
        check_venues(venues_from_dict({"venues": {"999999": _entry()}}), units)
    township_as_city = venues_from_dict({"venues": {"341881001": _entry()}})
    with pytest.raises(InvalidInput, match="is a township"):
        check_venues(township_as_city, units)


def _entry() -> dict[str, object]:
    return {"zh": "甲", "en": "A", "address": "路", "since": date(2026, 1, 5), "leaders": ["x"]}


def test_a_booking_is_refused_in_the_past_at_unknown_venues_and_on_days_off() -> None:
    today = date(2026, 10, 9)
    check_booking("341800", date(2026, 10, 10), "土地", today=today, rota=ROTA)
    with pytest.raises(InvalidInput, match="past"):
        check_booking("341800", date(2026, 10, 8), "土地", today=today, rota=ROTA)
    with pytest.raises(InvalidInput, match="unknown unit"):
        check_booking("999999", date(2026, 10, 12), "土地", today=today, rota=ROTA)
    with pytest.raises(InvalidInput, match="receives no one"):
        check_booking("341800", date(2026, 10, 11), "土地", today=today, rota=ROTA)


def _visit(unit: str, day: int, people: int = 1, **kw: object) -> Visit:
    return Visit(
        unit=unit,
        kind=kw.pop("kind", VisitKind.CENTRE),  # type: ignore[arg-type]
        received_at=datetime(2026, 11, day, 9, tzinfo=UTC),
        matter="拖欠工资",
        outcome=kw.pop("outcome", Outcome.ANSWERED),  # type: ignore[arg-type]
        visitors=[Visitor(f"人{i}", phone=f"+86139000000{i:02d}") for i in range(people)],
        **kw,  # type: ignore[arg-type]
    )


def test_repeat_and_level_skipping_come_from_history() -> None:
    visit = _visit("341800", 10)
    assert history_flags(visit, [], ROTA) == (False, True)  # straight to the city
    town = Earlier("341881001", datetime(2026, 11, 2, tzinfo=UTC))
    assert history_flags(visit, [town], ROTA) == (True, False)
    later = Earlier("341881001", datetime(2026, 11, 20, tzinfo=UTC))
    assert history_flags(visit, [later], ROTA) == (False, True)
    assert history_flags(_visit("341881001", 10), [], ROTA) == (False, False)


def test_rules_of_a_visit() -> None:
    assert _visit("341800", 3, people=5).collective and not _visit("341800", 3, 4).collective
    with pytest.raises(InvalidInput, match="reason"):
        _visit("341800", 3, outcome=Outcome.NOT_ACCEPTED).check()
    with pytest.raises(InvalidInput, match="ID number or a phone"):
        Visit("341800", VisitKind.CENTRE, datetime(2026, 11, 3, tzinfo=UTC), "事",
              Outcome.ANSWERED, [Visitor("甲")]).check()  # fmt: skip
    with pytest.raises(InvalidInput, match="field visit"):
        _visit("341800", 3, kind=VisitKind.FIELD).check()


def test_the_month_report_counts_receptions_batches_and_people() -> None:
    visits = [
        _visit("341800", 3, people=3, leader="甲"),
        _visit("341800", 3, people=6, leader="甲", outcome=Outcome.ACCEPTED),
        _visit("341800", 4, people=1, leader="乙", repeat=True),
    ]
    report = month_report("2026-11", visits)
    assert (report.receptions, report.batches, report.people) == (2, 3, 10)
    assert (report.collective, report.repeat, report.first_time_resolved) == (1, 1, 0.5)
    groups = by_leader_and_unit(visits)
    assert [(g.leader, g.receptions, g.batches, g.people) for g in groups] == [
        ("乙", 1, 1, 1),
        ("甲", 1, 2, 9),
    ]


def test_a_receptions_records_are_told_by_their_bytes() -> None:
    assert record_type(b"\x00\x00\x00\x18ftypmp42\x00\x00") == "video/mp4"
    assert record_type(b"\x00\x00\x00\x18ftypM4A \x00\x00") == "audio/mp4"
    assert record_type(b"ID3\x04\x00") == "audio/mpeg"
    assert record_type(b"RIFF\x24\x00\x00\x00WAVEfmt ") == "audio/wav"
    assert record_type(b"\x1a\x45\xdf\xa3\x9f") == "video/webm"
    assert record_type(b"%PDF-1.4") == "application/pdf"
    assert record_type(b"MZ\x90\x00 an executable") is None
