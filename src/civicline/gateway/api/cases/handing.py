"""Handing a case along the units' tree: down (交办), up (上报), across (转送), and who held it.

A refused move (a unit not below the holder, outside the tree, a deadline after the parent's)
is a 422 naming the problem, one by a user who does not hold the case a 403; either way the
case, its history and its assignments are unchanged.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from fastapi import APIRouter
from pydantic import BaseModel, Field, Strict

from civicline.domain.accounts import StaffUser
from civicline.domain.cases import Case
from civicline.domain.errors import InvalidInput
from civicline.domain.handing import MAX_REASON, Handing
from civicline.domain.units import UnitTree
from civicline.gateway.api.cases.chain import AssignmentOut, assignment_out
from civicline.gateway.api.cases.core import CaseSummary
from civicline.gateway.bootstrap import Services
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import handing
from civicline.nlu.masking import mask

router = APIRouter(tags=["staff"])

UnitCode = Annotated[str, Field(min_length=1, max_length=32)]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON)]
WorkingDays = Annotated[int, Strict(), Interval(ge=1, le=365)]


class HandDownIn(BaseModel):
    unit: UnitCode = Field(description="a unit below the one holding the case (341881)")
    reason: str | None = Field(default=None, max_length=MAX_REASON)
    due_working_days: WorkingDays | None = Field(
        default=None,
        description="the unit's deadline in working days from now; default: the holder's "
        "remaining working days less one, never after the holder's own",
    )


class ReportUpIn(BaseModel):
    reason: Reason = Field(description="why the holder cannot solve the matter (上报)")


class TransferIn(BaseModel):
    reason: Reason
    unit: UnitCode | None = Field(default=None, description="a sibling of the holder's unit")
    department: str | None = Field(
        default=None,
        max_length=64,
        description="or a department: a sibling's, one of the holder's own unit, or an "
        "outside body (a utility)",
    )


class HandingOut(BaseModel):
    case: CaseSummary
    assignments: list[AssignmentOut] = Field(description="oldest first")


def _tree(services: Services) -> UnitTree:
    tree = services.taxonomy.units
    if tree is None:
        raise InvalidInput("no units tree is set up: nothing to hand a case along")
    return tree


async def _move(
    number: str, request: handing.HandRequest, user: StaffUser, services: Services
) -> HandingOut:
    tree = _tree(services)
    now = services.now()
    case, chain = await handing.move(
        number,
        request,
        user=user,
        uow=services.uow(),
        tree=tree,
        taxonomy=services.taxonomy,
        calendar=services.calendar,
        now=now,
    )
    return HandingOut(
        case=_summary(case, user),
        assignments=[assignment_out(handing.Link(a, tree.get(a.unit), a.late(now))) for a in chain],
    )


def _summary(case: Case, user: StaffUser) -> CaseSummary:
    summary = CaseSummary.of(case)
    if not user.sees_contact_details:
        summary.summary = mask(summary.summary)
    return summary


@router.post("/{number}/hand-down", response_model=HandingOut)
async def hand_down(
    number: str, body: HandDownIn, user: UserDep, services: ServicesDep
) -> HandingOut:
    """交办: give the case to a unit below the one holding it (its department for the matter,
    else its office), with a deadline inside the holder's. The case keeps its number."""
    request = handing.HandRequest(
        Handing.DOWN, body.reason, unit=body.unit, due_working_days=body.due_working_days
    )
    return await _move(number, request, user, services)


@router.post("/{number}/report-up", response_model=HandingOut)
async def report_up(
    number: str, body: ReportUpIn, user: UserDep, services: ServicesDep
) -> HandingOut:
    """上报: give the case back to the unit that handed it down (or the parent unit)."""
    return await _move(number, handing.HandRequest(Handing.UP, body.reason), user, services)


@router.post("/{number}/transfer", response_model=HandingOut)
async def transfer(
    number: str, body: TransferIn, user: UserDep, services: ServicesDep
) -> HandingOut:
    """转送: send the case across, to a sibling unit or an outside body; it keeps the
    holder's deadline."""
    request = handing.HandRequest(
        Handing.ACROSS, body.reason, unit=body.unit, department=body.department
    )
    return await _move(number, request, user, services)


@router.get("/{number}/assignments", response_model=list[AssignmentOut])
async def assignments(number: str, user: UserDep, services: ServicesDep) -> list[AssignmentOut]:
    """Who held the case down the tree: unit, department, due, state, late? Its holder and
    every unit that held it may read it."""
    _case, links = await handing.follow(
        number, user=user, uow=services.uow(), tree=_tree(services), now=services.now()
    )
    return [assignment_out(link) for link in links]
