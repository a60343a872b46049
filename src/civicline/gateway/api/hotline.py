"""The hotline's API: operators hand over call transcripts, see the NLU's suggestion first,
(call-backs for callers without SMS: ``api/callbacks.py``).

Operators sign in like staff (``POST /api/v1/auth/token``) with the ``operator`` role;
supervisors and admins may do what operators do.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from civicline.channels.sms import normalize_phone
from civicline.domain.accounts import StaffUser
from civicline.domain.messages import Language
from civicline.gateway.bounds import Flag, Moment
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import callbacks, hotline
from civicline.handlers.hotline import (
    MAX_CALL_ID,
    MAX_TRANSCRIPT,
    Transcript,
    Turn,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["hotline"])


class TurnIn(BaseModel):
    speaker: Literal["caller", "operator"]
    text: str = Field(min_length=1, max_length=MAX_TRANSCRIPT)


class SuggestIn(BaseModel):
    transcript: str | list[TurnIn] = Field(
        description="the caller's words as plain text, or the call's turns"
    )

    def turns(self) -> tuple[Turn, ...]:
        if isinstance(self.transcript, str):
            return (Turn("caller", self.transcript),)
        return tuple(Turn(t.speaker, t.text) for t in self.transcript)


class TranscriptIn(SuggestIn):
    call_id: str = Field(min_length=1, max_length=MAX_CALL_ID, description="idempotency key")
    caller: str = Field(min_length=3, max_length=32, description="the caller's phone number")
    operator_id: str | None = Field(
        default=None, max_length=64, description="defaults to the signed-in operator"
    )
    started_at: Moment
    ended_at: Moment
    category: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(
        default=None,
        max_length=32,
        description="where it happened, a unit's code (units.yml): routes the matter to that "
        "unit's department of its kind",
    )
    urgent: Flag | None = None
    sms_consent: Flag = False
    publish_consent: Flag | None = Field(
        default=None,
        description="the caller agreed (true) or refused (false) that the matter and its answer "
        "appear, masked, on the public board; null: not asked (never published)",
    )
    language: Language | None = None


class FiledOut(BaseModel):
    case_number: str
    created: bool
    category: str | None
    department: str | None
    classified_by: str | None
    urgent: bool
    sms_receipt: bool


class SuggestionOut(BaseModel):
    category: str | None
    category_name: str | None
    department: str | None
    department_name: str | None
    confidence: float
    engine: str
    # Pairs as two-item lists, the same JSON as tuples: schemathesis (the fuzz run, .ci/fuzz)
    # reads a tuple's prefixItems as the invalid "items": [...] and refuses the operation.
    ranking: list[list[str | float]] = Field(description="[category, score], best first")
    urgent: bool
    collective: bool
    reasons: list[str]
    place: str | None


def _require_operator(user: StaffUser) -> None:
    if not callbacks.may_call_back(user):
        raise HTTPException(403, "only hotline operators, supervisors and admins may do this")


@router.post(
    "/hotline/transcripts",
    status_code=201,
    response_model=FiledOut,
    responses={200: {"description": "this call id was filed before: its case"}},
)
async def file_call(
    body: TranscriptIn, user: UserDep, services: ServicesDep, response: Response
) -> FiledOut:
    """File a call: the case opens at once and its number comes back for the operator to
    read out. The same call id filed again returns the same case (200)."""
    _require_operator(user)
    caller = normalize_phone(body.caller, services.settings.sms_default_region)  # else 422
    transcript = Transcript(
        call_id=body.call_id,
        caller=caller,
        operator_id=body.operator_id or user.username,
        started_at=body.started_at,
        ended_at=body.ended_at,
        turns=body.turns(),
        category=body.category,
        department=body.department,
        urgent=body.urgent,
        unit=body.unit,
        sms_consent=body.sms_consent,
        publish_consent=body.publish_consent,
        language=body.language,
    )
    filed = await hotline.file_call(
        transcript, services.hotline, inbox=services.inbox, queue=services.queue, now=services.now()
    )
    if not filed.created:
        response.status_code = 200
    return FiledOut(
        case_number=filed.case_number,
        created=filed.created,
        category=filed.category,
        department=filed.department,
        classified_by=filed.classified_by,
        urgent=filed.urgent,
        sms_receipt=bool(filed.outbound_ids),
    )


@router.post("/hotline/suggest", response_model=SuggestionOut)
async def suggest(body: SuggestIn, user: UserDep, services: ServicesDep) -> SuggestionOut:
    """What the NLU makes of a transcript before the operator files it: category, department,
    urgency and place, for the operator to confirm or correct."""
    _require_operator(user)
    found = await hotline.suggest(body.turns(), nlu=services.classifier, taxonomy=services.taxonomy)
    return SuggestionOut(
        category=found.category.code if found.category else None,
        category_name=found.category.name_zh if found.category else None,
        department=found.department.code if found.department else None,
        department_name=found.department.name_zh if found.department else None,
        confidence=round(found.confidence, 4),
        engine=found.engine,
        ranking=[[name, round(score, 4)] for name, score in found.ranking],
        urgent=found.urgent,
        collective=found.collective,
        reasons=list(found.reasons),
        place=found.place,
    )
