"""The public board (阳光信访): consent to publication, staff's withholding and review, and
what the public reads (``domain.board`` says which cases are published).

* **Consent** is asked where the citizen files: the mailbox form's "may be published" box, a
  yes/no in the chat dialogue after the case opens, the hotline operator's question.
  ``record_consent`` stores it with the case's masked text (``nlu.public_masking``), in the
  caller's unit of work, with an event in the case's history.
* **Staff** withhold a case with a reason (privacy, a matter for the courts) and release it;
  where the city sets ``CIVICLINE_BOARD_REVIEW`` a supervisor approves each case before its
  first publication. Each is an event in the case's history.
* **The public** reads published cases only, by an unguessable public id; the reply (the
  closing resolution and staff's answers) is masked on the way out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from civicline.domain.accounts import StaffUser
from civicline.domain.board import (
    MAX_PAGE,
    MAX_WORDS,
    PAGE_SIZE,
    BoardAction,
    BoardEntry,
    BoardPage,
    BoardQuery,
    BoardState,
    PublicCase,
    index_text,
    new_public_id,
    state_after_consent,
    title_of,
)
from civicline.domain.cases import Case, CaseEvent, EventKind
from civicline.domain.errors import InvalidInput, NotAllowed, NotFound
from civicline.handlers.access import check_access
from civicline.nlu.public_masking import mask_for_board
from civicline.storage.base import UnitOfWork
from civicline.storage.stats import ReportRow

MAX_REASON = 500
TOP_MATTERS = 10


def _actor(user: StaffUser) -> str:
    return f"staff:{user.username}"


async def record_consent(
    case: Case,
    consent: bool | None,
    *,
    uow: UnitOfWork,
    now: datetime,
    review: bool,
    actor: str = "citizen",
    title: str | None = None,
) -> BoardEntry:
    """Store the citizen's answer (None: asked, no answer yet) in the caller's unit of work.
    A later answer replaces an earlier one, unless staff withheld the case: that stands."""
    assert case.id is not None
    entry = await uow.board.get(case.id, lock=True)
    if entry is None:
        entry = _first_entry(case, title)
    _answered(entry, case, consent, now=now, review=review)
    await uow.board.save(entry)
    if consent is not None:
        case.record(
            CaseEvent(EventKind.PUBLICATION, at=now, actor=actor, data={"consent": consent})
        )
        await uow.cases.save(case)
    return entry


def asked_entry(case: Case, *, now: datetime, review: bool) -> BoardEntry:
    """The entry ``record_consent(case, None, ...)`` stores for a new case that has none: the
    question asked, no answer yet (for storing many at once)."""
    assert case.id is not None
    entry = _first_entry(case, None)
    _answered(entry, case, None, now=now, review=review)
    return entry


def _first_entry(case: Case, title: str | None) -> BoardEntry:
    assert case.id is not None
    masked = mask_for_board(case.summary)
    return BoardEntry(
        case_id=case.id,
        public_id=new_public_id(),
        state=BoardState.ASKED,
        consent=None,
        title=title_of(mask_for_board(title) if title else masked),
        text=masked,
        terms=index_text(masked),
        filed_at=case.created_at,
    )


def _answered(
    entry: BoardEntry, case: Case, consent: bool | None, *, now: datetime, review: bool
) -> None:
    entry.status = str(case.status)
    entry.category, entry.department = case.category, case.department
    entry.district, entry.answered_at = case.district, case.closed_at
    entry.consent = consent
    if entry.state != BoardState.WITHHELD:
        entry.state = state_after_consent(consent, review=review)
    entry.updated_at = now


async def answer_consent(
    citizen_id: int, consent: bool, *, uow: UnitOfWork, now: datetime, review: bool
) -> Case | None:
    """The citizen's yes or no in a chat: for their latest case still asking. None when no
    case asks."""
    entry = await uow.board.asked_of(citizen_id)
    if entry is None:
        return None
    case = await uow.cases.get(entry.case_id)
    await record_consent(case, consent, uow=uow, now=now, review=review)
    return case


async def decide(
    number: str,
    action: BoardAction,
    reason: str | None,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
) -> BoardEntry:
    """Withhold a case from the board (a reason is required), release it again, or approve
    it for its first publication (supervisors and admins)."""
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason holds at most {MAX_REASON} characters")
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        assert case.id is not None
        entry = await uow.board.get(case.id, lock=True)
        if entry is None or not entry.consent:
            raise InvalidInput(f"case {number}: the citizen did not consent to publication")
        match action:
            case BoardAction.WITHHOLD:
                if reason is None:
                    raise InvalidInput("withholding a case from the board needs a reason")
                entry.state = BoardState.WITHHELD
            case BoardAction.RELEASE:
                if entry.state != BoardState.WITHHELD:
                    raise InvalidInput(f"case {number} is not withheld")
                entry.state = BoardState.LISTED
            case BoardAction.APPROVE:
                if not user.oversees:
                    raise NotAllowed("only supervisors approve cases for the board")
                if entry.state != BoardState.REVIEW:
                    raise InvalidInput(f"case {number} is not waiting for a review")
                entry.state = BoardState.LISTED
        entry.reason = reason
        entry.decided_by = _actor(user)
        entry.updated_at = now
        await uow.board.save(entry)
        case.record(
            CaseEvent(
                EventKind.PUBLICATION,
                at=now,
                actor=_actor(user),
                reason=reason,
                data={"action": str(action), "state": str(entry.state)},
            )
        )
        await uow.cases.save(case)
        await uow.commit()
        return entry


async def entry_of(number: str, *, user: StaffUser, uow: UnitOfWork) -> BoardEntry | None:
    """A case's board entry, for staff who may see the case."""
    async with uow:
        case = await uow.cases.by_number(number)
        check_access(user, case)
        assert case.id is not None
        return await uow.board.get(case.id)


