"""A case's standing with the public board over the staff API: read it, withhold the case
with a reason, release it, or approve it for its first publication (supervisors).

``GET /api/v1/cases/{number}/publication`` and ``POST`` with ``{"action": "withhold",
"reason": "…"}`` (``release``, ``approve``). Each action is an event in the case's history.
A case whose citizen did not consent cannot be released or approved (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from civicline.domain.board import BoardAction, BoardEntry, BoardState
from civicline.gateway.api.cases.core import CASE_NUMBER
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.gateway.pages.board_cache import clear_board_cache
from civicline.handlers import board

router = APIRouter(tags=["board"])

NumberPath = Annotated[str, Path(pattern=CASE_NUMBER)]


class PublicationIn(BaseModel):
    action: BoardAction
    reason: str | None = Field(
        default=None, max_length=board.MAX_REASON, description="required to withhold"
    )


class PublicationOut(BaseModel):
    number: str
    asked: bool = Field(description="the citizen was asked for consent")
    consent: bool | None
    state: BoardState | None
    public_url: str | None = Field(description="where the board shows it, once published")
    reason: str | None
    decided_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, number: str, entry: BoardEntry | None) -> PublicationOut:
        if entry is None:
            return cls(
                number=number,
                asked=False,
                consent=None,
                state=None,
                public_url=None,
                reason=None,
                decided_by=None,
                updated_at=None,
            )
        listed = entry.state == BoardState.LISTED
        return cls(
            number=number,
            asked=True,
            consent=entry.consent,
            state=entry.state,
            public_url=f"/board/cases/{entry.public_id}" if listed else None,
            reason=entry.reason,
            decided_by=entry.decided_by,
            updated_at=entry.updated_at,
        )


@router.get("/{number}/publication", response_model=PublicationOut)
async def publication(number: NumberPath, user: UserDep, services: ServicesDep) -> PublicationOut:
    """Whether the citizen consented and where the case stands with the board."""
    entry = await board.entry_of(number, user=user, uow=services.uow())
    return PublicationOut.of(number, entry)


@router.post("/{number}/publication", response_model=PublicationOut)
async def decide(
    number: NumberPath,
    body: PublicationIn,
    user: UserDep,
    services: ServicesDep,
    request: Request,
) -> PublicationOut:
    """Withhold (with a reason), release, or approve (supervisors) the case for the board.
    This gateway's board pages are dropped from its cache at once."""
    entry = await board.decide(
        number, body.action, body.reason, user=user, uow=services.uow(), now=services.now()
    )
    clear_board_cache(request)
    return PublicationOut.of(number, entry)
