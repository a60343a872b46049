"""The mailbox's two ends, built from the settings: the IMAP reader and the SMTP sender.

The reader runs beside the worker (started and stopped with it) when IMAP is configured and
``CIVICLINE_MAIL_READER`` is on: one reader per mailbox is enough, and a second one would only
find every mail already stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from civicline.channels.email.imap import ImapAccount, MailboxReader
from civicline.channels.email.smtp import EmailSender, SmtpAccount
from civicline.domain.letters import ALLOWED_FILE_TYPES
from civicline.domain.mail import Mail
from civicline.domain.messages import OutboundMessage
from civicline.gateway.settings import Settings
from civicline.handlers import letters
from civicline.handlers.letters import Letters, MailThread
from civicline.storage.base import JobQueue, UnitOfWorkFactory

log = logging.getLogger(__name__)


def imap_account(settings: Settings) -> ImapAccount | None:
    if not settings.email_enabled:
        return None
    assert settings.imap_host and settings.imap_user and settings.imap_password
    return ImapAccount(
        host=settings.imap_host,
        port=settings.imap_port,
        user=settings.imap_user,
        password=settings.imap_password.get_secret_value(),
        folder=settings.imap_folder,
        tls=settings.imap_tls,
        poll_seconds=settings.imap_poll_seconds,
        max_mail_bytes=settings.mail_max_bytes,
        max_file_bytes=settings.letter_file_max_bytes,
        allowed_types=ALLOWED_FILE_TYPES,
    )


def email_sender(settings: Settings, uow_factory: UnitOfWorkFactory) -> EmailSender | None:
    if not settings.smtp_host:
        return None
    sender = settings.mail_from_address or settings.imap_user
    if not sender or "@" not in sender:
        raise ValueError("CIVICLINE_MAIL_FROM_ADDRESS must be an e-mail address to send mail")
    account = SmtpAccount(
        host=settings.smtp_host,
        port=settings.smtp_port,
        from_address=sender,
        from_name=settings.mail_from_name,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        tls=settings.smtp_tls,
    )

    async def threads(message: OutboundMessage) -> MailThread:
        return await letters.thread_for(message, uow_factory=uow_factory, domain=account.domain)

    return EmailSender(account, threads)


def mailbox_reader(
    account: ImapAccount, filing: Letters, queue: JobQueue, clock: Callable[[], datetime]
) -> MailboxReader:
    async def position() -> tuple[int, int] | None:
        async with filing.uow_factory() as uow:
            return await uow.letters.cursor(account.key, account.folder)

    async def accept(mail: Mail, uidvalidity: int, uid: int) -> int | None:
        return await letters.accept_mail(
            mail,
            filing,
            queue=queue,
            account=account.key,
            folder=account.folder,
            uidvalidity=uidvalidity,
            uid=uid,
            now=clock(),
        )

    return MailboxReader(account, position=position, accept=accept)


class ReaderTask:
    """The reader as a background task: ``start`` and ``stop`` it with the worker."""

    def __init__(self, reader: MailboxReader) -> None:
        self.reader = reader
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.reader.run(self.stopping))
        log.info("mailbox reader started")

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self.task, 15)
