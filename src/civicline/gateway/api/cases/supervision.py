"""A case's supervision orders (督办): ``POST`` issues one (supervisors, admins), ``GET``
lists them.

The orders themselves (respond, close, the listing and the report) are ``api/supervision.py``.
"""

from __future__ import annotations

from fastapi import APIRouter

from civicline.gateway.api.supervision import IssueIn, OrderOut, clock
from civicline.gateway.deps import ServicesDep, UserDep
from civicline.handlers import supervision

router = APIRouter(tags=["supervision"])


@router.post("/{number}/supervision", status_code=201, response_model=OrderOut)
async def issue_order(number: str, body: IssueIn, user: UserDep, services: ServicesDep) -> OrderOut:
    """Order the case's department to respond in writing by a deadline (督办)."""
    deadline = body.deadline() or supervision.Deadline()
    order = await supervision.issue(
        number,
        instruction=body.instruction,
        deadline=deadline,
        user=user,
        uow=services.uow(),
        clock=clock(services),
    )
    return OrderOut.of(order, user, services.now())


@router.get("/{number}/supervision", response_model=list[OrderOut])
async def case_orders(number: str, user: UserDep, services: ServicesDep) -> list[OrderOut]:
    orders = await supervision.for_case(number, user=user, uow=services.uow())
    now = services.now()
    return [OrderOut.of(o, user, now) for o in orders]
