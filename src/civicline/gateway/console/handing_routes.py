"""Handing a case along the units' tree from its page: down (交办), up (上报), across (转送).

Like the page's other actions, through ``handlers.handing`` with ``ClaimRule.REQUIRE``: the user
claims the case first. A refused move shows the case page again with the reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicline.domain.claims import ClaimRule
from civicline.domain.errors import DomainError, InvalidInput
from civicline.domain.handing import MAX_REASON, Handing
from civicline.gateway.bounds import form_int
from civicline.gateway.console.case_routes import NumberPath, page
from civicline.gateway.console.errors import status_for
from civicline.gateway.console.web import PREFIX, ViewerDep, checked_form, redirect, services_of
from civicline.handlers import handing

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.post("/cases/{number}/hand")
async def hand(request: Request, number: NumberPath, who: ViewerDep) -> Response:
    services = services_of(request)
    form = await checked_form(request, who)
    try:
        try:
            how = Handing(form.get("handing", ""))
        except ValueError:
            raise InvalidInput("unknown move") from None
        days = form.get("due_working_days", "").strip()
        due = form_int(days, 1, 365) if days else None
        if days and due is None:
            raise InvalidInput("working days: a whole number from 1 to 365")
        tree = services.taxonomy.units
        if tree is None:
            raise InvalidInput("no units tree is set up")
        await handing.move(
            number,
            handing.HandRequest(
                how,
                reason=form.get("reason", "").strip()[:MAX_REASON] or None,
                unit=form.get("unit") or None,
                department=form.get("department") or None,
                due_working_days=due,
            ),
            user=who.user,
            uow=services.uow(),
            tree=tree,
            taxonomy=services.taxonomy,
            calendar=services.calendar,
            now=services.now(),
            claim=ClaimRule.REQUIRE,
        )
    except DomainError as exc:
        return await page(request, who, number, error=str(exc), status=status_for(exc))
    return redirect(f"{PREFIX}/cases/{number}")
