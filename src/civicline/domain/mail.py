"""A mail as the mailbox channel hands it over: what kind it is, its words, its threading
headers, its files, and for a bounce which of our mails failed and why."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from civicline.domain.letters import LetterFile

CASE_NUMBER = re.compile(r"(?<!\d)(\d{6}-\d{5})(?!\d)")


class MailKind(enum.StrEnum):
    LETTER = "letter"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"


@dataclass(frozen=True, slots=True)
class Bounce:
    original_message_id: str | None
    reason: str
    status: str | None = None  # the DSN status code, 5.1.1


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str  # <…> as sent, or ``sha256:…`` of the bytes when missing or too long
    kind: MailKind
    sender: str | None  # the From address, lower case
    sender_name: str | None
    subject: str
    text: str  # a reply's quotes and signature cut off
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    sent_at: datetime | None = None
    files: tuple[LetterFile, ...] = ()
    bounce: Bounce | None = None
    authentication: dict[str, str] = field(default_factory=dict)  # spf/dkim/dmarc → result
    problems: tuple[str, ...] = ()
    size: int = 0

    @property
    def case_number(self) -> str | None:
        found = CASE_NUMBER.search(self.subject)
        return found.group(1) if found else None

    @property
    def is_reply(self) -> bool:
        return bool(self.in_reply_to or self.references or self.case_number)
