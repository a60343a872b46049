"""E-mail intake throughput: mails a second read from a real dovecot and filed as cases.

    .venv/bin/python bench/email_intake.py [--mails 1000] [--postgres]

A dovecot of its own (tests/support/mailserver.py) gets ``--mails`` mails by IMAP APPEND: 70 % UTF-8
letters, 15 % GBK, 10 % HTML-only, 5 % auto-replies; one in twenty carries a small PNG. Then,
each from a fresh database, with wall-clock and this process's CPU time per mail:

* baseline: the same IMAP round trips as the reader (search, per mail RFC822.SIZE then
  BODY.PEEK[]), reading only;
* baseline: parsing the fetched bytes only (``parse_mail``);
* read and stored: ``MailboxReader.read_once`` (fetch, parse, store in the inbox with the
  cursor, one transaction per mail);
* filed: the worker's ``process_stored`` for each stored mail in turn (NLU, citizen, case,
  acknowledgement in the outbox);

on SQLite, and with ``--postgres`` on the local PostgreSQL too (a database made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import aioimaplib
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.memory import MemoryQueue  # noqa: E402
from tests.support.mailserver import Dovecot  # noqa: E402

from civicline.channels.email.parse import parse_mail  # noqa: E402
from civicline.gateway.bootstrap import services_for  # noqa: E402
from civicline.gateway.mail import mailbox_reader  # noqa: E402
from civicline.gateway.settings import Settings  # noqa: E402
from civicline.handlers import letters  # noqa: E402
from civicline.storage import database  # noqa: E402

TOPICS = [
    "小区门口的路灯坏了一个星期，晚上一片漆黑，老人孩子出门很不安全，请尽快派人维修。",
    "幸福路上的工地每天夜里十一点以后还在施工，噪音很大，严重影响附近居民休息。",
    "公司已经拖欠我们三个月工资，老板一直推脱，我们二十多名工人生活很困难。",
    "12路公交车最近经常不按时发车，早高峰等半个多小时，上班经常迟到。",
    "我们村的自来水最近水质发黄，有异味，希望有关部门来检测一下。",
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(2000)


def mail(n: int) -> bytes:
    text = f"{TOPICS[n % len(TOPICS)]}（第{n}封）"
    kind = n % 20
    body: Any
    if kind < 2:  # HTML only
        body = MIMEText(f"<html><body><p>{text}</p><p>谢谢！</p></body></html>", "html", "utf-8")
    elif kind < 5:
        body = MIMEText(text, "plain", "gbk")
    else:
        body = MIMEText(text, "plain", "utf-8")
    if kind == 7:
        outer = MIMEMultipart()
        outer.attach(body)
        outer.attach(MIMEImage(PNG, "png"))
        body = outer
    body["From"] = f"citizen{n}@example.cn"
    body["To"] = "mayor@city.example"
    body["Subject"] = "自动回复：休假中" if kind == 19 else f"反映问题 {n}"
    if kind == 19:
        body["Auto-Submitted"] = "auto-replied"
    body["Message-ID"] = f"<bench-{n}@example.cn>"
    return body.as_bytes()


async def timed(what: Callable[[], Awaitable[int]]) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    count = await what()
    return count, time.perf_counter() - wall, time.process_time() - cpu


def row(name: str, count: int, wall: float, cpu: float) -> None:
    per = cpu / count * 1000 if count else 0.0
    print(f"| {name} | {count} | {count / wall:,.0f} mails/s | {per:.2f} ms |", flush=True)


async def raw_read(server: Dovecot) -> int:
    imap = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=60)
    await imap.wait_hello_from_server()
    await imap.login("mayor", "mailbox-test-password")
    await imap.select("INBOX")
    found = await imap.uid_search("UID 1:*", charset=None)
    uids = [int(w) for line in found.lines[:-1] for w in bytes(line).split() if w.isdigit()]
    for uid in uids:
        await imap.uid("fetch", str(uid), "(RFC822.SIZE)")
        await imap.uid("fetch", str(uid), "(BODY.PEEK[])")
    await imap.logout()
    return len(uids)


async def on_database(name: str, url: str, server: Dovecot, work: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        var_dir=work / name,
        database_url=url,
        model_dir=work / "models",
        secret_key="bench",
    )
    async with services_for(settings) as services:
        reader = mailbox_reader(server.account(), services.letters, MemoryQueue(), services.now)
        count, wall, cpu = await timed(reader.read_once)
        row(f"read and stored ({name})", count, wall, cpu)
        ids = list(range(1, count + 1))

        async def file_all() -> int:
            opened = 0
            for inbox_id in ids:
                done = await letters.process_stored(inbox_id, services.letters, now=services.now())
                opened += done.outcome == "opened"
            return len(ids)

        count, wall, cpu = await timed(file_all)
        row(f"filed as cases ({name})", count, wall, cpu)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    server = Dovecot()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="civicline-bench-mail-"))
    try:
        mails = [mail(n) for n in range(args.mails)]
        await server.deliver(*mails)
        print(f"{args.mails} mails, {sum(map(len, mails)) / args.mails:,.0f} bytes each on average")
        print("| step | mails | throughput | CPU per mail (this process) |")
        print("|---|---|---|---|")
        row("baseline: IMAP fetch only", *(await timed(lambda: raw_read(server))))

        async def parse_all() -> int:
            for raw in mails:
                parse_mail(raw, allowed_types=frozenset({"image/png"}), max_file_bytes=10**7)
            return len(mails)

        row("baseline: parse only", *(await timed(parse_all)))
        sqlite = f"sqlite+aiosqlite:///{work / 'bench.db'}"
        await asyncio.to_thread(database.upgrade, sqlite)
        await on_database("SQLite", sqlite, server, work)
        if args.postgres:
            name = f"civicline_bench_mail_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
            await admin.execute(f'CREATE DATABASE "{name}"')
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
            try:
                await asyncio.to_thread(database.upgrade, url)
                await on_database("PostgreSQL", url, server, work)
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
