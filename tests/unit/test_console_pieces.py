"""The console's small pieces: signed cookies, CSRF comparison, redirects, search parsing,
masking by role, charts, the rates' arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civicline.domain.accounts import Role, StaffUser
from civicline.domain.claims import Claim, LoginFailures
from civicline.domain.errors import NotAllowed
from civicline.domain.rates import rate
from civicline.gateway.console.charts import bar_chart, line_chart
from civicline.gateway.console.texts import TEXTS, translator
from civicline.gateway.console.web import login_csrf, safe_next, sign, tokens_match, unsign
from civicline.handlers.access import redact
from civicline.handlers.screens import parse_search

KEY = b"k" * 32
T = datetime(2026, 11, 27, tzinfo=UTC)
CLERK = StaffUser("li", "x", Role.STAFF, T, department="transport", id=1)
BOSS = StaffUser("boss", "x", Role.SUPERVISOR, T, id=2)


def test_signed_cookies_refuse_tampering() -> None:
    signed = sign(KEY, "token-123")
    assert unsign(KEY, signed) == "token-123"
    assert unsign(b"other" * 8, signed) is None
    assert unsign(KEY, "token-124" + signed[len("token-123") :]) is None
    assert unsign(KEY, signed[:-1] + ("A" if signed[-1] != "A" else "B")) is None
    assert unsign(KEY, None) is None and unsign(KEY, "no-dot") is None


def test_csrf_tokens() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd") and not tokens_match("abc", None)
    assert not tokens_match("abc", "")
    assert login_csrf(KEY, "n1") != login_csrf(KEY, "n2")
    assert login_csrf(KEY, "n1") != login_csrf(b"x" * 32, "n1")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/cases/261127-00001", "/console/cases/261127-00001"),
        ("https://evil.example/", "/console/queue"),
        ("//evil.example/console/", "/console/queue"),
        ("/api/v1/cases", "/console/queue"),
        (None, "/console/queue"),
    ],
)
def test_redirects_stay_in_the_console(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_search_reads_numbers_phones_and_words() -> None:
    assert parse_search("261127-0004", BOSS).number == "261127-0004"
    assert parse_search("261127", BOSS).number == "261127"
    assert parse_search("+86 139-1234-5678", BOSS).phone == "8613912345678"
    assert parse_search("  路灯  坏了 ", CLERK).text == "路灯 坏了"
    with pytest.raises(NotAllowed):
        parse_search("13912345678", CLERK)
    with pytest.raises(NotAllowed):
        parse_search("电话13912345678", CLERK)  # not through the text search either


def test_clerks_get_masked_text() -> None:
    text = "我的电话13912345678，邮箱 a@b.cn"
    assert "13912345678" not in redact(text, CLERK) and "a@b.cn" not in redact(text, CLERK)
    assert redact(text, BOSS) == text
    assert not CLERK.sees_contact_details and BOSS.sees_contact_details
    assert not CLERK.may_triage and not BOSS.may_edit_canned_replies


def test_claims_and_locks_know_when_they_end() -> None:
    claim = Claim(1, 7, "li", T, T.replace(hour=1))
    assert claim.held_by(7, T) and not claim.held_by(8, T)
    assert not claim.live(T.replace(hour=1))
    failures = LoginFailures("li", 5, T, locked_until=T.replace(hour=1))
    assert failures.locked(T) and not failures.locked(T.replace(hour=2))


def test_charts_escape_their_labels_and_draw_no_script() -> None:
    svg = str(bar_chart([("<b>部门</b>", (0.5, None, 1.0))], ["a", "b", "c"], title="t&t"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "t&amp;t" in svg
    assert "style=" not in svg and "<script" not in svg
    assert "50%" in svg and "—" in svg
    line = str(line_chart(["11-01", "11-02", "11-03"], [("x", [0.2, None, 0.9])], title="d"))
    assert line.count("<circle") == 2 and "<polyline" not in line  # a gap breaks the line


def test_rates() -> None:
    assert rate(3, 4) == 0.75 and rate(0, 0) is None


def test_every_text_has_both_languages() -> None:
    assert all(zh and en for zh, en in TEXTS.values())
    assert translator("en")("cases_total", total=3, overdue=1) == "3 cases, 1 overdue"
    assert translator("zh")("unknown-key") == "unknown-key"


def test_cookies_are_secure_over_https() -> None:
    from fastapi import Request, Response

    from civicline.gateway.console.web import set_cookie

    def cookie(scheme: str) -> str:
        request = Request(
            {"type": "http", "scheme": scheme, "server": ("x", 443), "path": "/", "headers": []}
        )
        response = Response()
        set_cookie(request, response, "c", "v", 60)
        return response.headers["set-cookie"]

    assert "Secure" in cookie("https") and "Secure" not in cookie("http")
    assert "HttpOnly" in cookie("http") and "SameSite=lax" in cookie("http")
