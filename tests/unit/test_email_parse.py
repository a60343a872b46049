"""Reading mail: Chinese charsets, HTML-only mail, quotes and signatures, what is not a letter,
bounces, authentication results, and input that breaks the rules."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from civicline.channels.email.parse import parse_mail
from civicline.channels.email.text import decode_bytes, html_to_text, strip_reply
from civicline.domain.errors import InvalidInput
from civicline.domain.letters import (
    Letter,
    LetterKind,
    hash_query_code,
    new_query_code,
    query_code_matches,
)
from civicline.domain.mail import MailKind
from civicline.domain.sla import letter_deadlines
from civicline.domain.taxonomy import Category

TEXT = "小区门口的路灯坏了一个星期，晚上很黑，请尽快派人维修。"
TRADITIONAL = "社區門口的路燈壞了一個星期，晚上很黑，請盡快派人維修。"


def raw(body: bytes, content_type: str = "text/plain; charset=utf-8", **headers: str) -> bytes:
    lines = [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    head = "\r\n".join(["From: 王芳 <wang@example.cn>", "Subject: 路灯", *lines])
    return f"{head}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body


@pytest.mark.parametrize(
    ("label", "encoding", "text"),
    [
        ("gbk", "gbk", TEXT),
        ("gb2312", "gbk", TEXT),  # labelled GB2312, written in GBK: read as GB18030
        ("gb18030", "gb18030", TEXT + "𠮷"),  # a character only GB18030 has
        ("big5", "big5", TRADITIONAL),
        ("x-unknown-charset", "big5", TRADITIONAL),  # a label Python does not know
        ("x-unknown-charset", "gbk", TEXT),
        ("utf-8", "gbk", TEXT),  # a label that lies
    ],
)
def test_chinese_charsets_decode(label: str, encoding: str, text: str) -> None:
    mail = parse_mail(raw(text.encode(encoding), f"text/plain; charset={label}"))
    assert mail.text == text


def test_encoded_headers_in_gbk_and_raw_8bit_headers() -> None:
    subject = base64.b64encode("路灯坏了".encode("gbk")).decode()
    encoded = raw(b"x", Subject=f"=?GBK?B?{subject}?=")
    assert parse_mail(encoded.replace(b"Subject: \xe8\xb7\xaf\xe7\x81\xaf\r\n", b"")).subject
    eight_bit = b"From: a@b.cn\r\nSubject: " + "路灯坏了".encode("gbk") + b"\r\n\r\nx"
    assert parse_mail(eight_bit).subject == "路灯坏了"


def test_undecodable_bytes_are_replaced_with_a_note_not_dropped() -> None:
    text, note = decode_bytes(b"\xff\xfe\xfa\x80\x81 abc", "x-nonsense")
    assert "abc" in text and note is not None


def test_html_only_mail_becomes_text() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
        "<body><p>路灯&nbsp;坏了</p><div>地址：<b>幸福路</b>12号</div><br>谢谢&amp;辛苦</body></html>"
    )
    mail = parse_mail(raw(html.encode(), "text/html; charset=utf-8"))
    assert mail.text == "路灯 坏了\n\n地址：幸福路12号\n\n谢谢&辛苦"
    assert "alert" not in html_to_text(html) and "color" not in html_to_text(html)


@pytest.mark.parametrize(
    "reply",
    [
        "谢谢，路灯修好了。\n\n在 2026年12月6日 星期六 10:00，市长 <m@city.cn> 写道：\n> 已安排",
        "谢谢，路灯修好了。\n\n2026年12月6日 10:00，市长信箱 写道：\n> 已安排维修",
        "谢谢，路灯修好了。\n\n-----原始邮件-----\n发件人: 市长信箱\n主题: 答复\n\n已安排维修",
        "谢谢，路灯修好了。\n\n发件人: 市长信箱 <m@city.cn>\n发送时间: 2026年12月6日\n收件人: 我",
        "谢谢，路灯修好了。\n\n-- \n王芳\n幸福小区3栋",
        "谢谢，路灯修好了。\n\n发自我的iPhone",
        "谢谢，路灯修好了。\n\nOn Sat, 6 Dec 2026 at 10:00, Mayor <m@city.cn> wrote:\n> fixed",
        "谢谢，路灯修好了。\n> 已安排维修\n> 今晚修好",
    ],
)
def test_quotes_and_signatures_are_cut_from_replies(reply: str) -> None:
    assert strip_reply(reply) == "谢谢，路灯修好了。"


def test_a_letter_that_says_from_is_not_cut() -> None:
    text = "From: 幸福小区全体业主\n我们反映小区停车难的问题，已经持续半年。"
    assert strip_reply(text) == text


def test_a_reply_that_is_only_a_quote_keeps_its_text() -> None:
    assert strip_reply("> 已安排维修") == "> 已安排维修"


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Auto_Submitted": "auto-replied"}, MailKind.AUTO_REPLY),
        ({"Auto_Submitted": "auto-generated"}, MailKind.AUTO_REPLY),
        ({"Auto_Submitted": "no"}, MailKind.LETTER),
        ({"X_Autoreply": "yes"}, MailKind.AUTO_REPLY),
        ({"X_Auto_Response_Suppress": "All"}, MailKind.AUTO_REPLY),
        ({"Precedence": "bulk"}, MailKind.AUTO_REPLY),
        ({"Precedence": "list"}, MailKind.LIST),
        ({"List_Id": "<news.example.cn>"}, MailKind.LIST),
        ({"List_Unsubscribe": "<mailto:u@example.cn>"}, MailKind.LIST),
        ({"Subject": "自动回复：我正在休假"}, MailKind.AUTO_REPLY),
        ({"Subject": "Automatic reply: out of office"}, MailKind.AUTO_REPLY),
        ({}, MailKind.LETTER),
    ],
)
def test_what_is_not_a_letter(headers: dict[str, str], kind: MailKind) -> None:
    body = raw(TEXT.encode(), **headers)
    if "Subject" in headers:
        body = body.replace("Subject: 路灯\r\n".encode(), b"", 1)
    assert parse_mail(body).kind == kind


DSN = (
    b"From: MAILER-DAEMON@mx.example.cn\r\nSubject: Undelivered Mail\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
    b"Final-Recipient: rfc822; gone@example.cn\r\nAction: {action}\r\nStatus: {status}\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 <gone@example.cn>: user unknown\r\n"
    b"\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Message-ID: <civicline.7.261206-00001@city.example>\r\nSubject: Re: x\r\n\r\nbody\r\n"
    b"--b--\r\n"
)


def test_a_bounce_names_the_mail_it_returns_and_why() -> None:
    mail = parse_mail(DSN.replace(b"{action}", b"failed").replace(b"{status}", b"5.1.1"))
    assert mail.kind == MailKind.BOUNCE
    assert mail.bounce is not None
    assert mail.bounce.original_message_id == "<civicline.7.261206-00001@city.example>"
    assert mail.bounce.status == "5.1.1"
    assert "user unknown" in mail.bounce.reason


def test_a_delay_notice_is_not_a_bounce_nor_a_letter() -> None:
    mail = parse_mail(DSN.replace(b"{action}", b"delayed").replace(b"{status}", b"4.4.1"))
    assert mail.kind == MailKind.AUTO_REPLY and mail.bounce is None


def test_authentication_results_of_our_own_server_are_kept() -> None:
    mail = parse_mail(
        raw(
            b"x",
            Authentication_Results="mx.city.example; spf=pass smtp.mailfrom=example.cn; "
            "dkim=fail header.d=example.cn; dmarc=none",
        )
    )
    assert mail.authentication == {"spf": "pass", "dkim": "fail", "dmarc": "none"}


def test_missing_or_overlong_message_ids_become_a_digest() -> None:
    plain = parse_mail(raw(b"x"))
    assert plain.message_id.startswith("sha256:") and len(plain.message_id) == 71
    long = parse_mail(raw(b"x", Message_ID=f"<{'a' * 200}@example.cn>"))
    assert long.message_id.startswith("sha256:")
    assert parse_mail(raw(b"x", Message_ID="<ok@example.cn>")).message_id == "<ok@example.cn>"


def test_garbage_is_read_without_raising() -> None:
    for junk in (b"", b"\x00\xff" * 100, b"Content-Type: multipart/mixed\r\n\r\nno boundary"):
        mail = parse_mail(junk)
        assert mail.kind == MailKind.LETTER
    broken = parse_mail(b"Content-Type: multipart/mixed\r\n\r\nno boundary")
    assert any("malformed MIME" in p for p in broken.problems)


def test_replies_name_their_case() -> None:
    reply = raw(b"ok").replace(
        "Subject: 路灯".encode(), "Subject: Re: 路灯 [261206-00042]".encode()
    )
    mail = parse_mail(reply)
    assert mail.case_number == "261206-00042" and mail.is_reply


CATEGORY = Category(
    code="transport",
    name_zh="交通",
    name_en="Transport",
    department="transport",
    accept_hours=24,
    complete_working_days=5,
)


def test_letter_deadlines_run_from_receipt() -> None:
    received = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday
    deadlines = letter_deadlines(CATEGORY, received)
    assert deadlines.accept_by == received + timedelta(days=15)  # 信访工作条例: 15 days
    assert deadlines.reply_by == deadlines.accept_by
    # then the category's five working days: 16 Dec (Wed) -> 23 Dec (Wed)
    assert deadlines.complete_by == datetime(2026, 12, 23, 9, 0, tzinfo=UTC)


def test_query_codes_are_kept_hashed() -> None:
    code = new_query_code()
    stored = hash_query_code(code)
    assert code not in stored
    assert query_code_matches(code.lower(), stored)
    assert query_code_matches(f"{code[:4]}-{code[4:]}", stored)
    assert not query_code_matches("WRONG234", stored)
    assert not query_code_matches(code, None)
    assert not query_code_matches(code, "garbage")


def test_a_postmark_after_receipt_is_refused() -> None:
    letter = Letter(
        kind=LetterKind.PAPER,
        addressee="mayor",
        subject="路灯",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        postmark_date=datetime(2026, 12, 2).date(),
    )
    with pytest.raises(InvalidInput):
        letter.check()
