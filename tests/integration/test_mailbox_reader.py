"""The IMAP reader on a real dovecot: each mail stored exactly once across restarts, a new
UIDVALIDITY, servers without IDLE, a 20 MB mail and malformed MIME."""

from __future__ import annotations

import asyncio
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from sqlalchemy import func, select

from civicline.channels.email.imap import MailboxReader
from civicline.domain.mail import Mail
from civicline.gateway.bootstrap import Services
from civicline.gateway.mail import mailbox_reader
from civicline.handlers import letters
from civicline.storage.tables import InboundMessageRow, MailCursorRow
from tests.fakes.memory import MemoryQueue
from tests.support.mailserver import Dovecot


def mail(n: int) -> bytes:
    text = MIMEText(f"第{n}封来信：小区路灯坏了，请维修。", "plain", "utf-8")
    text["From"] = f"citizen{n}@example.cn"
    text["To"] = "mayor@city.example"
    text["Subject"] = f"来信 {n}"
    text["Message-ID"] = f"<letter-{n}@example.cn>"
    return text.as_bytes()


async def stored(services: Services) -> int:
    async with services.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(InboundMessageRow))).scalar_one()
        )


def reader_for(services: Services, server: Dovecot, **account: object) -> MailboxReader:
    return mailbox_reader(server.account(**account), services.letters, MemoryQueue(), services.now)


class Crash(Exception):
    pass


async def test_a_reader_stopped_mid_mailbox_reads_each_mail_exactly_once(
    services: Services, dovecot: Dovecot
) -> None:
    await dovecot.deliver(*(mail(n) for n in range(12)))
    reader = reader_for(services, dovecot)
    stored_so_far = 0
    accept = reader.accept

    async def crash_after_five(parsed: Mail, uidvalidity: int, uid: int) -> int | None:
        nonlocal stored_so_far
        result = await accept(parsed, uidvalidity, uid)
        stored_so_far += 1
        if stored_so_far == 5:
            raise Crash  # the process dies right after the fifth mail was committed
        return result

    reader.accept = crash_after_five
    with pytest.raises(Crash):
        await reader.read_once()
    assert await stored(services) == 5

    restarted = reader_for(services, dovecot)
    assert await restarted.read_once() == 7
    assert await restarted.read_once() == 0
    assert await stored(services) == 12

    # The folder was rebuilt on the server (a new UIDVALIDITY): read again, filed never twice.
    async with services.engine.begin() as conn:
        await conn.execute(MailCursorRow.__table__.update().values(uidvalidity=1, last_uid=0))
    assert await reader_for(services, dovecot).read_once() == 0
    assert await stored(services) == 12
    async with services.uow() as uow:
        cursor = await uow.letters.cursor(dovecot.account().key, "INBOX")
    assert cursor is not None and cursor[0] != 1 and cursor[1] == 12


async def test_without_idle_the_reader_polls() -> None:
    server = Dovecot(idle=False)
    server.start()
    try:
        seen: list[str] = []
        position: tuple[int, int] | None = None

        async def where() -> tuple[int, int] | None:
            return position

        async def accept(parsed: Mail, uidvalidity: int, uid: int) -> int | None:
            nonlocal position
            position = (uidvalidity, uid)
            seen.append(parsed.message_id)
            return uid

        reader = MailboxReader(server.account(), position=where, accept=accept)
        stop = asyncio.Event()
        running = asyncio.create_task(reader.run(stop))
        await asyncio.sleep(1.0)
        await server.deliver(mail(1))
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(running, 15)
        assert seen == ["<letter-1@example.cn>"]
    finally:
        server.stop()


async def test_a_20_mb_mail_and_malformed_mime_are_filed_with_a_clear_note(
    services: Services, dovecot: Dovecot
) -> None:
    big = MIMEMultipart()
    big["From"] = "big@example.cn"
    big["Subject"] = "施工噪音的录像"
    big["Message-ID"] = "<big@example.cn>"
    big.attach(MIMEText("深夜施工噪音，附录像和照片。", "plain", "utf-8"))
    video = MIMEApplication(b"\0" * 14_500_000, "pdf")  # base64: the mail is about 20 MB
    video.add_header("Content-Disposition", "attachment", filename="noise.pdf")
    big.attach(video)
    photo = MIMEApplication(b"\xff\xd8\xff" + b"1" * 1000, "jpeg")
    photo.replace_header("Content-Type", "image/jpeg")
    photo.add_header("Content-Disposition", "attachment", filename="photo.jpg")
    big.attach(photo)
    script = MIMEApplication(b"MZ...", "x-msdownload")
    script.add_header("Content-Disposition", "attachment", filename="run.exe")
    big.attach(script)
    malformed = (
        b"From: odd@example.cn\r\nSubject: =?utf-8?B?6Lev54Gv?=\r\nMessage-ID: <odd@example.cn>\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "路灯不亮".encode()
        + b"\r\n"
    )
    assert 19_500_000 < len(big.as_bytes()) < 21_000_000
    await dovecot.deliver(big.as_bytes(), malformed)
    assert await reader_for(services, dovecot).read_once() == 2

    async with services.uow() as uow:
        big_row = await uow.inbox.get(1)
        odd_row = await uow.inbox.get(2)
    notes = big_row.meta["mail"]["problems"]
    assert any("noise.pdf" in n and "14.5 MB is over 10 MB" in n for n in notes)
    assert any("run.exe" in n and "not accepted" in n for n in notes)
    assert [f["name"] for f in big_row.meta["mail"]["files"]] == ["photo.jpg"]
    assert len(big_row.attachments) == 1
    assert await services.files.get(big_row.attachments[0].removeprefix("file:")) is not None
    assert "深夜施工噪音" in big_row.text
    assert odd_row.text.endswith("路灯不亮")
    assert any("malformed MIME" in n for n in odd_row.meta["mail"]["problems"]), odd_row.meta

    # Over the size limit: the headers are filed, with a note where to read the rest.
    await dovecot.deliver(big.as_bytes().replace(b"<big@example.cn>", b"<big2@example.cn>"))
    small_limit = reader_for(services, dovecot, max_mail_bytes=5_000_000)
    assert await small_limit.read_once() == 1
    async with services.uow() as uow:
        headers_only = await uow.inbox.get(3)
    assert any("only its headers" in n for n in headers_only.meta["mail"]["problems"])
    done = await letters.process_stored(3, services.letters, now=services.now())
    assert done.outcome == "opened"


async def test_a_mail_holding_a_nul_is_filed_with_the_character_replaced(
    services: Services, dovecot: Dovecot
) -> None:
    """Refusing it would stop the mailbox at this mail: the text is kept, with U+FFFD."""
    odd = MIMEText("路灯坏了\x00很久了", "plain", "utf-8")
    odd["From"] = "nul@example.cn"
    odd["Subject"] = "路灯\x00"
    odd["Message-ID"] = "<nul@example.cn>"
    await dovecot.deliver(odd.as_bytes(), mail(1))
    assert await reader_for(services, dovecot).read_once() == 2
    async with services.uow() as uow:
        filed = await uow.inbox.get(1)
    assert "路灯坏了\ufffd很久了" in filed.text and "\x00" not in repr(filed.meta)
