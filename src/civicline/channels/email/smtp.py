"""Sending answers by e-mail over SMTP with aiosmtplib, threaded in the citizen's mail client.

Each mail gets a Message-ID that names its outbox row (``<civicline.{id}.{case}@domain>``), so a
retried send carries the same id, a bounce finds the reply it returns, and the citizen's answer
finds its case. ``In-Reply-To``/``References`` point at the citizen's latest mail on the case;
the subject carries the case number. Acknowledgements are marked ``Auto-Submitted:
auto-replied`` (RFC 3834) so well-behaved auto-responders do not answer them; staff answers are
``Auto-Submitted: no``.

A refused recipient or another 5xx answer fails at once (the failure shows on the case); 4xx,
timeouts and network errors are retried by the delivery worker.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from civicline.domain.messages import Channel, DeliveryStatus, OutboundMessage
from civicline.handlers.letters import MailThread
from civicline.handlers.ports import SendError, SendResult

log = logging.getLogger(__name__)

Threads = Callable[[OutboundMessage], Awaitable[MailThread]]


@dataclass(frozen=True, slots=True)
class SmtpAccount:
    host: str
    port: int
    from_address: str
    from_name: str = "市长信箱"
    user: str | None = None
    password: str | None = None
    tls: str = "starttls"  # "ssl" (implicit, 465), "starttls" (587), or "none" (this machine)
    timeout: float = 30.0

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2] or "localhost"


def compose(message: OutboundMessage, thread: MailThread, account: SmtpAccount) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((account.from_name, account.from_address))
    mail["To"] = message.recipient_address
    mail["Subject"] = thread.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = thread.message_id
    if thread.in_reply_to:
        mail["In-Reply-To"] = thread.in_reply_to
    if thread.references:
        mail["References"] = " ".join(thread.references)
    mail["Auto-Submitted"] = "auto-replied" if thread.automatic else "no"
    mail.set_content(message.text, charset="utf-8")
    return mail


class EmailSender:
    channel = Channel.EMAIL

    def __init__(self, account: SmtpAccount, threads: Threads) -> None:
        self.account = account
        self.threads = threads

    async def send(self, message: OutboundMessage) -> SendResult:
        thread = await self.threads(message)
        account = self.account
        try:
            await aiosmtplib.send(
                compose(message, thread, account),
                hostname=account.host,
                port=account.port,
                username=account.user,
                password=account.password,
                use_tls=account.tls == "ssl",
                start_tls=account.tls == "starttls",
                timeout=account.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendError("the mail server refused the recipient", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise SendError(f"SMTP {exc.code}", permanent=permanent) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendError(f"SMTP unreachable: {type(exc).__name__}", permanent=False) from exc
        log.info("mail sent", extra={"outbound_id": message.id})
        return SendResult(DeliveryStatus.SENT, thread.message_id)
