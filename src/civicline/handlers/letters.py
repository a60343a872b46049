"""Letters (信) become cases: the mailbox web form, e-mail, and paper letters from the registry.

Every letter is stored in the inbox first (the form's submission id, the mail's Message-ID, or
the clerk's registration id), so a letter handed over twice is one case. The form and the
clerk's page file at once (the writer waits for the number); mail is filed by the worker.
The case opens on the letter's own channel (``mailbox``, ``email``, ``letter``) with the
letters' deadlines, counted from the received date; answers go where the writer asked: SMS or
e-mail, or by post (a task the clerk marks sent with its tracking number).

Mail that is not a letter opens nothing: auto-replies and mailing-list mail are kept in the
inbox as processed, and a bounce marks the reply it returns ``failed`` with its reason. A
citizen's answer to our mail (its headers point at one of ours, or its subject names the case
number, and it comes from the case's own address) joins that case.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from civicline.domain.cases import CaseEvent, CaseStatus, EventKind
from civicline.domain.citizens import ContactHandle
from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.letters import (
    MAX_BODY,
    Addressee,
    Letter,
    LetterFile,
    LetterKind,
    PostReply,
    hash_query_code,
    new_query_code,
    query_code_matches,
)
from civicline.domain.mail import CASE_NUMBER, Mail, MailKind
from civicline.domain.messages import (
    Channel,
    DeliveryStatus,
    InboundMessage,
    InboundStatus,
    Language,
    OutboundMessage,
    guess_language,
    storable_message,
)
from civicline.domain.taxonomy import Taxonomy
from civicline.domain.text import flaw
from civicline.handlers.board import record_consent
from civicline.handlers.cases import Confirmed, Routing, open_case, read_complaint, to_citizen
from civicline.handlers.delivery import record_receipt
from civicline.handlers.inbound import Handled
from civicline.handlers.intake import accept
from civicline.nlu.base import Classifier
from civicline.storage.base import InboxWriter, JobQueue, UnitOfWork, UnitOfWorkFactory
from civicline.storage.files import FileStore

log = logging.getLogger(__name__)

LETTER_CHANNELS = frozenset({Channel.EMAIL, Channel.MAILBOX, Channel.LETTER})
KIND_OF_CHANNEL = {
    Channel.EMAIL: LetterKind.EMAIL,
    Channel.MAILBOX: LetterKind.FORM,
    Channel.LETTER: LetterKind.PAPER,
}
OUR_MESSAGE_ID = "civicline."  # our Message-IDs: <civicline.{outbound id}.{case number}@domain>


@dataclass(frozen=True, slots=True)
class Letters:
    """What filing letters needs."""

    uow_factory: UnitOfWorkFactory
    taxonomy: Taxonomy
    routing: Routing
    nlu: Classifier
    files: FileStore
    addressees: Mapping[str, Addressee]
    inbox: InboxWriter  # where form and paper letters are stored (``handlers.intake.accept``)

    @property
    def default_addressee(self) -> str:
        return next(iter(self.addressees))


TEXT_FIELDS = (
    *("submission_id", "addressee", "subject", "body", "sender_name", "phone", "email"),
    *("address", "registered_by", "category", "department"),
)


@dataclass(frozen=True, slots=True)
class Draft:
    """A letter as the form or the clerk hands it over."""

    kind: LetterKind
    submission_id: str  # the form's or the registration's id: the same letter twice is one
    addressee: str
    subject: str
    body: str
    received_at: datetime
    sender_name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    address: str | None = None
    postmark_date: date | None = None
    signatories: int = 1
    may_publish: bool = False
    uploads: tuple[LetterFile, ...] = ()
    registered_by: str | None = None
    category: str | None = None  # the clerk's correction of the NLU
    department: str | None = None
    language: Language | None = None

    def check(self, letters: Letters) -> None:
        for name in TEXT_FIELDS:
            if problem := flaw(getattr(self, name) or ""):
                raise InvalidInput(f"{name} {problem}")
        if self.addressee not in letters.addressees:
            raise InvalidInput(f"unknown mailbox {self.addressee}")
        if not self.body.strip():
            raise InvalidInput("the letter has no text")
        if len(self.body) > MAX_BODY:
            raise InvalidInput(f"the letter is longer than {MAX_BODY} characters")
        if self.kind == LetterKind.FORM and not (self.phone or self.email):
            raise InvalidInput("give a phone number or an e-mail address for the reply")
        if self.category is not None and self.category not in letters.taxonomy.categories:
            raise InvalidInput(f"unknown category {self.category}")
        if self.department is not None and self.department not in letters.taxonomy.departments:
            raise InvalidInput(f"unknown department {self.department}")


@dataclass(frozen=True, slots=True)
class Filed:
    number: str
    created: bool
    query_code: str | None = None  # shown once, on the form's answer; only its hash is kept
    outbound_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Processed:
    """What the worker did with a stored letter or mail."""

    outcome: str  # opened, joined, ignored, bounce, done_before
    case_number: str | None = None
    outbound_ids: list[int] = field(default_factory=list)


def _text(subject: str, body: str) -> str:
    return f"{subject.strip()}\n\n{body.strip()}" if subject.strip() else body.strip()


async def store_uploads(
    uploads: Sequence[LetterFile], files: FileStore
) -> tuple[list[str], list[Any]]:
    """Keep each file once (by its hash): its ``file:<sha256>`` references, and what it was."""
    refs, described = [], []
    for upload in uploads:
        digest = await files.put(upload.data)
        refs.append(f"file:{digest}")
        described.append({"name": upload.name, "type": upload.media_type, "size": len(upload.data)})
    return refs, described


async def file_letter(draft: Draft, letters: Letters, *, now: datetime) -> Filed:
    """File a form or paper letter at once; the same submission id twice is one case."""
    draft.check(letters)
    refs, described = await store_uploads(draft.uploads, letters.files)
    channel = Channel.MAILBOX if draft.kind == LetterKind.FORM else Channel.LETTER
    code = new_query_code() if draft.kind == LetterKind.FORM else None
    sender = draft.phone or draft.email or f"paper:{draft.submission_id}"
    message = InboundMessage(
        channel=channel,
        provider_message_id=draft.submission_id,
        sender_address=sender,
        text=_text(draft.subject, draft.body),
        received_at=draft.received_at,
        language=draft.language or guess_language(draft.subject + draft.body),
        attachments=refs,
        meta={
            "letter": {
                "kind": draft.kind,
                "addressee": draft.addressee,
                "subject": draft.subject.strip(),
                "sender_name": draft.sender_name,
                "phone": draft.phone,
                "email": draft.email,
                "address": draft.address,
                "postmark_date": draft.postmark_date.isoformat() if draft.postmark_date else None,
                "signatories": draft.signatories,
                "may_publish": draft.may_publish,
                "registered_by": draft.registered_by,
                "query_code_hash": hash_query_code(code) if code else None,
                "files": described,
                "operator_choice": {
                    k: v
                    for k, v in (("category", draft.category), ("department", draft.department))
                    if v
                },
            }
        },
    )
    # The writer or the clerk waits for the number: filed here, not queued.
    accepted = await accept(message, inbox=letters.inbox, queue=None)
    done = await process_stored(accepted.id, letters, now=now)
    if done.case_number is None:
        raise InvalidInput("the letter could not be filed")
    new = accepted.created
    return Filed(done.case_number, new, code if new else None, done.outbound_ids)


async def accept_mail(
    mail: Mail,
    letters: Letters,
    *,
    queue: JobQueue,
    account: str,
    folder: str,
    uidvalidity: int,
    uid: int,
    now: datetime,
) -> int | None:
    """Store one mail read from the mailbox and move the folder's cursor past it, in one
    transaction, and queue its processing. Returns the new inbox id, or None when the
    Message-ID was stored before (the mail was read twice, or sent to us twice)."""
    refs, described = await store_uploads(mail.files, letters.files)
    # Refusing a mail would stop the mailbox's cursor: what no database can store becomes U+FFFD.
    message = storable_message(
        InboundMessage(
            channel=Channel.EMAIL,
            provider_message_id=mail.message_id,
            sender_address=(mail.sender or "unknown")[:200],
            text=mail.text if mail.is_reply else _text(mail.subject, mail.text),
            received_at=now,
            language=guess_language(mail.subject + mail.text),
            attachments=refs,
            meta={
                "mail": {
                    "kind": mail.kind,
                    "subject": mail.subject[:500],
                    "sender_name": mail.sender_name,
                    "in_reply_to": mail.in_reply_to,
                    "references": list(mail.references[-20:]),
                    "sent_at": mail.sent_at.isoformat() if mail.sent_at else None,
                    "authentication": mail.authentication,
                    "problems": list(mail.problems)[:20],
                    "files": described,
                    "size": mail.size,
                    "uid": uid,
                    "bounce": (
                        {
                            "original_message_id": mail.bounce.original_message_id,
                            "reason": mail.bounce.reason,
                            "status": mail.bounce.status,
                        }
                        if mail.bounce
                        else None
                    ),
                }
            },
        )
    )
    cursor = _MailInbox(letters, account, folder, uidvalidity, uid, now)
    accepted = await accept(message, inbox=cursor, queue=queue)
    new = accepted.created
    log.info(
        "mail stored",
        extra={"inbound_id": accepted.id, "kind": str(mail.kind), "new": new, "uid": uid},
    )
    return accepted.id if new else None


@dataclass(frozen=True, slots=True)
class _MailInbox:
    """The inbox writer for one mail: stores it and moves its folder's cursor past it in one
    transaction, so a crash between the two neither skips a mail nor files one twice."""

    letters: Letters
    account: str
    folder: str
    uidvalidity: int
    uid: int
    now: datetime

    async def add(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        async with self.letters.uow_factory() as uow:
            stored = await uow.letters.store_mail(
                message,
                account=self.account,
                folder=self.folder,
                uidvalidity=self.uidvalidity,
                uid=self.uid,
                now=self.now,
            )
            await uow.commit()
        return stored


async def process_letter(message: InboundMessage, now: datetime, *, letters: Letters) -> Handled:
    """The worker's way in (``handlers.inbound``): a letter or mail opens, joins or is set
    aside at once, without a dialogue."""
    assert message.id is not None
    done = await process_stored(message.id, letters, now=now)
    opened = [done.case_number] if done.outcome == "opened" and done.case_number else []
    return Handled(done.outbound_ids, case_number=done.case_number, opened=opened)


async def process_stored(message_id: int, letters: Letters, *, now: datetime) -> Processed:
    """Open, join or set aside one stored letter or mail; a second run changes nothing."""
    async with letters.uow_factory() as uow:
        peek = await uow.inbox.get(message_id)
    if peek.status == InboundStatus.PROCESSED:
        return await _done_before(peek, letters)
    if peek.channel == Channel.EMAIL:
        kind = MailKind(peek.meta.get("mail", {}).get("kind", MailKind.LETTER))
        if kind == MailKind.BOUNCE:
            return await _bounce(peek, letters, now=now)
        if kind != MailKind.LETTER:
            return await _set_aside(peek, letters, kind, now=now)
        joined = await _join_thread(peek, letters, now=now)
        if joined is not None:
            return joined
    reading = await read_complaint(peek.text, nlu=letters.nlu)
    async with letters.uow_factory() as uow:
        message = await uow.inbox.get(message_id, lock=True)
        if message.status == InboundStatus.PROCESSED:
            return await _done_before(message, letters)
        letter, reply = _letter_of(message, letters)
        citizen = await uow.citizens.get_or_create(
            reply, at=now, language=message.language or Language.ZH
        )
        assert citizen.id is not None
        if reply.channel != message.channel:
            await uow.citizens.link(
                citizen.id, ContactHandle(message.channel, message.sender_address)
            )
        message.citizen_id = citizen.id
        addressee = letters.addressees.get(letter.addressee)
        choice = message.meta.get("letter", {}).get("operator_choice", {})
        confirmed = Confirmed(
            category=choice.get("category"),
            department=choice.get("department") or (addressee.department if addressee else None),
            by="clerk" if letter.kind == LetterKind.PAPER else "citizen",
        )
        case = await open_case(
            message, reading, uow=uow, filing=letters, now=now, confirmed=confirmed, letter=True
        )
        case.reply_channel = reply.channel
        case.reply_to = reply.address
        if letter.joint:
            case.collective = True
        await uow.cases.save(case)
        if letter.kind == LetterKind.FORM:  # the form asks; mail and paper letters do not
            await record_consent(
                case,
                letter.may_publish,
                uow=uow,
                now=now,
                review=letters.routing.board_review,
                title=letter.subject,
            )
        letter.case_id = case.id
        letter.inbound_id = message.id
        await uow.letters.add(letter)
        message.case_id = case.id
        message.status = InboundStatus.PROCESSED
        await uow.inbox.save(message, processed_at=now)
        outbound_ids = []
        if reply.channel in (Channel.SMS, Channel.EMAIL):
            receipt = await uow.outbox.add(
                to_citizen(case, receipt_text(case.number, case.language), now=now)
            )
            assert receipt.id is not None
            outbound_ids.append(receipt.id)
        await uow.commit()
    log.info("letter filed", extra={"case": case.number, "kind": str(letter.kind)})
    return Processed("opened", case.number, outbound_ids)


def _letter_of(message: InboundMessage, letters: Letters) -> tuple[Letter, ContactHandle]:
    """The letter a stored message holds, and where its answers go."""
    if message.channel == Channel.EMAIL:
        mail = message.meta.get("mail", {})
        letter = Letter(
            kind=LetterKind.EMAIL,
            addressee=letters.default_addressee,
            subject=str(mail.get("subject") or "")[:200] or "(无主题)",
            received_at=message.received_at,
            sender_name=mail.get("sender_name"),
            contact=message.sender_address,
            meta={k: str(v) for k, v in (mail.get("authentication") or {}).items()},
        )
        return letter, ContactHandle(Channel.EMAIL, message.sender_address)
    facts = message.meta["letter"]
    postmark = facts.get("postmark_date")
    letter = Letter(
        kind=LetterKind(facts["kind"]),
        addressee=str(facts["addressee"]),
        subject=str(facts["subject"]),
        received_at=message.received_at,
        sender_name=facts.get("sender_name"),
        contact=facts.get("phone") or facts.get("email"),
        address=facts.get("address"),
        postmark_date=date.fromisoformat(postmark) if postmark else None,
        signatories=int(facts.get("signatories") or 1),
        may_publish=bool(facts.get("may_publish")),
        query_code_hash=facts.get("query_code_hash"),
        registered_by=facts.get("registered_by"),
    )
    if facts.get("phone"):
        return letter, ContactHandle(Channel.SMS, str(facts["phone"]))
    if facts.get("email"):
        return letter, ContactHandle(Channel.EMAIL, str(facts["email"]))
    return letter, ContactHandle(Channel.LETTER, message.sender_address)


def receipt_text(number: str, language: Language) -> str:
    if language == Language.ZH:
        return (
            f"您的来信已收到，编号 {number}。我们将在15日内告知是否受理，"
            f"办理结果将按您留下的联系方式答复。"
        )
    return (
        f"Your letter has been received as case {number}. Within 15 days we will tell you "
        f"whether it is accepted; the answer will reach you where you asked."
    )


def our_outbound_id(message_id: str | None) -> int | None:
    """The outbox id inside one of our Message-IDs, or None for anyone else's."""
    if not message_id or not message_id.startswith("<" + OUR_MESSAGE_ID):
        return None
    parts = message_id[1 + len(OUR_MESSAGE_ID) :].split(".", 1)
    return int(parts[0]) if parts[0].isdigit() else None


