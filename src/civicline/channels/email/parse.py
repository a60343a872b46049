"""One raw mail (RFC 5322 bytes) read into what filing needs; never raises on bad input.

What kind of mail it is decides what happens to it:

* ``letter``: a citizen wrote; it opens a case, or joins one when it answers our reply.
* ``auto_reply``: ``Auto-Submitted`` other than ``no`` (RFC 3834), ``X-Autoreply``,
  ``X-Autorespond``, ``X-Auto-Response-Suppress`` (Exchange), ``Precedence: bulk|junk|
  auto_reply``, a delay notice, or an out-of-office subject. Never a case.
* ``bounce``: a delivery status notification (``multipart/report; report-type=
  delivery-status``, RFC 3464) whose action is ``failed``, with the Message-ID of the mail
  that bounced (from the returned message or its headers) and the reason.
* ``list``: mailing-list mail (``List-Id``, ``List-Unsubscribe``, ``List-Post``,
  ``Mailing-List``, ``Precedence: list``). Never a case.

Malformed MIME is read as far as it goes; its defects are listed in ``problems`` for staff.
"""

from __future__ import annotations

import email
import hashlib
import re
from datetime import datetime
from email.header import Header, decode_header
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime

from civicline.channels.email.text import decode_bytes, html_to_text, strip_reply
from civicline.domain.letters import LetterFile
from civicline.domain.mail import CASE_NUMBER, Bounce, Mail, MailKind

MAX_ID = 128  # the inbox's provider id column
_MSG_ID = re.compile(r"<[^<>\s]+>")
_AUTH = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(自动回复|自动答复|Auto(matic)?[ -]?(reply|response)|Out of (the )?Office|Autoreply"
    r"|Abwesenheitsnotiz|休假)\b",
    re.I,
)


def header_text(message: Message, name: str) -> str:
    """A header decoded (RFC 2047 words in any charset, raw 8-bit GBK too), or ''."""
    raw = message.get(name)
    if raw is None:
        return ""
    parts = []
    # A header with raw 8-bit bytes comes as a Header object whose chunks are those bytes.
    for chunk, charset in decode_header(raw if isinstance(raw, Header) else str(raw)):
        if isinstance(chunk, bytes):
            parts.append(decode_bytes(chunk, charset)[0])
        else:
            parts.append(_unescape(chunk))
    return " ".join("".join(parts).split())


