"""The mailbox web form and query page over HTTP, end to end with a real SMTP server.

A form letter opens a case with the letters' deadlines; the writer's e-mail gets the number;
a staff answer goes out by e-mail and shows on the query page for number + code. Bad input
answers 4xx with the form filled in again and files nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import Message

import httpx
from sqlalchemy import func, select

from civicline.gateway.bootstrap import Services
from civicline.storage.tables import CaseRow, LetterRow
from tests.support.gateway import serving
from tests.support.mailserver import SmtpSink
from tests.support.places import Places
from tests.support.polling import eventually

BODY = "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑，老人孩子出门很不安全，请尽快维修。"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def smtp(sink: SmtpSink, **more: object) -> dict[str, object]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_tls": "none",
        "mail_from_address": "mayor@city.example",
        **more,
    }


async def form(client: httpx.AsyncClient, lang: str = "zh") -> str:
    page = await client.get(f"/mailbox?lang={lang}")
    assert page.status_code == 200
    found = re.search(r'name="submission_id" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def fields(submission_id: str, **changes: str) -> dict[str, str]:
    values = {
        "lang": "zh",
        "submission_id": submission_id,
        "addressee": "mayor",
        "subject": "小区门口路灯坏了",
        "body": BODY,
        "name": "王芳",
        "email": "wang.fang@example.cn",
        "phone": "",
        "may_publish": "on",
        "website": "",
    }
    values.update(changes)
    return values


async def cases(services: Services) -> int:
    async with services.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(CaseRow))).scalar_one())


async def test_a_form_letter_is_answered_by_mail_and_on_the_query_page(
    places: Places, smtp_sink: SmtpSink
) -> None:
    async with (
        places.services(**smtp(smtp_sink, mailbox_query_rate_limit_per_hour=3)) as services,
        serving(services) as gateway,
        gateway.citizen() as citizen,
    ):
        english = await citizen.get("/mailbox?lang=en")
        assert (
            "Mayor&#39;s mailbox" in english.text
            and "市长信箱" in (await citizen.get("/mailbox")).text
        )
        submission = await form(citizen)
        sent = await citizen.post(
            "/mailbox", data=fields(submission), files=[("files", ("photo.png", PNG, "image/png"))]
        )
        assert sent.status_code == 200, sent.text
        number = re.search(r'id="letter-number">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]
        code = re.search(r'id="query-code">([^<]+)<', sent.text).group(1)  # type: ignore[union-attr]

        again = await citizen.post("/mailbox", data=fields(submission))  # a double click
        assert number in again.text and 'id="query-code"' not in again.text
        assert await cases(services) == 1

        async with services.engine.connect() as conn:
            case = (await conn.execute(select(CaseRow).where(CaseRow.number == number))).one()
            letter = (await conn.execute(select(LetterRow))).one()
        assert case.channel == "mailbox" and case.reply_channel == "email"
        assert letter.addressee == "mayor" and letter.may_publish
        assert code not in (letter.query_code_hash or "")
        assert case.accept_due_at - letter.received_at == timedelta(days=15)

        async def mails_to_citizen() -> list[Message]:
            return [m for m in smtp_sink.received if m["To"] == "wang.fang@example.cn"]

        receipt = (await eventually(mails_to_citizen))[0]
        assert number in str(receipt["Subject"])

        boss = await gateway.staff("boss")
        answered = await boss.post(
            f"/api/v1/cases/{number}/replies", json={"text": "已安排维修，今晚恢复照明。"}
        )
        assert answered.status_code == 202, answered.text

        async def answer_mailed() -> bool:
            return len(await mails_to_citizen()) == 2

        await eventually(answer_mailed)
        shown = await citizen.post("/mailbox/query", data={"number": number, "code": code.lower()})
        assert shown.status_code == 200
        assert "今晚恢复照明" in shown.text and "已答复" in shown.text
        assert "王芳" not in shown.text and "wang.fang" not in shown.text

        wrong = await citizen.post("/mailbox/query", data={"number": number, "code": "AAAA2222"})
        assert wrong.status_code == 400 and "查询码不正确" in wrong.text
        await citizen.post("/mailbox/query", data={"number": number, "code": "AAAA2223"})
        limited = await citizen.post("/mailbox/query", data={"number": number, "code": code})
        assert limited.status_code == 429


async def test_bad_letters_get_a_clear_4xx_keep_their_text_and_file_nothing(
    places: Places, smtp_sink: SmtpSink
) -> None:
    async with (
        places.services(**smtp(smtp_sink, mailbox_rate_limit_per_hour=2)) as services,
        serving(services) as gateway,
        gateway.citizen() as citizen,
    ):
        submission = await form(citizen)
        big = b"\x89PNG\r\n\x1a\n" + b"\0" * 10_000_001
        too_big = await citizen.post(
            "/mailbox", data=fields(submission), files=[("files", ("big.png", big, "image/png"))]
        )
        assert too_big.status_code == 413 and BODY in too_big.text
        exe = await citizen.post(
            "/mailbox",
            data=fields(submission),
            files=[("files", ("photo.png", b"MZ\x90\x00 not a picture", "image/png"))],
        )
        assert exe.status_code == 415 and BODY in exe.text
        no_contact = await citizen.post("/mailbox", data=fields(submission, email=""))
        assert no_contact.status_code == 400 and "手机号码或电子邮箱" in no_contact.text
        bad_phone = await citizen.post("/mailbox", data=fields(submission, phone="12"))
        assert bad_phone.status_code == 400
        too_long = await citizen.post("/mailbox", data=fields(submission, body="长" * 5001))
        assert too_long.status_code == 400
        robot = await citizen.post("/mailbox", data=fields(submission, website="http://spam"))
        assert robot.status_code == 400
        unknown_box = await citizen.post("/mailbox", data=fields(submission, addressee="nobody"))
        assert unknown_box.status_code == 400
        nul = await citizen.post("/mailbox", data=fields(submission, subject="路灯\x00坏了"))
        assert nul.status_code == 400 and "无法保存的字符" in nul.text and BODY in nul.text
        assert await cases(services) == 0

        phone = {"email": "", "phone": "13800138000"}
        for _ in range(2):
            ok = await citizen.post("/mailbox", data=fields(await form(citizen), **phone))
            assert ok.status_code == 200, ok.text
        limited = await citizen.post("/mailbox", data=fields(await form(citizen), **phone))
        assert limited.status_code == 429 and BODY in limited.text
        assert await cases(services) == 2
