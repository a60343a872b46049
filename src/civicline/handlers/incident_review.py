"""What staff decide about incidents: suggested reports to confirm (merge) or dismiss, and a
wrong merge to undo.

Every action checks the user's access to every case it touches (the report and the
incident's case): a department's clerk acts only on cases of their department. Confirming a
suggestion merges the report as grouping would have (its citizen counts among the reporters
and gets the incident's answers); an unmerge gives the report back to its citizen: its state
before the merge, its own thread (messages, replies, deliveries never left it), and answers
to the incident stop reaching it. The history of both cases keeps the merge and the unmerge.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import OPEN, Case, CaseEvent, CaseStatus, EventKind
from civicline.domain.errors import InvalidInput
from civicline.domain.incidents import Suggestion, SuggestionStatus
from civicline.handlers.access import check_access, redact
from civicline.handlers.incidents import join
from civicline.storage.base import UnitOfWork

MAX_REASON = 2000


def _actor(user: StaffUser) -> str:
    return f"staff:{user.username}"


def may_decide(user: StaffUser, suggestion: Suggestion) -> bool:
    return user.may_handle(suggestion.case_department) and user.may_handle(
        suggestion.lead_department
    )


async def visible_suggestions(case: Case, *, user: StaffUser, uow: UnitOfWork) -> list[Suggestion]:
    """The open suggestions about ``case`` the user may decide, summaries masked for those
    who do not see citizens' contact details (within ``uow``, already open)."""
    assert case.id is not None
    found = await uow.incidents.suggestions(case.id)
    return [
        replace(
            s,
            case_summary=redact(s.case_summary, user),
            lead_summary=redact(s.lead_summary, user),
        )
        for s in found
        if may_decide(user, s)
    ]


async def suggestions_for(number: str, *, user: StaffUser, uow: UnitOfWork) -> list[Suggestion]:
    async with uow:
        case = await uow.cases.by_number(number)
        check_access(user, case)
        return await visible_suggestions(case, user=user, uow=uow)


async def _open_suggestion(
    suggestion_id: int, user: StaffUser, uow: UnitOfWork
) -> tuple[Suggestion, Case, Case]:
    suggestion = await uow.incidents.get_suggestion(suggestion_id, lock=True)
    case = await uow.cases.by_number(suggestion.case, lock=True)
    lead = await uow.cases.by_number(suggestion.lead, lock=True)
    check_access(user, case, lead)
    if suggestion.status != SuggestionStatus.OPEN:
        raise InvalidInput(f"suggestion {suggestion_id} was {suggestion.status} already")
    return suggestion, case, lead


async def confirm(suggestion_id: int, *, user: StaffUser, uow: UnitOfWork, now: datetime) -> Case:
    """Merge the suggested report into the incident; returns the incident's case. Reports
    already merged into the report follow it into the incident."""
    async with uow:
        suggestion, case, lead = await _open_suggestion(suggestion_id, user, uow)
        for which in (case, lead):
            if which.status not in OPEN:
                raise InvalidInput(f"case {which.number} is {which.status}: nothing to merge")
        assert case.id is not None
        followers = await uow.cases.reports_merged_into(case.number)
        check_access(user, *followers)
        actor = _actor(user)
        join(case, lead, actor=actor, at=now, reason=f"suggestion confirmed: {suggestion.reason}")
        for report in followers:
            report.merged_into = lead.number
            report.updated_at = now
            report.record(
                CaseEvent(
                    EventKind.INCIDENT,
                    at=now,
                    actor=actor,
                    data={"followed": case.number, "into": lead.number},
                )
            )
            await uow.cases.save(report)
        if followers:
            lead.reporters += case.reporters - 1
            case.reporters = 1
        suggestion.status = SuggestionStatus.CONFIRMED
        suggestion.decided_by, suggestion.decided_at = actor, now
        await uow.incidents.decide(suggestion)
        await uow.cases.save(case)
        await uow.cases.save(lead)
        await uow.commit()
        return lead


async def dismiss(
    suggestion_id: int, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> Suggestion:
    """Two events after all: the report stays its citizen's own case."""
    async with uow:
        suggestion, case, lead = await _open_suggestion(suggestion_id, user, uow)
        actor = _actor(user)
        suggestion.status = SuggestionStatus.DISMISSED
        suggestion.decided_by, suggestion.decided_at = actor, now
        await uow.incidents.decide(suggestion)
        case.record(
            CaseEvent(EventKind.INCIDENT, at=now, actor=actor, data={"not_part_of": lead.number})
        )
        await uow.cases.save(case)
        await uow.commit()
        return suggestion


async def unmerge(
    number: str, reason: str, *, user: StaffUser, uow: UnitOfWork, now: datetime
) -> Case:
    """Undo the merge of case ``number``: it is its citizen's own case again, in the state it
    had before; the incident counts one reporter less. Returns the case."""
    reason = reason.strip()[:MAX_REASON]
    async with uow:
        case = await uow.cases.by_number(number, with_history=True, lock=True)
        check_access(user, case)
        if case.status != CaseStatus.MERGED or case.merged_into is None:
            raise InvalidInput(f"case {number} is not merged")
        lead = await uow.cases.by_number(case.merged_into, lock=True)
        check_access(user, lead)
        actor = _actor(user)
        merge = case.unmerge(actor=actor, at=now, reason=reason)
        if merge.data.get("counted"):  # a staff merge (``act``) never counted the citizen
            lead.reporters = max(1, lead.reporters - 1)
        lead.updated_at = now
        lead.record(
            CaseEvent(
                EventKind.INCIDENT,
                at=now,
                actor=actor,
                reason=reason,
                data={"unmerged": case.number, "reporters": lead.reporters},
            )
        )
        await uow.cases.save(case)
        await uow.cases.save(lead)
        await uow.commit()
        return case
