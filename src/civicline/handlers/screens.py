"""The staff console's screens: the queue (with its search) and one case, as a given user may
see them (``handlers.access``). Sessions are ``handlers.sessions``, canned replies
``handlers.canned``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.board import BoardEntry
from civicline.domain.cases import Case
from civicline.domain.claims import (
    CannedReply,
    Claim,
    QueueFilter,
    QueueKind,
)
from civicline.domain.errors import NotAllowed
from civicline.domain.incidents import Suggestion
from civicline.handlers.access import redact_case, redact_inbound, redact_outbound
from civicline.handlers.case_actions import CaseThread, case_thread
from civicline.handlers.incident_review import visible_suggestions
from civicline.nlu import masking
from civicline.storage.base import UnitOfWork

NEAR_DUE = timedelta(hours=24)
"""A case whose deadline is closer than this is marked near-due in the queue."""
_CASE_NUMBER_START = re.compile(r"\d{6}-\d*|\d{6}")
_PHONE_LIKE = re.compile(r"\+?[\d\s-]{7,}")


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
    department, unit = user.narrowed(query.department)  # a clerk's own; a county's subtree
    return replace(query, department=department, unit=unit)


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
                case=redact_case(case, user),
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
    suggestions: list[Suggestion] = field(default_factory=list)  # one incident? the user may say
    may_unmerge: bool = False  # merged, and the user may handle both cases
    board: BoardEntry | None = None  # consent and standing with the public board

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
        suggestions = await visible_suggestions(case, user=user, uow=uow)
        may_unmerge = case.merged_into is not None and user.may_handle(
            (await uow.cases.by_number(case.merged_into)).department
        )
        board = await uow.board.get(case.id)
    live = claim if claim is not None and claim.live(now) else None
    visible = CaseThread(
        case=redact_case(case, user),
        inbound=[redact_inbound(m, user) for m in thread.inbound],
        outbound=[redact_outbound(m, user) for m in thread.outbound],
    )
    return CaseScreen(
        thread=visible,
        claim=live,
        mine=live is not None and live.holder_id == user.id,
        canned=canned,
        suggestions=suggestions,
        may_unmerge=may_unmerge,
        board=board,
    )