async def _join_thread(
    message: InboundMessage, letters: Letters, *, now: datetime
) -> Processed | None:
    """A citizen's answer to our mail joins its case, when it comes from the case's address."""
    mail = message.meta.get("mail", {})
    pointers = [mail.get("in_reply_to"), *reversed(mail.get("references") or [])]
    async with letters.uow_factory() as uow:
        case = None
        for pointer in pointers:
            outbound_id = our_outbound_id(pointer)
            if outbound_id is None:
                continue
            try:
                ours = await uow.outbox.get(outbound_id)
            except NotFound:
                continue
            if ours.provider_message_id == pointer and ours.case_id is not None:
                case = await uow.cases.get(ours.case_id)
                break
        if case is None:
            named = CASE_NUMBER.search(str(mail.get("subject") or ""))
            if named:
                try:
                    case = await uow.cases.by_number(named.group(1))
                except NotFound:
                    case = None
        if case is None or case.reply_to.lower() != message.sender_address.lower():
            return None
        case = await uow.cases.by_number(case.number, lock=True)
        stored = await uow.inbox.get(message.id or 0, lock=True)
        if stored.status == InboundStatus.PROCESSED:
            return Processed("done_before", case.number)
        case.record(CaseEvent(EventKind.MESSAGE, at=now, actor="citizen", data={"mail": True}))
        if case.paused_since is not None:
            case.resume(actor="citizen", at=now, calendar=letters.routing.calendar)
        await uow.cases.save(case)
        stored.citizen_id = case.citizen_id
        stored.case_id = case.id
        stored.status = InboundStatus.PROCESSED
        await uow.inbox.save(stored, processed_at=now)
        await uow.commit()
    log.info("mail joined its case", extra={"case": case.number, "inbound_id": message.id})
    return Processed("joined", case.number)


