"""Letters (信): the mayor's mailbox on the web and by e-mail, and paper letters.

A city takes letters three ways and each becomes a case: the mailbox web form (书记市长信箱),
e-mail to the mailbox's address, and paper letters a registry clerk enters (来信). A letter
keeps what a case does not: whom it was written to, its subject, who signed it and how many
(联名信), when it was posted and received, whether it may be published, the query code (查询码)
for the form's status page (only its hash is kept), and how a reply by post went.

Deadlines follow the regulation (信访工作条例): whether to accept a letter is decided within
15 days of its receipt; completion then follows the category's deadline. The letter's received
date, not the day a clerk filed it, starts both clocks.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from civicline.domain.errors import InvalidInput

ACCEPT_DAYS = 15  # 信访工作条例: decide whether to accept within 15 days of receipt
MAX_SUBJECT = 200
MAX_BODY = 5_000
MAX_NAME = 100
MAX_ADDRESS = 300
MAX_SIGNATORIES = 100_000
# The query code's alphabet: no 0/O, 1/I/L, so it can be read out and typed from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
# What a letter may carry: photos and scans, and PDF documents.
ALLOWED_FILE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}
)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


class LetterKind(enum.StrEnum):
    FORM = "form"  # the mailbox web form
    EMAIL = "email"
    PAPER = "paper"


@dataclass(frozen=True, slots=True)
class Addressee:
    """A mailbox a letter may be written to: the party secretary's, the mayor's, a
    department's. ``department`` routes its letters when the NLU is unsure."""

    code: str
    zh: str
    en: str
    department: str | None = None

    def name(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True, slots=True)
class LetterFile:
    """A scan, photo or PDF that came with a letter (a form upload, a mail attachment)."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PostReply:
    """An answer sent by post: when it went and its tracking number (挂号信)."""

    sent_on: date
    tracking_number: str


@dataclass(slots=True)
class Letter:
    kind: LetterKind
    addressee: str
    subject: str
    received_at: datetime
    sender_name: str | None = None
    contact: str | None = None  # an E.164 phone or an e-mail address, for the reply
    address: str | None = None  # a paper letter's return address
    postmark_date: date | None = None
    signatories: int = 1  # more than one: a joint letter (联名信)
    may_publish: bool = False
    query_code_hash: str | None = None
    id: int | None = None
    case_id: int | None = None
    inbound_id: int | None = None
    post_reply: PostReply | None = None
    registered_by: str | None = None  # the clerk, for paper letters
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def joint(self) -> bool:
        return self.signatories > 1

    def check(self) -> None:
        if not self.subject.strip() or len(self.subject) > MAX_SUBJECT:
            raise InvalidInput(f"the subject must be 1-{MAX_SUBJECT} characters")
        if self.sender_name is not None and len(self.sender_name) > MAX_NAME:
            raise InvalidInput(f"the name must be at most {MAX_NAME} characters")
        if self.address is not None and len(self.address) > MAX_ADDRESS:
            raise InvalidInput(f"the address must be at most {MAX_ADDRESS} characters")
        if not 1 <= self.signatories <= MAX_SIGNATORIES:
            raise InvalidInput("the number of signatories must be at least 1")
        if self.postmark_date is not None and self.postmark_date > self.received_at.date():
            raise InvalidInput("the postmark date is after the received date")


def file_type(data: bytes) -> str | None:
    """What a file's bytes say it is, of the types a letter may carry; None for anything else
    (whatever its name or its sender claims)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def new_query_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """What a citizen types: spaces, dashes and lower case are forgiven."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_query_code(code: str, *, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>``: a leaked table does not give the codes away."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(normalise_code(code).encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def query_code_matches(code: str, stored: str | None) -> bool:
    if not stored or stored.count("$") != 2:
        return False
    scheme, salt_hex, digest_hex = stored.split("$")
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(normalise_code(code).encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def addressees_from_dict(raw: dict[str, object], departments: dict[str, str]) -> list[Addressee]:
    """The mailboxes file (``mailboxes: {code: {zh, en, department?}}``); a department must be
    one of the taxonomy's (``departments`` maps its codes to names)."""
    boxes = raw.get("mailboxes")
    if not isinstance(boxes, dict) or not boxes:
        raise InvalidInput("mailboxes file needs a mapping `mailboxes`")
    found = []
    for code, entry in boxes.items():
        if not isinstance(entry, dict) or not entry.get("zh") or not entry.get("en"):
            raise InvalidInput(f"mailbox {code} needs zh and en names")
        department = entry.get("department")
        if department is not None and department not in departments:
            raise InvalidInput(f"mailbox {code}: unknown department {department}")
        found.append(Addressee(str(code), str(entry["zh"]), str(entry["en"]), department))
    return found