# --- the public's reads ---------------------------------------------------------------------


def checked_query(query: BoardQuery) -> BoardQuery:
    if len(query.words) > MAX_WORDS:
        raise InvalidInput(f"search words hold at most {MAX_WORDS} characters")
    if not 1 <= query.page <= MAX_PAGE:
        raise InvalidInput(f"page is a number from 1 to {MAX_PAGE}")
    if query.since and query.until and query.since > query.until:
        raise InvalidInput("since is after until")
    return query


def _midnight(day: date, city: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), city).astimezone(UTC)


def _masked(case: PublicCase) -> PublicCase:
    return dataclasses.replace(case, reply=mask_for_board(case.reply))


async def board_page(query: BoardQuery, *, uow: UnitOfWork, city: ZoneInfo) -> BoardPage:
    query = checked_query(query)
    async with uow:
        found = await uow.board.page(
            query,
            since=_midnight(query.since, city) if query.since else None,
            until=_midnight(query.until + timedelta(days=1), city) if query.until else None,
            limit=PAGE_SIZE + 1,
            offset=(query.page - 1) * PAGE_SIZE,
        )
    cases = [_masked(c) for c in found[:PAGE_SIZE]]
    return BoardPage(cases, query.page, has_next=len(found) > PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class PublicDetail:
    case: PublicCase
    answers: list[str]  # staff's answers to the citizen, masked, oldest first


async def public_case(public_id: str, *, uow: UnitOfWork) -> PublicDetail:
    """A published case by its public id; NotFound for anything not published."""
    async with uow:
        published = await uow.board.published(public_id)
        if published is None:
            raise NotFound("board case", public_id)
        case_id, found = published
        outbound = await uow.outbox.for_case(case_id)
    answers = [mask_for_board(m.text) for m in outbound if m.author.startswith("staff:")]
    return PublicDetail(_masked(found), answers)


@dataclass(frozen=True, slots=True)
class Matter:
    category: str | None
    subcategory: str | None
    cases: int


@dataclass(frozen=True, slots=True)
class PublicRates:
    month: str  # 2026-11
    departments: list[ReportRow]  # one per unit, rates by domain.rates.rates_of
    matters: list[Matter]


def month_range(month: date, city: ZoneInfo) -> tuple[datetime, datetime]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first, city), _midnight(following, city)


async def public_rates(
    month: date, *, uow: UnitOfWork, now: datetime, city: ZoneInfo
) -> PublicRates:
    """Each unit's figures for the cases filed in ``month`` (the same counting as the
    dashboard's: ``storage.stats``), and the month's commonest matters."""
    since, until = month_range(month, city)
    async with uow:
        rows = await uow.stats.report(
            ("department",), period="all", since=since, until=until, now=now
        )
        top = await uow.board.top_matters(since=since, until=until, limit=TOP_MATTERS)
    rows = sorted((r for r in rows if r.key is not None), key=lambda r: r.key or "")
    return PublicRates(f"{month:%Y-%m}", rows, [Matter(*t) for t in top])
