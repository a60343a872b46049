"""Leader ownership of a hard case (包案): assign or change it (supervisors, admins), read it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from civicline.domain.accounts import StaffUser
from civicline.domain.ownership import MAX_GROUP, MAX_NAME, CaseOwner
from civicline.domain.supervision import MAX_TEXT
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import ownership
from civicline.handlers.access import redact

router = APIRouter(tags=["supervision"])


class OwnershipIn(BaseModel):
    leader: str = Field(min_length=1, max_length=MAX_NAME)
    supervising_leader: str = Field(min_length=1, max_length=MAX_NAME)
    working_group: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]] = Field(
        min_length=1, max_length=MAX_GROUP
    )
    plan: str = Field(min_length=1, max_length=MAX_TEXT)


class OwnershipOut(BaseModel):
    case_number: str
    leader: str
    supervising_leader: str
    working_group: list[str]
    plan: str
    assigned_by: str
    assigned_at: datetime
    updated_at: datetime
    changed: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, number: str, owner: CaseOwner, user: StaffUser, changed: list[str]) -> OwnershipOut:
        return cls(
            case_number=number,
            leader=owner.leader,
            supervising_leader=owner.supervising_leader,
            working_group=owner.working_group,
            plan=redact(owner.plan, user),
            assigned_by=owner.assigned_by,
            assigned_at=owner.assigned_at,
            updated_at=owner.updated_at,
            changed=changed,
        )


@router.post(
    "/{number}/ownership",
    response_model=OwnershipOut,
    responses={201: {"model": OwnershipOut, "description": "a leader was assigned"}},
)
async def assign_owner(
    number: str, body: OwnershipIn, user: UserDep, services: ServicesDep, response: Response
) -> OwnershipOut:
    """Give a hard case its leader, working group, plan and supervising leader (包案), or
    change them; every change is a case event."""
    assigned = await ownership.assign(
        number,
        ownership.Terms(body.leader, body.supervising_leader, body.working_group, body.plan),
        user=user,
        uow=services.uow(),
        now=services.now(),
    )
    response.status_code = 201 if assigned.created else 200
    return OwnershipOut.of(number, assigned.owner, user, assigned.changed)


@router.get("/{number}/ownership", response_model=OwnershipOut)
async def get_owner(number: str, user: UserDep, services: ServicesDep) -> OwnershipOut:
    owner = await ownership.owner_of(number, user=user, uow=services.uow())
    if owner is None:
        raise HTTPException(404, f"case {number} has no leader ownership")
    return OwnershipOut.of(number, owner, user, [])