async def _set_aside(
    message: InboundMessage, letters: Letters, kind: MailKind, *, now: datetime
) -> Processed:
    async with letters.uow_factory() as uow:
        stored = await uow.inbox.get(message.id or 0, lock=True)
        stored.status = InboundStatus.PROCESSED
        await uow.inbox.save(stored, processed_at=now)
        await uow.commit()
    log.info("mail set aside", extra={"inbound_id": message.id, "kind": str(kind)})
    return Processed("ignored")


async def _bounce(message: InboundMessage, letters: Letters, *, now: datetime) -> Processed:
    """The reply a bounce returns is ``failed``, with the reason the mail server gave."""
    bounce = message.meta.get("mail", {}).get("bounce") or {}
    original = bounce.get("original_message_id")
    outbound_id = our_outbound_id(original)
    marked = False
    if outbound_id is not None:
        async with letters.uow_factory() as uow:
            try:
                ours = await uow.outbox.get(outbound_id)
            except NotFound:
                ours = None
        if ours is not None and ours.provider_message_id == original:
            marked = await record_receipt(
                outbound_id,
                DeliveryStatus.FAILED,
                uow=letters.uow_factory(),
                now=now,
                channel=Channel.EMAIL,
                error=f"bounced: {bounce.get('status') or ''} {bounce.get('reason') or ''}".strip(),
            )
    await _set_aside(message, letters, MailKind.BOUNCE, now=now)
    log.info(
        "bounce read",
        extra={"inbound_id": message.id, "outbound_id": outbound_id, "marked": marked},
    )
    return Processed("bounce")


