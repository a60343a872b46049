"""A case's incident over the staff API: the suggestions about it, and undoing its merge.
Confirming or dismissing a suggestion is ``api.suggestions``. Each action checks the user's
access to every case it touches (see handlers.incident_review)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from civicline.domain.incidents import Suggestion
from civicline.gateway.api.cases.core import CASE_NUMBER, CaseSummary
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import incident_review
from civicline.handlers.access import redact

router = APIRouter(tags=["incidents"])

NumberPath = Annotated[str, Path(pattern=CASE_NUMBER)]


class SuggestionOut(BaseModel):
    id: int
    case: str = Field(description="the report that may belong to the incident")
    lead: str = Field(description="the incident's case")
    reason: str
    score: float
    status: str
    created_at: datetime
    case_summary: str
    lead_summary: str

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        return cls(
            id=s.id or 0,
            case=s.case,
            lead=s.lead,
            reason=s.reason,
            score=round(s.score, 3),
            status=s.status,
            created_at=s.created_at,
            case_summary=s.case_summary,
            lead_summary=s.lead_summary,
        )


class UnmergeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=incident_review.MAX_REASON)


@router.get("/{number}/suggestions", response_model=list[SuggestionOut])
async def suggestions(
    number: NumberPath, user: UserDep, services: ServicesDep
) -> list[SuggestionOut]:
    """Open suggestions about the case, as the report or as the incident, that the user may
    decide (both cases of their department, or any for supervisors)."""
    found = await incident_review.suggestions_for(number, user=user, uow=services.uow())
    return [SuggestionOut.of(s) for s in found]


@router.post("/{number}/unmerge", response_model=CaseSummary)
async def unmerge(
    number: NumberPath, body: UnmergeIn, user: UserDep, services: ServicesDep
) -> CaseSummary:
    """Undo a merge: the case is its citizen's own again, in the state it had before, with its
    own thread; answers to the incident no longer reach it."""
    case = await incident_review.unmerge(
        number, body.reason, user=user, uow=services.uow(), now=services.now()
    )
    summary = CaseSummary.of(case)
    summary.summary = redact(summary.summary, user)
    return summary
