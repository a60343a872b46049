"""Access is checked on every case an action touches, not only the one in the URL.

li is housing staff, zhao transport staff, boss a supervisor (see ``conftest.serving``). Every
route that reads or changes a case is tried by li on a transport case, through the API and the
console; each is refused and nothing changes on either case.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.console import console, file_complaint, post_form
from tests.support.gateway import Gateway

STREETLIGHT = "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑"
LIFT = "和平路小区电梯坏了三天，物业不管"
# Drains route to the water authority now (their sub-category's department): a housing matter.
DRAIN = "解放路12号小区物业乱收停车费，业主意见很大"


async def _state(boss: httpx.AsyncClient, number: str) -> dict[str, Any]:
    """What an action could change on a case, as the supervisor sees it."""
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    orders = (await boss.get(f"/api/v1/cases/{number}/supervision")).json()
    owner = (await boss.get(f"/api/v1/cases/{number}/ownership")).json()
    return {"case": case, "orders": orders, "owner": owner}


async def test_a_clerk_touches_no_case_of_another_department(gateway: Gateway) -> None:
    own = await file_complaint(gateway, STREETLIGHT)
    also_own = await file_complaint(gateway, DRAIN)
    foreign = await file_complaint(gateway, LIFT)
    boss, li = await gateway.staff("boss"), await gateway.staff("li")
    moved = await boss.post(
        f"/api/v1/cases/{foreign}/forward", json={"department": "transport", "reason": "测试"}
    )
    assert moved.status_code == 200, moved.text
    foreign_message = next(
        m["id"]
        for m in (await boss.get(f"/api/v1/cases/{foreign}")).json()["messages"]
        if m["direction"] == "inbound"
    )
    before = {n: await _state(boss, n) for n in (own, foreign)}

    # The defect: the merge target was loaded without an access check.
    merge = {"into": foreign, "reason": "重复"}
    assert (await li.post(f"/api/v1/cases/{own}/merge", json=merge)).status_code == 403
    api = [
        ("GET", f"/api/v1/cases/{foreign}", None),
        ("POST", f"/api/v1/cases/{foreign}/replies", {"text": "已处理"}),
        ("POST", f"/api/v1/cases/{foreign}/accept", {}),
        ("POST", f"/api/v1/cases/{foreign}/close", {"reason": "已处理"}),
        ("POST", f"/api/v1/cases/{foreign}/merge", {"into": own, "reason": "重复"}),
        ("POST", f"/api/v1/cases/{foreign}/pause", {"reason": "等市民补充"}),
        ("POST", f"/api/v1/cases/{foreign}/resume", None),
        ("GET", f"/api/v1/cases/{foreign}/supervision", None),
        ("GET", f"/api/v1/cases/{foreign}/ownership", None),
        ("GET", f"/api/v1/cases/{foreign}/dossier", None),
        ("GET", f"/api/v1/cases/{foreign}/attachments/{foreign_message}/0", None),
    ]
    for method, path, body in api:
        answer = await li.request(method, path, json=body)
        assert answer.status_code == 403, (path, answer.status_code, answer.text)
    # A message of the foreign case is not one of the own case's.
    stray = await li.get(f"/api/v1/cases/{own}/attachments/{foreign_message}/0")
    assert stray.status_code == 404

    clerk = await console(gateway, "li")
    page = f"/console/cases/{own}"
    assert (await post_form(clerk, page, f"{page}/claim")).status_code == 303
    merged = await post_form(clerk, page, f"{page}/act", action="merge", into=foreign)
    assert merged.status_code == 403, merged.text
    there = f"/console/cases/{foreign}"
    for target, fields in [
        (f"{there}/claim", {}),
        (f"{there}/release", {}),
        (f"{there}/reply", {"text": "已处理"}),
        (f"{there}/act", {"action": "merge", "into": own}),
        (f"{there}/act", {"action": "close", "reason": "已处理"}),
    ]:
        answer = await post_form(clerk, page, target, **fields)  # the form's token is good
        assert answer.status_code == 403, (target, answer.status_code)
    for path in (there, f"{there}/thread", f"{there}/attachments/{foreign_message}/0"):
        assert (await clerk.get(path)).status_code == 403, path

    assert {n: await _state(boss, n) for n in (own, foreign)} == before

    # Within the department the same merge goes through, and a supervisor may merge across.
    dup = f"/console/cases/{also_own}"
    assert (await post_form(clerk, dup, f"{dup}/claim")).status_code == 303
    assert (await post_form(clerk, dup, f"{dup}/act", action="merge", into=own)).status_code == 303
    assert (await post_form(clerk, page, f"{page}/release")).status_code == 303
    across = await boss.post(f"/api/v1/cases/{own}/merge", json=merge)
    assert across.status_code == 200 and across.json()["status"] == "merged"