async def _done_before(message: InboundMessage, letters: Letters) -> Processed:
    if message.case_id is None:
        return Processed("done_before")
    async with letters.uow_factory() as uow:
        case = await uow.cases.get(message.case_id)
    return Processed("done_before", case.number)


@dataclass(frozen=True, slots=True)
class Answer:
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class LetterStatus:
    """What the query page shows: nothing about the writer."""

    number: str
    status: CaseStatus
    subject: str
    received_at: datetime
    accept_due_at: datetime
    answers: list[Answer]


class WrongCode(InvalidInput):
    """The number and query code do not belong together (or no such letter)."""


async def query(number: str, code: str, *, uow: UnitOfWork) -> LetterStatus:
    async with uow:
        letter = await uow.letters.by_case_number(number.strip())
        if letter is None or not query_code_matches(code, letter.query_code_hash):
            raise WrongCode("no letter with this number and query code")
        case = await uow.cases.by_number(number.strip())
        assert case.id is not None
        sent = await uow.outbox.for_case(case.id)
    # Every staff answer, delivered or not: the page is where a lost SMS can still be read.
    answers = [Answer(m.created_at, m.text) for m in sent if m.author.startswith("staff:")]
    return LetterStatus(
        number=case.number,
        status=case.status,
        subject=letter.subject,
        received_at=letter.received_at,
        accept_due_at=case.accept_due_at,
        answers=answers,
    )


