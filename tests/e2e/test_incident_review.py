"""Staff decide what grouping was not sure of, over the API and in the console: confirm or
dismiss a suggested report, undo a wrong merge; a clerk acts only on their department's
cases, and on both cases of a suggestion."""

from __future__ import annotations

import httpx

from tests.support.console import console, file_complaint, post_form
from tests.support.gateway import Gateway

COMPOUND = "和平小区电梯坏了，老人下不了楼，物业一直拖着不修"
BUILDING = "和平小区3号楼电梯坏了，老人下不了楼，物业一直拖着不修"


async def _suggestion(staff: httpx.AsyncClient, number: str) -> dict[str, object]:
    answer = await staff.get(f"/api/v1/cases/{number}/suggestions")
    assert answer.status_code == 200, answer.text
    [found] = answer.json()
    assert isinstance(found, dict)
    return found


async def test_the_api_confirms_dismisses_and_unmerges(gateway: Gateway) -> None:
    lead = await file_complaint(gateway, COMPOUND)
    report = await file_complaint(gateway, BUILDING)  # a compound has many lifts: suggested
    clerk, other = await gateway.staff("li"), await gateway.staff("zhao")

    suggestion = await _suggestion(clerk, report)
    assert (suggestion["case"], suggestion["lead"]) == (report, lead)
    assert await _suggestion(clerk, lead) == suggestion
    assert (await other.get(f"/api/v1/cases/{report}/suggestions")).status_code == 403
    confirm = f"/api/v1/suggestions/{suggestion['id']}/confirm"
    assert (await other.post(confirm)).status_code == 403

    decided = await clerk.post(confirm)
    assert decided.status_code == 200, decided.text
    assert decided.json() == {
        "id": suggestion["id"],
        "status": "confirmed",
        "lead": lead,
        "reporters": 2,
    }
    assert (await clerk.get(f"/api/v1/cases/{report}")).json()["merged_into"] == lead
    again = await clerk.post(f"/api/v1/suggestions/{suggestion['id']}/dismiss")
    assert again.status_code == 422  # decided once

    unmerge = f"/api/v1/cases/{report}/unmerge"
    assert (await other.post(unmerge, json={"reason": "另一部电梯"})).status_code == 403
    assert (await clerk.post(unmerge, json={})).status_code == 422  # a reason is needed
    undone = await clerk.post(unmerge, json={"reason": "另一部电梯"})
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "assigned"
    assert (await clerk.get(f"/api/v1/cases/{lead}")).json()["reporters"] == 1
    assert (await clerk.post(unmerge, json={"reason": "again"})).status_code == 422
    history = (await clerk.get(f"/api/v1/cases/{report}")).json()["history"]
    moves = [(e["from_status"], e["to_status"]) for e in history if e["kind"] == "transition"]
    assert ("assigned", "merged") in moves and moves[-1] == ("merged", "assigned")

    huge = await clerk.post("/api/v1/suggestions/99999999999999999999/confirm")
    assert huge.status_code == 422
    assert (await clerk.post("/api/v1/suggestions/424242/confirm")).status_code == 404
    for client in (clerk, other):
        await client.aclose()


async def test_the_console_shows_suggestions_and_undoes_a_merge(gateway: Gateway) -> None:
    lead = await file_complaint(gateway, COMPOUND)
    report = await file_complaint(gateway, BUILDING)
    clerk, api = await console(gateway, "li"), await gateway.staff("li")
    page = f"/console/cases/{report}"

    html = (await clerk.get(page)).text
    assert 'data-testid="suggestions"' in html and f"/console/cases/{lead}" in html
    suggestion = (await _suggestion(api, report))["id"]
    confirmed = await post_form(clerk, page, f"{page}/suggestions/{suggestion}/confirm")
    assert confirmed.status_code == 303
    html = (await clerk.get(page)).text
    assert 'data-status="merged"' in html and 'data-testid="unmerge-box"' in html
    assert 'data-testid="case-reporters">2<' in (await clerk.get(f"/console/cases/{lead}")).text

    outsider = await console(gateway, "zhao")
    assert (await outsider.get(page)).status_code == 403
    refused = await post_form(outsider, "/console/queue", f"{page}/unmerge", reason="不是")
    assert refused.status_code == 403

    undone = await post_form(clerk, page, f"{page}/unmerge", reason="另一部电梯")
    assert undone.status_code == 303
    html = (await clerk.get(page)).text
    assert 'data-status="assigned"' in html and 'data-testid="unmerge-box"' not in html

    third = await file_complaint(gateway, BUILDING.replace("3号楼", "8号楼"))
    third_page = f"/console/cases/{third}"
    html = (await clerk.get(third_page)).text
    assert f"/console/cases/{lead}" in html
    pending = await _suggestion(api, third)
    dismissed = await post_form(
        clerk, third_page, f"{third_page}/suggestions/{pending['id']}/dismiss"
    )
    assert dismissed.status_code == 303
    assert 'data-testid="suggestions"' not in (await clerk.get(third_page)).text
    for client in (clerk, outsider, api):
        await client.aclose()
