"""The staff console's use cases: sessions (the sign-in itself is ``handlers.signin``), the
queue and case screens as a given user may see them, and canned replies.

What a user sees is decided here, not in the pages: department clerks see their department
only, and never a citizen's phone number, ID number, e-mail or contact address (masked with
``nlu.masking``); operators, supervisors and admins see them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import Case
from civicline.domain.claims import (
    CannedReply,
    Claim,
    ConsoleSession,
    QueueFilter,
    QueueKind,
)
from civicline.domain.errors import InvalidInput
from civicline.domain.messages import InboundMessage, Language, OutboundMessage
from civicline.handlers.case_actions import CaseThread, NotAllowed, case_thread
from civicline.nlu import masking
from civicline.storage.base import UnitOfWork

NEAR_DUE = timedelta(hours=24)
"""A case whose deadline is closer than this is marked near-due in the queue."""
HIDDEN = "•••"
_CASE_NUMBER_START = re.compile(r"\d{6}-\d*|\d{6}")
_PHONE_LIKE = re.compile(r"\+?[\d\s-]{7,}")


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: StaffUser
    token: str  # goes into the (signed) cookie; only its hash is stored
    session: ConsoleSession


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    user: StaffUser, *, uow: UnitOfWork, now: datetime, ttl: timedelta
) -> SignedIn:
    """A new console session for a user who signed in (``handlers.signin.authenticate``)."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session = ConsoleSession(
        id=session_id(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + ttl,
    )
    async with uow:
        await uow.sessions.add(session)
        await uow.commit()
    return SignedIn(user, token, session)


async def session_user(
    token: str, *, uow: UnitOfWork, now: datetime
) -> tuple[ConsoleSession, StaffUser] | None:
    """The live session and its active user for a cookie's token, or None."""
    async with uow:
        session = await uow.sessions.get(session_id(token))
        if session is None or not session.live(now):
            return None
        user = await uow.staff.get(session.user_id)
    return (session, user) if user.active else None


async def sign_out(token: str, *, uow: UnitOfWork) -> None:
    async with uow:
        await uow.sessions.remove(session_id(token))
        await uow.commit()


# What a user may see ------------------------------------------------------------------------


def redact(text: str, user: StaffUser) -> str:
    """The text with phone and ID numbers and e-mail addresses masked, unless the user's role
    may see them."""
    return text if user.sees_contact_details else masking.mask(text)


def contact(address: str, user: StaffUser) -> str:
    return address if user.sees_contact_details else HIDDEN


def _redact_case(case: Case, user: StaffUser) -> Case:
    if user.sees_contact_details:
        return case
    return replace(
        case, summary=masking.mask(case.summary), reply_to=HIDDEN, events=list(case.events)
    )


def _redact_inbound(message: InboundMessage, user: StaffUser) -> InboundMessage:
    if user.sees_contact_details:
        return message
    return replace(
        message,
        text=masking.mask(message.text),
        sender_address=HIDDEN,
        shared_phone=HIDDEN if message.shared_phone else None,
    )


def _redact_outbound(message: OutboundMessage, user: StaffUser) -> OutboundMessage:
    if user.sees_contact_details:
        return message
    return replace(message, text=masking.mask(message.text), recipient_address=HIDDEN)


@dataclass(frozen=True, slots=True)
class Search:
    number: str | None = None
    text: str | None = None
    phone: str | None = None


def parse_search(q: str, user: StaffUser) -> Search:
    """A case number (or its start), a phone number, or words of the complaint. Searching by
    phone needs a role that may see numbers; clerks may not find a citizen by their number
    through the complaint text either."""
    q = " ".join(q.split())[:100]
    if not q:
        return Search()
    if _CASE_NUMBER_START.fullmatch(q):
        return Search(number=q)
    phone_like = _PHONE_LIKE.fullmatch(q) is not None or bool(masking.find_phones(q))
    if phone_like and not user.sees_contact_details:
        raise NotAllowed("searching by phone number is for operators and supervisors")
    if _PHONE_LIKE.fullmatch(q):
        return Search(phone=re.sub(r"[\s-]", "", q).lstrip("+"))
    return Search(text=q)


@dataclass(frozen=True, slots=True)
class QueueRow:
    case: Case
    claim: Claim | None
    overdue: bool
    near_due: bool
    deadline: datetime


@dataclass(frozen=True, slots=True)
class QueueScreen:
    query: QueueFilter
    rows: list[QueueRow]
    total: int
    overdue: int


