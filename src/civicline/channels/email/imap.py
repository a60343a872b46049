"""Reading the mailbox over IMAP with aioimaplib: IDLE where the server has it, polling otherwise.

Each mail is fetched with ``BODY.PEEK[]`` (it stays unread and in place on the server: the
mailbox remains the city's record), parsed, and handed to ``accept`` (in the gateway,
``handlers.letters.accept_mail``), which stores it and moves the folder's cursor (UIDVALIDITY,
last UID) in one transaction, then queues it. So a reader stopped at any point starts again
after the last mail stored: nothing is read twice, nothing skipped.
A mail over ``max_mail_bytes`` is fetched as its headers only and filed with a note that staff
must read it in the mailbox. Connection errors reconnect with a growing pause (up to a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aioimaplib  # type: ignore[import-untyped]

from civicline.channels.email.parse import parse_mail
from civicline.domain.mail import Mail

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
# Where stored mail goes: (mail, UIDVALIDITY, UID) -> the new inbox id, or None when known.
Accept = Callable[[Mail, int, int], Awaitable[int | None]]
Position = Callable[[], Awaitable[tuple[int, int] | None]]


class MailboxError(Exception):
    """The server refused us (login, folder): retrying will not help until settings change."""


@dataclass(frozen=True, slots=True)
class ImapAccount:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    tls: bool = True  # implicit TLS (993); False only for a server on this machine
    poll_seconds: float = 60.0
    idle_seconds: float = 25 * 60.0  # servers drop IDLE after 30 minutes (RFC 2177)
    timeout: float = 60.0
    max_mail_bytes: int = 25_000_000
    max_file_bytes: int = 10_000_000
    allowed_types: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """The cursor's account name: one per server and user."""
        return f"{self.user}@{self.host}:{self.port}"


class MailboxReader:
    def __init__(
        self,
        account: ImapAccount,
        *,
        position: Position,
        accept: Accept,
    ) -> None:
        self.account = account
        self.position = position
        self.accept = accept

    async def _connect(self) -> aioimaplib.IMAP4:
        account = self.account
        if account.tls:
            imap = aioimaplib.IMAP4_SSL(
                host=account.host,
                port=account.port,
                timeout=account.timeout,
                ssl_context=ssl.create_default_context(),
            )
        else:
            imap = aioimaplib.IMAP4(host=account.host, port=account.port, timeout=account.timeout)
        await imap.wait_hello_from_server()
        login = await imap.login(account.user, account.password)
        if login.result != "OK":
            raise MailboxError("the IMAP server refused the login")
        return imap

    async def _select(self, imap: aioimaplib.IMAP4) -> int:
        selected = await imap.select(self.account.folder)
        if selected.result != "OK":
            raise MailboxError("the IMAP server refused to open the folder")
        for line in selected.lines:
            found = _UIDVALIDITY.search(bytes(line))
            if found:
                return int(found.group(1))
        raise MailboxError("the IMAP server gave no UIDVALIDITY")

    async def read_once(self) -> int:
        """Connect, read every new mail, log out; how many new mails were stored."""
        imap = await self._connect()
        try:
            return await self._catch_up(imap, await self._select(imap))
        finally:
            await _logout(imap)

    async def _catch_up(self, imap: aioimaplib.IMAP4, uidvalidity: int) -> int:
        position = await self.position()
        last = position[1] if position is not None and position[0] == uidvalidity else 0
        if position is not None and position[0] != uidvalidity:
            log.warning("mailbox UIDVALIDITY changed: reading the folder again")
        found = await imap.uid_search(f"UID {last + 1}:*", charset=None)
        if found.result != "OK":
            raise MailboxError("the IMAP server refused the search")
        uids = sorted(
            {
                int(word)
                for line in found.lines[:-1]
                for word in bytes(line).split()
                if word.isdigit()
            }
        )
        stored = 0
        log.debug("mailbox: %d new of %d found after UID %d", len(uids), len(uids), last)
        for uid in (u for u in uids if u > last):  # "N:*" always answers the newest mail
            mail = await self._fetch(imap, uid)
            inbox_id = await self.accept(mail, uidvalidity, uid)
            if inbox_id is not None:
                stored += 1
        return stored

    async def _fetch(self, imap: aioimaplib.IMAP4, uid: int) -> Mail:
        sized = await imap.uid("fetch", str(uid), "(RFC822.SIZE)")
        size = next(
            (int(m.group(1)) for line in sized.lines if (m := _SIZE.search(bytes(line)))), 0
        )
        too_large = size > self.account.max_mail_bytes
        part = "BODY.PEEK[HEADER]" if too_large else "BODY.PEEK[]"
        fetched = await imap.uid("fetch", str(uid), f"({part})")
        raw = next((bytes(line) for line in fetched.lines if isinstance(line, bytearray)), b"")
        mail = parse_mail(
            raw,
            allowed_types=self.account.allowed_types,
            max_file_bytes=self.account.max_file_bytes,
        )
        if not too_large:
            return mail
        note = (
            f"mail of {size / 1_000_000:.1f} MB is over the {self.account.max_mail_bytes / 1e6:.0f}"
            f" MB limit: only its headers were read; open it in the mailbox (UID {uid})"
        )
        return dataclasses.replace(mail, problems=(*mail.problems, note), size=size)

    async def run(self, stop: asyncio.Event) -> None:
        """Read until ``stop`` is set: catch up, then wait for new mail, and again."""
        pause = 1.0
        while not stop.is_set():
            imap = None
            try:
                imap = await self._connect()
                uidvalidity = await self._select(imap)
                pause = 1.0
                while not stop.is_set():
                    await self._catch_up(imap, uidvalidity)
                    await _until(self._wait(imap), stop)
            except MailboxError as exc:
                log.error("mailbox: %s", exc)
                pause = 60.0
            except (OSError, TimeoutError, aioimaplib.Abort, aioimaplib.CommandTimeout) as exc:
                log.warning("mailbox connection lost (%s): reconnecting", type(exc).__name__)
            except Exception as exc:  # storing failed (database down): read again later
                # Only the type: a database error's text may quote the mail.
                log.error("mailbox reading failed (%s): retrying", type(exc).__name__)
            finally:
                if imap is not None:
                    await _logout(imap)
            if not stop.is_set():
                await _until(asyncio.sleep(pause), stop)
                pause = min(60.0, pause * 2)

    async def _wait(self, imap: aioimaplib.IMAP4) -> None:
        """Until the server says something changed (IDLE), or a poll interval passed."""
        if not imap.has_capability("IDLE"):
            await asyncio.sleep(self.account.poll_seconds)
            return
        idle = await imap.idle_start(timeout=self.account.idle_seconds)
        try:
            # Anything the server says (EXISTS, RECENT, EXPUNGE, or our own timeout) is a
            # reason to search again: an EXISTS that came with the last SEARCH's answer shows
            # up here only as RECENT. Pushes carry no mail content, only counts.
            pushed = await imap.wait_server_push(timeout=self.account.idle_seconds + 30)
            log.debug("mailbox: IDLE ended by %r", pushed)
        finally:
            if imap.has_pending_idle():
                imap.idle_done()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(idle, self.account.timeout)


async def _until(work: Awaitable[object], stop: asyncio.Event) -> None:
    """Run ``work`` unless ``stop`` is set first (then it is cancelled)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopping):
        if pending not in done:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    if task in done:
        task.result()


async def _logout(imap: aioimaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(imap.logout(), 5)
