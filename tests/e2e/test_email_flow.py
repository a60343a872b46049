"""The mayor's mailbox by e-mail, end to end on a real dovecot (IMAP) and aiosmtpd (SMTP).

A citizen's mail opens a case and gets an acknowledgement that threads; a staff answer goes out
as a reply to the citizen's mail; the citizen's answer to it joins the same case with the
quote cut off; an auto-reply, a mailing-list mail and a bounce open nothing, and the bounce
marks the answer it returns ``failed``.
"""

from __future__ import annotations

from email.message import Message
from email.mime.text import MIMEText
from email.utils import make_msgid

from sqlalchemy import func, select

from civicline.domain.messages import Channel, DeliveryStatus
from civicline.storage.tables import CaseRow, InboundMessageRow, OutboundMessageRow
from tests.support.gateway import serving
from tests.support.mailserver import Dovecot, SmtpSink
from tests.support.places import Places
from tests.support.polling import eventually

CITIZEN = "wang.fang@example.cn"
CITY = "mayor@city.example"


def mail_settings(server: Dovecot, sink: SmtpSink) -> dict[str, object]:
    return {
        "imap_host": "127.0.0.1",
        "imap_port": server.port,
        "imap_tls": False,
        "imap_user": "mayor",
        "imap_password": "mailbox-test-password",
        "imap_poll_seconds": 0.5,
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_tls": "none",
        "mail_from_address": CITY,
    }


def citizen_mail(
    subject: str, body: str, *, charset: str = "utf-8", sender: str = CITIZEN, **headers: str
) -> tuple[bytes, str]:
    mail = MIMEText(body, "plain", charset)
    message_id = make_msgid(domain="example.cn")
    mail["From"] = f"王芳 <{sender}>"
    mail["To"] = CITY
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    return mail.as_bytes(), message_id


def bounce_of(original_id: str, recipient: str) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes one."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@example.cn>\r\n"
        f"To: {CITY}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='example.cn')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0"\r\n'
        "\r\n--B0\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B0\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.cn\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox unavailable\r\n"
        "\r\n--B0\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {recipient}\r\nSubject: x\r\n"
        "\r\n--B0--\r\n"
    ).encode()


async def count(services: object, stmt: object) -> int:
    async with services.engine.connect() as conn:  # type: ignore[attr-defined]
        return int((await conn.execute(stmt)).scalar_one())


async def test_mail_opens_a_case_replies_thread_and_the_answer_joins_it(
    places: Places, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    async with (
        places.services(**mail_settings(dovecot, smtp_sink)) as services,
        serving(services) as gateway,
    ):
        body = "我家小区门口的路灯坏了一个多星期，晚上一片漆黑，老人出门很危险，请尽快修理。"
        raw, first_id = citizen_mail("小区门口路灯坏了", body, charset="gbk")
        await dovecot.deliver(raw)

        async def acknowledged() -> Message | None:
            return next((m for m in smtp_sink.received if m["To"] == CITIZEN), None)

        ack = await eventually(acknowledged, within=30)
        number = (await _case_numbers(services))[0]
        assert number in str(ack["Subject"])
        assert ack["In-Reply-To"] == first_id
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["Message-ID"].startswith("<civicline.")

        boss = await gateway.staff("boss")
        answer = await boss.post(
            f"/api/v1/cases/{number}/replies", json={"text": "已派人维修，今晚恢复照明。"}
        )
        assert answer.status_code in (200, 201, 202), answer.text

        async def staff_mail() -> Message | None:
            sent = [m for m in smtp_sink.received if m["Auto-Submitted"] == "no"]
            return sent[0] if sent else None

        reply = await eventually(staff_mail, within=30)
        assert reply["In-Reply-To"] == first_id
        assert first_id in reply["References"]
        assert number in str(reply["Subject"])
        assert "已派人维修" in reply.get_payload(decode=True).decode("utf-8")

        quoted = (
            "谢谢，路灯今晚确实亮了。\n\n"
            "在 2026年12月6日 10:00，市长信箱 <mayor@city.example> 写道：\n"
            "> 已派人维修，今晚恢复照明。\n"
        )
        raw, _ = citizen_mail(
            f"Re: 小区门口路灯坏了 [{number}]",
            quoted,
            In_Reply_To=reply["Message-ID"],
            References=f"{first_id} {reply['Message-ID']}",
        )
        await dovecot.deliver(raw)

        async def joined() -> list[str] | None:
            thread = await boss.get(f"/api/v1/cases/{number}")
            messages = thread.json()["messages"]
            texts = [m["text"] for m in messages if m["direction"] == "inbound"]
            return texts if len(texts) == 2 else None

        texts = await eventually(joined, within=30)
        assert texts[1] == "谢谢，路灯今晚确实亮了。"
        assert len(await _case_numbers(services)) == 1

        # An out-of-office answer, list mail and a bounce of the staff answer: no case.
        auto, _ = citizen_mail(
            "自动回复：我正在休假", "我将于下周回来。", Auto_Submitted="auto-replied"
        )
        listed, _ = citizen_mail("社区通讯", "本周活动安排", List_Id="<news.example.cn>")
        await dovecot.deliver(auto, listed, bounce_of(reply["Message-ID"], CITIZEN))

        async def all_processed() -> bool:
            waiting = select(func.count()).where(InboundMessageRow.status == "received")
            stored = select(func.count()).select_from(InboundMessageRow)
            return await count(services, stored) == 5 and await count(services, waiting) == 0

        await eventually(all_processed, within=30)
        assert len(await _case_numbers(services)) == 1
        async with services.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(OutboundMessageRow).where(
                        OutboundMessageRow.provider_message_id == reply["Message-ID"]
                    )
                )
            ).one()
        assert row.status == DeliveryStatus.FAILED
        assert "5.1.1" in row.last_error


async def _case_numbers(services: object) -> list[str]:
    async with services.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = await conn.execute(
            select(CaseRow.number).where(CaseRow.channel == Channel.EMAIL).order_by(CaseRow.id)
        )
        return [r for (r,) in rows]