def scoped(query: QueueFilter, user: StaffUser) -> QueueFilter:
    """The query as the user may run it: clerks see their own department's reply queue."""
    if query.kind == QueueKind.TRIAGE and not user.may_triage:
        raise NotAllowed(f"{user.username} may not see the triage queue")
    if user.sees_all_departments:
        return query
    if query.department not in (None, user.department):
        raise NotAllowed(f"{user.username} sees the {user.department} department only")
    return replace(query, department=user.department)


async def queue_screen(
    query: QueueFilter, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> QueueScreen:
    query = scoped(query, user)
    async with uow:
        page = await uow.queue_view.page(query, now=now)
        claims = await uow.claims.of_cases(c.id for c in page.cases if c.id is not None)
    rows = []
    for case in page.cases:
        assert case.id is not None
        deadline = case.complete_due_at if query.kind == QueueKind.REPLY else case.accept_due_at
        claim = claims.get(case.id)
        rows.append(
            QueueRow(
                case=_redact_case(case, user),
                claim=claim if claim is not None and claim.live(now) else None,
                overdue=deadline < now,
                near_due=now <= deadline < now + NEAR_DUE,
                deadline=deadline,
            )
        )
    return QueueScreen(query=query, rows=rows, total=page.total, overdue=page.overdue)


@dataclass(frozen=True, slots=True)
class CaseScreen:
    thread: CaseThread
    claim: Claim | None  # a live claim, or None
    mine: bool  # the user holds it
    canned: list[CannedReply]

    @property
    def case(self) -> Case:
        return self.thread.case


async def case_screen(
    number: str, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> CaseScreen:
    """The case, its thread and history as the user may see them, who holds it, and the
    canned replies for its category."""
    thread = await case_thread(number, user=user, uow=uow)
    case = thread.case
    assert case.id is not None
    async with uow:
        claim = await uow.claims.of_case(case.id)
        canned = await uow.canned_replies.for_category(case.category)
    live = claim if claim is not None and claim.live(now) else None
    visible = CaseThread(
        case=_redact_case(case, user),
        inbound=[_redact_inbound(m, user) for m in thread.inbound],
        outbound=[_redact_outbound(m, user) for m in thread.outbound],
    )
    return CaseScreen(
        thread=visible,
        claim=live,
        mine=live is not None and live.holder_id == user.id,
        canned=canned,
    )


# Canned replies -----------------------------------------------------------------------------

MAX_CANNED_TITLE = 100
MAX_CANNED_TEXT = 2000


async def save_canned_reply(
    *,
    reply_id: int | None,
    category: str | None,
    language: str,
    title: str,
    text: str,
    user: StaffUser,
    uow: UnitOfWork,
    known_categories: set[str],
    now: datetime,
) -> CannedReply:
    """Add or edit a canned reply (admins only)."""
    if not user.may_edit_canned_replies:
        raise NotAllowed(f"{user.username} may not edit canned replies")
    title, text = " ".join(title.split()), text.strip()
    if not title or not text:
        raise InvalidInput("a canned reply needs a title and a text")
    if len(title) > MAX_CANNED_TITLE or len(text) > MAX_CANNED_TEXT:
        raise InvalidInput(
            f"a canned reply holds at most {MAX_CANNED_TITLE} characters of title and "
            f"{MAX_CANNED_TEXT} of text"
        )
    if category is not None and category not in known_categories:
        raise InvalidInput(f"unknown category {category}")
    if language not in (Language.ZH, Language.EN):
        raise InvalidInput(f"unknown language {language}")
    async with uow:
        saved = await uow.canned_replies.save(
            CannedReply(
                id=reply_id,
                category=category,
                language=Language(language),
                title=title,
                text=text,
                updated_at=now,
                updated_by=user.actor,
            )
        )
        await uow.commit()
        return saved


async def delete_canned_reply(reply_id: int, *, user: StaffUser, uow: UnitOfWork) -> None:
    if not user.may_edit_canned_replies:
        raise NotAllowed(f"{user.username} may not edit canned replies")
    async with uow:
        await uow.canned_replies.remove(reply_id)
        await uow.commit()


async def canned_replies(*, uow: UnitOfWork) -> list[CannedReply]:
    async with uow:
        return await uow.canned_replies.all()


async def canned_text(text: str, canned_id: str | None, *, uow: UnitOfWork) -> str:
    """The reply's words: what was typed, or else the chosen canned reply's text."""
    if text.strip() or not canned_id:
        return text
    try:
        reply_id = int(canned_id)
    except ValueError:
        raise InvalidInput("unknown canned reply") from None
    async with uow:
        return (await uow.canned_replies.get(reply_id)).text
