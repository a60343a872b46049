"""Incident suggestions over the staff API: staff confirm (one incident: the report joins the
incident's case) or dismiss (two events). A case's suggestions are listed under
``/cases/{number}/suggestions`` (``api.cases.incidents``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from civicline.domain.incidents import SuggestionStatus
from civicline.gateway.bounds import RowId
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import incident_review

router = APIRouter(prefix="/suggestions", tags=["incidents"])


class Decision(BaseModel):
    id: int
    status: str
    lead: str
    reporters: int | None = Field(default=None, description="the incident's, once confirmed")


@router.post("/{suggestion_id}/confirm", response_model=Decision)
async def confirm(suggestion_id: RowId, user: UserDep, services: ServicesDep) -> Decision:
    """One incident: the report is merged into the incident's case, its citizen gets the
    incident's answers."""
    lead = await incident_review.confirm(
        suggestion_id, user=user, uow=services.uow(), now=services.now()
    )
    confirmed = str(SuggestionStatus.CONFIRMED)
    return Decision(id=suggestion_id, status=confirmed, lead=lead.number, reporters=lead.reporters)


@router.post("/{suggestion_id}/dismiss", response_model=Decision)
async def dismiss(suggestion_id: RowId, user: UserDep, services: ServicesDep) -> Decision:
    """Two events: the report stays its citizen's own case."""
    decided = await incident_review.dismiss(
        suggestion_id, user=user, uow=services.uow(), now=services.now()
    )
    return Decision(id=suggestion_id, status=decided.status, lead=decided.lead)
