"""What staff do to a case: reply, assign, forward, return, close and the rest.

Each action is one unit of work; staff of a department touch only their department's cases.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import AWAITING_TRIAGE, REPLYABLE, Case, CaseEvent, EventKind
from civicline.domain.claims import CLAIM_TTL, Claim, ClaimRule, QueueFilter
from civicline.domain.errors import (
    Claimed,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
)
from civicline.domain.governance import Outcome
from civicline.domain.handing import AssignmentState, holding
from civicline.domain.messages import InboundMessage, OutboundMessage
from civicline.domain.taxonomy import Taxonomy
from civicline.handlers.access import check_access
from civicline.handlers.cases import to_citizen
from civicline.storage.base import UnitOfWork

MAX_REPLY_LENGTH = 4000


# Actions after which the case is no longer this holder's to answer.
RELEASING = frozenset({"forward", "return", "reject", "merge", "close"})


class Action(enum.StrEnum):
    ACCEPT = "accept"
    ASSIGN = "assign"
    FORWARD = "forward"
    RETURN = "return"
    REJECT = "reject"
    MERGE = "merge"
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action: Action
    reason: str | None = None
    department: str | None = None
    into: str | None = None  # for merge: the case number that stays
    outcome: Outcome | None = None  # for close: which of the five outcomes (五个到位)
    legal_matter: bool = False  # for close: the courts' business (涉法涉诉)


def _actor(user: StaffUser) -> str:
    return f"staff:{user.username}"


@dataclass(frozen=True, slots=True)
class CaseThread:
    case: Case
    inbound: list[InboundMessage]
    outbound: list[OutboundMessage]


async def case_thread(number: str, *, user: StaffUser, uow: UnitOfWork) -> CaseThread:
    """The case with its history and every message in and out."""
    async with uow:
        case = await uow.cases.by_number(number, with_history=True)
        check_access(user, case)
        assert case.id is not None
        return CaseThread(
            case=case,
            inbound=await uow.inbox.for_case(case.id),
            outbound=await uow.outbox.for_case(case.id),
        )


async def hold_claim(
    uow: UnitOfWork,
    case: Case,
    user: StaffUser,
    *,
    now: datetime,
    rule: ClaimRule,
    ttl: timedelta = CLAIM_TTL,
) -> None:
    """Check the claim the action needs, renewing the user's own; raises ``Claimed``."""
    assert case.id is not None and user.id is not None
    claim = await uow.claims.of_case(case.id)
    if rule == ClaimRule.REQUIRE:
        if claim is None or not claim.held_by(user.id, now):
            raise Claimed(case.number, claim.holder if claim and claim.live(now) else None)
        if not await uow.claims.take(case.id, user.id, now=now, until=now + ttl):
            raise Claimed(case.number, None)
    elif claim is not None and claim.live(now) and claim.holder_id != user.id:
        raise Claimed(case.number, claim.holder)


async def claim_case(
    number: str, *, user: StaffUser, uow: UnitOfWork, now: datetime, ttl: timedelta = CLAIM_TTL
) -> Claim:
    """Take the case (or renew one's own claim) for ``ttl``; one atomic statement settles
    a race, so of two people claiming at once exactly one gets it."""
    async with uow:
        case = await uow.cases.by_number(number)
        check_access(user, case)
        assert case.id is not None and user.id is not None
        if not await uow.claims.take(case.id, user.id, now=now, until=now + ttl):
            held = await uow.claims.of_case(case.id)
            raise Claimed(number, held.holder if held else None)
        claim = await uow.claims.of_case(case.id)
        await uow.commit()
        assert claim is not None
        return claim


async def release_case(number: str, *, user: StaffUser, uow: UnitOfWork) -> None:
    """Give the case back to the queue (only one's own claim)."""
    async with uow:
        case = await uow.cases.by_number(number)
        check_access(user, case)
        assert case.id is not None
        await uow.claims.release(case.id, user.id)
        await uow.commit()


async def take_next(
    query: QueueFilter,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
    ttl: timedelta = CLAIM_TTL,
) -> str | None:
    """Claim the first case of the queue page nobody else holds; its number, or None."""
    department, unit = user.narrowed(query.department)
    query = replace(query, department=department, unit=unit)
    async with uow:
        page = await uow.queue_view.page(query, now=now)
        claims = await uow.claims.of_cases(c.id for c in page.cases if c.id is not None)
        assert user.id is not None
        for case in page.cases:
            assert case.id is not None
            held = claims.get(case.id)
            if held is not None and held.live(now) and held.holder_id != user.id:
                continue
            if await uow.claims.take(case.id, user.id, now=now, until=now + ttl):
                await uow.commit()
                return case.number
        return None


@dataclass(frozen=True, slots=True)
class Reply:
    outbound: OutboundMessage  # to the case's citizen
    copies: list[int]  # the same answer to the incident's other reporters (outbox ids)

    def ids(self) -> list[int]:
        assert self.outbound.id is not None
        return [self.outbound.id, *self.copies]