def _unescape(text: str) -> str:
    """Raw 8-bit header bytes come in as surrogate escapes: decode them properly."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), None)[0]


def message_id_of(value: str, raw: bytes) -> str:
    found = _MSG_ID.search(value or "")
    if found and len(found.group(0)) <= MAX_ID:
        return found.group(0)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _ids(value: str) -> tuple[str, ...]:
    return tuple(_MSG_ID.findall(value or ""))


def parse_mail(
    raw: bytes,
    *,
    allowed_types: frozenset[str] = frozenset(),
    max_file_bytes: int = 0,
) -> Mail:
    """Read ``raw``. Attachments of ``allowed_types`` up to ``max_file_bytes`` are kept;
    the others are named in ``problems``, not kept."""
    message = email.message_from_bytes(raw)
    problems: list[str] = [f"malformed MIME: {type(d).__name__}" for d in message.defects]
    name, address = parseaddr(header_text(message, "From"))
    bounce = _bounce(message)
    texts, htmls, files = _walk(message, allowed_types, max_file_bytes, problems)
    body = "\n\n".join(t for t in texts if t.strip()) or html_to_text("\n".join(htmls))
    subject = header_text(message, "Subject")
    in_reply_to = _ids(str(message.get("In-Reply-To", "")))
    references = _ids(str(message.get("References", "")))
    kind = _kind(message, subject, bounce)
    is_reply = bool(in_reply_to or references or CASE_NUMBER.search(subject))
    return Mail(
        message_id=message_id_of(str(message.get("Message-ID", "")), raw),
        kind=kind,
        sender=address.lower() or None,
        sender_name=name or None,
        subject=subject,
        text=strip_reply(body) if is_reply and kind == MailKind.LETTER else body.strip(),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=references,
        sent_at=_date(message),
        files=tuple(files),
        bounce=bounce if kind == MailKind.BOUNCE else None,
        authentication=_authentication(message),
        problems=tuple(dict.fromkeys(problems)),
        size=len(raw),
    )


def _walk(
    message: Message, allowed: frozenset[str], max_bytes: int, problems: list[str]
) -> tuple[list[str], list[str], list[LetterFile]]:
    texts: list[str] = []
    htmls: list[str] = []
    files: list[LetterFile] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        problems.extend(f"malformed MIME: {type(d).__name__}" for d in part.defects)
        media_type = part.get_content_type()
        filename = part.get_filename()
        disposition = (part.get_content_disposition() or "").lower()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if (
            filename is None
            and disposition != "attachment"
            and part.get_content_maintype() == "text"
        ):
            text, note = decode_bytes(data, part.get_content_charset())
            if note:
                problems.append(note)
            if media_type == "text/html":
                htmls.append(text)
            elif media_type == "text/plain":
                texts.append(text)
            continue
        name = _unescape(filename or f"attachment.{media_type.rpartition('/')[2]}")
        if media_type not in allowed:
            problems.append(f"attachment {name!r} not kept: type {media_type} is not accepted")
        elif len(data) > max_bytes:
            problems.append(
                f"attachment {name!r} not kept: {len(data) / 1_000_000:.1f} MB is over "
                f"{max_bytes / 1_000_000:.0f} MB"
            )
        else:
            files.append(LetterFile(name=name[:200], media_type=media_type, data=data))
    return texts, htmls, files


def _kind(message: Message, subject: str, bounce: Bounce | None) -> MailKind:
    if bounce is not None:
        return MailKind.BOUNCE
    precedence = str(message.get("Precedence", "")).strip().lower()
    if any(message.get(h) for h in ("List-Id", "List-Unsubscribe", "List-Post", "Mailing-List")):
        return MailKind.LIST
    if precedence == "list":
        return MailKind.LIST
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if (
        auto_submitted not in ("", "no")
        or any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"))
        or precedence in ("bulk", "junk", "auto_reply")
        or message.get_content_type() == "multipart/report"
        or _AUTO_SUBJECT.match(subject)
    ):
        return MailKind.AUTO_REPLY
    return MailKind.LETTER


def _bounce(message: Message) -> Bounce | None:
    """A failed-delivery report (RFC 3464), or None (a delay notice is not a failure)."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    action, status, diagnostic, original = "", None, "", None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for block in part.get_payload():
                if not isinstance(block, Message):
                    continue
                action = action or str(block.get("Action", "")).strip().lower()
                status = status or (str(block.get("Status", "")).strip() or None)
                diagnostic = diagnostic or " ".join(str(block.get("Diagnostic-Code", "")).split())
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_id(part)
    if action != "failed":
        return None
    reason = diagnostic.partition(";")[2].strip() or diagnostic or f"status {status}"
    return Bounce(original_message_id=original, reason=reason[:400], status=status)


def _original_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            found = _ids(str(inner[0].get("Message-ID", "")))
            return found[0] if found else None
        return None
    payload = part.get_payload(decode=True)
    headers = email.message_from_bytes(payload if isinstance(payload, bytes) else b"")
    found = _ids(str(headers.get("Message-ID", "")))
    return found[0] if found else None


def _authentication(message: Message) -> dict[str, str]:
    """Results from the topmost Authentication-Results header: the one our own mail server
    added (lower ones came with the mail and prove nothing)."""
    header = message.get("Authentication-Results")
    if header is None:
        return {}
    results: dict[str, str] = {}
    for method, result in _AUTH.findall(str(header)):
        results.setdefault(method.lower(), result.lower())
    return results


def _date(message: Message) -> datetime | None:
    value = message.get("Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None
