"""Appointment keywords (bots.commands) and what other words stay."""

from __future__ import annotations

from datetime import date

from civicline.bots.commands import Book, CancelBooking, MyCases, Stop, parse_command


def test_booking_keywords_in_both_languages() -> None:
    assert parse_command("预约 341800 2026-12-08 工资拖欠") == Book(
        "341800", date(2026, 12, 8), "工资拖欠"
    )
    assert parse_command("/book 341881001 2026-12-7 unpaid wages") == Book(
        "341881001", date(2026, 12, 7), "unpaid wages"
    )
    assert parse_command("BOOK 341800 tomorrow") == Book("341800", None, "")
    assert parse_command("预约 341800 2026-02-30 事") == Book("341800", None, "")
    assert parse_command("取消预约 k7m2q9px") == CancelBooking("K7M2Q9PX")
    assert parse_command("CANCEL K7M2Q9PX") == CancelBooking("K7M2Q9PX")


def test_other_words_are_not_bookings() -> None:
    assert parse_command("cancel") == Stop()  # Twilio's opt-out word stays one
    assert parse_command("预约挂号太难了，医院排队三个小时") is None
    assert parse_command("预约 明天去看病") is None
    assert parse_command("我的案件") == MyCases()