async def reply_to_all(
    number: str,
    text: str,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    now: datetime,
    claim: ClaimRule = ClaimRule.RESPECT,
) -> Reply:
    """Queue a staff answer to the citizen, on the channel the case came from, and the same
    answer to everyone whose report was merged into this case (one incident, one answer)."""
    text = text.strip()
    if not text:
        raise InvalidInput("a reply needs text")
    if len(text) > MAX_REPLY_LENGTH:
        raise InvalidInput(f"a reply holds at most {MAX_REPLY_LENGTH} characters")
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        await hold_claim(uow, case, user, now=now, rule=claim)
        if case.status not in REPLYABLE:
            raise IllegalTransition(case.number, case.status, "answered")
        outbound = await uow.outbox.add(to_citizen(case, text, now=now, author=_actor(user)))
        copies = []
        for report in await uow.cases.reports_merged_into(case.number):
            copy = await uow.outbox.add(to_citizen(report, text, now=now, author=_actor(user)))
            assert copy.id is not None
            copies.append(copy.id)
        case.mark_answered(actor=_actor(user), at=now)
        await _assignment_answered(uow, case, now)
        data: dict[str, object] = {"outbound_id": outbound.id}
        if copies:
            data["copies"] = len(copies)
        case.record(CaseEvent(kind=EventKind.REPLY, at=now, actor=_actor(user), data=data))
        await uow.cases.save(case)
        await uow.commit()
        return Reply(outbound, copies)


async def _assignment_answered(uow: UnitOfWork, case: Case, now: datetime) -> None:
    """The unit holding a handed case answered: its assignment says so, for its parents."""
    assert case.id is not None
    mine = holding(await uow.assignments.of_case(case.id))
    if mine and mine.state == AssignmentState.HOLDING and mine.department == case.department:
        mine.finish(AssignmentState.ANSWERED, now)
        await uow.assignments.save(mine)


async def act(
    number: str,
    request: ActionRequest,
    *,
    user: StaffUser,
    uow: UnitOfWork,
    taxonomy: Taxonomy,
    now: datetime,
    claim: ClaimRule = ClaimRule.RESPECT,
) -> Case:
    """Apply one lifecycle action; illegal ones raise and change nothing. Actions that take
    the case away from its holder (forward, return, reject, merge, close) end the claim."""
    into = request.into if request.action == Action.MERGE else None
    if request.action == Action.MERGE and not into:
        raise InvalidInput("merge needs the number of the case to merge into")
    async with uow:
        # A merge locks both cases, in number order: two crossing merges cannot deadlock.
        locked = {
            n: await uow.cases.by_number(n, lock=True) for n in sorted({number, into or number})
        }
        case = locked[number]
        # The target too: from now on its answers reach this case's citizen.
        check_access(user, *locked.values())
        await hold_claim(uow, case, user, now=now, rule=claim)
        actor = _actor(user)
        reason = request.reason or ""
        match request.action:
            case Action.ACCEPT:
                case.accept(actor=actor, at=now, reason=request.reason)
            case Action.ASSIGN:
                case.assign(
                    _department(request, taxonomy), actor=actor, at=now, reason=request.reason
                )
            case Action.FORWARD:
                case.forward(_department(request, taxonomy), actor=actor, at=now, reason=reason)
            case Action.RETURN:
                case.return_misrouted(actor=actor, at=now, reason=reason)
            case Action.REJECT:
                case.reject(actor=actor, at=now, reason=reason)
            case Action.MERGE:
                assert into is not None
                target = locked[into]
                if target.merged_into:
                    raise InvalidInput(f"case {target.number} is itself merged")
                case.merge_into(target.number, actor=actor, at=now, reason=request.reason)
            case Action.CLOSE:
                case.close(
                    actor=actor,
                    at=now,
                    resolution=reason,
                    outcome=request.outcome,
                    legal_matter=request.legal_matter,
                )
            case Action.REOPEN:
                case.reopen(actor=actor, at=now, reason=reason)
        await uow.cases.save(case)
        if request.action in RELEASING:
            assert case.id is not None
            await uow.claims.release(case.id)
        await uow.commit()
        return case


CorrectionSink = Callable[[str, str], Awaitable[object]]
"""Where staff corrections of the NLU go: called with (complaint text, category code); the
adapter masks the text and stores it as training data (``nlu.corrections``)."""


async def place_case(
    number: str,
    category: str,
    *,
    department: str | None,
    user: StaffUser,
    uow: UnitOfWork,
    taxonomy: Taxonomy,
    now: datetime,
    corrections: CorrectionSink,
    claim: ClaimRule = ClaimRule.REQUIRE,
) -> Case:
    """Triage: give a case the NLU could not place its category and department (the
    category's own unless another is named). The category is a correction of the NLU, so
    the complaint and its category become training data once the case is saved."""
    if not user.may_triage:
        raise NotAllowed(f"{user.username} may not triage cases")
    chosen = taxonomy.categories.get(category)
    if chosen is None:
        raise InvalidInput(f"unknown category {category}")
    target = department or chosen.department
    if target not in taxonomy.departments:
        raise InvalidInput(f"unknown department {target}")
    async with uow:
        case = await uow.cases.by_number(number, lock=True)
        check_access(user, case)
        await hold_claim(uow, case, user, now=now, rule=claim)
        if case.status not in AWAITING_TRIAGE:
            raise IllegalTransition(case.number, case.status, "assigned")
        actor = _actor(user)
        case.record(
            CaseEvent(
                kind=EventKind.CLASSIFIED,
                at=now,
                actor=actor,
                data={"category": category, "corrected_from": case.category, "staff": True},
            )
        )
        case.category = category
        sub = taxonomy.subcategory_for(category, case.summary)
        case.subcategory = sub.code if sub else None
        case.assign(target, actor=actor, at=now, reason="placed in triage")
        await uow.cases.save(case)
        assert case.id is not None
        await uow.claims.release(case.id)
        await uow.commit()
    await corrections(case.summary, category)
    return case


def _department(request: ActionRequest, taxonomy: Taxonomy) -> str:
    if not request.department:
        raise InvalidInput(f"{request.action} needs a department")
    if request.department not in taxonomy.departments:
        raise InvalidInput(f"unknown department {request.department}")
    return request.department