async def record_post(
    number: str,
    outbound_id: int,
    post: PostReply,
    *,
    clerk: str,
    uow: UnitOfWork,
    now: datetime,
) -> None:
    """A reply to a paper letter went by post: the outbox row is ``sent`` with its tracking
    number, and the letter remembers the date."""
    if not post.tracking_number.strip() or len(post.tracking_number) > 64:
        raise InvalidInput("a tracking number of 1-64 characters is needed")
    async with uow:
        letter = await uow.letters.by_case_number(number)
        case = await uow.cases.by_number(number, lock=True)
        reply = await uow.outbox.get(outbound_id, lock=True)
        if letter is None or reply.case_id != case.id or reply.channel != Channel.LETTER:
            raise NotFound("reply by post", outbound_id)
        if reply.status != DeliveryStatus.QUEUED:
            raise InvalidInput("this reply was already sent")
        reply.status = DeliveryStatus.SENT
        reply.provider_message_id = post.tracking_number.strip()
        reply.updated_at = now
        await uow.outbox.save(reply)
        letter.post_reply = post
        await uow.letters.save(letter)
        case.record(
            CaseEvent(
                EventKind.MESSAGE,
                at=now,
                actor=clerk,
                data={"posted": post.sent_on.isoformat(), "outbound_id": outbound_id},
            )
        )
        await uow.cases.save(case)
        await uow.commit()


@dataclass(frozen=True, slots=True)
class MailThread:
    """The headers our mail needs to thread in the citizen's client."""

    message_id: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    automatic: bool  # an acknowledgement, not a person's answer (RFC 3834 Auto-Submitted)


async def thread_for(
    outbound: OutboundMessage, *, uow_factory: UnitOfWorkFactory, domain: str
) -> MailThread:
    number = ""
    subject = ""
    last: InboundMessage | None = None
    async with uow_factory() as uow:
        if outbound.case_id is not None:
            case = await uow.cases.get(outbound.case_id)
            number = case.number
            mails = [
                m for m in await uow.inbox.for_case(outbound.case_id) if m.channel == Channel.EMAIL
            ]
            last = mails[-1] if mails else None
            letter = await uow.letters.by_case_number(number)
            subject = letter.subject if letter else ""
    message_id = f"<{OUR_MESSAGE_ID}{outbound.id}.{number or 'x'}@{domain}>"
    references: tuple[str, ...] = ()
    in_reply_to = None
    if last is not None and last.provider_message_id.startswith("<"):
        in_reply_to = last.provider_message_id
        references = (*last.meta.get("mail", {}).get("references", [])[-10:], in_reply_to)
    base = subject or (
        "您的来信"
        if outbound.text and guess_language(outbound.text) == Language.ZH
        else "Your letter"
    )
    shown = base if base.lower().startswith("re:") else f"Re: {base}"
    return MailThread(
        message_id=message_id,
        subject=f"{shown} [{number}]" if number else shown,
        in_reply_to=in_reply_to,
        references=references,
        automatic=outbound.author == "bot",
    )
