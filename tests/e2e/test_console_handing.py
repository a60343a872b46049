"""The console's buttons for handing a case down, up and across, the chain on the case page,
and the dashboard's drill-down city → county → township, over HTTP."""

from __future__ import annotations

from tests.support.console import console, file_complaint, post_form
from tests.support.gateway import Gateway
from tests.support.units import COUNTY, TOWNSHIP, unit_accounts

STREETLIGHT = "幸福路88号小区门口的路灯坏了一个星期了，晚上一片漆黑，老人出门很危险"


async def test_hand_down_twice_report_up_and_drill_down(gateway: Gateway) -> None:
    await unit_accounts(gateway)
    number = await file_complaint(gateway, STREETLIGHT)
    page = f"/console/cases/{number}"
    boss = await console(gateway, "boss")
    shown = (await boss.get(page)).text
    assert 'data-testid="handing-box"' not in shown  # claim the case first
    await post_form(boss, page, f"{page}/claim")
    shown = (await boss.get(page)).text
    assert 'data-testid="hand-down-form"' in shown and f'value="{TOWNSHIP}"' in shown
    assert 'data-testid="report-up-form"' not in shown  # the city has nobody above it
    down = await post_form(boss, page, f"{page}/hand", handing="down", unit=COUNTY)
    assert down.status_code == 303

    ningguo = await console(gateway, "ningguo")
    await post_form(ningguo, page, f"{page}/claim")
    bad = await post_form(
        ningguo, page, f"{page}/hand", handing="down", unit=TOWNSHIP, due_working_days="x"
    )
    assert bad.status_code == 422 and "working days" in bad.text
    outside = await post_form(ningguo, page, f"{page}/hand", handing="down", unit="341802001")
    assert outside.status_code == 422 and "not below" in outside.text
    down = await post_form(ningguo, page, f"{page}/hand", handing="down", unit=TOWNSHIP)
    assert down.status_code == 303

    helixi = await console(gateway, "helixi")
    await post_form(helixi, page, f"{page}/claim")
    shown = (await helixi.get(page)).text
    assert 'data-testid="handing-chain"' in shown
    assert shown.count('data-state="handed_down"') == 2 and 'data-state="holding"' in shown
    assert "河沥溪街道" in shown and 'data-testid="report-up-form"' in shown
    no_reason = await post_form(helixi, page, f"{page}/hand", handing="up", reason=" ")
    assert no_reason.status_code == 422
    up = await post_form(helixi, page, f"{page}/hand", handing="up", reason="需县级部门协调")
    assert up.status_code == 303
    shown = (await ningguo.get(page)).text  # the county holds it again
    assert 'data-state="reported_up"' in shown and "需县级部门协调" in shown

    city = (await boss.get("/console/dashboard")).text
    assert 'data-testid="by-unit"' in city and f'data-testid="drill-{COUNTY}"' in city
    county = await boss.get(f"/console/dashboard?unit={COUNTY}")
    assert county.status_code == 200 and 'data-testid="unit-here">宁国市<' in county.text
    assert f'<tr data-unit="{COUNTY}"><td>宁国市' in county.text
    lead = await console(gateway, "ningguo_lead")
    own = (await lead.get("/console/dashboard")).text
    assert 'data-testid="unit-here">宁国市<' in own
    assert (await lead.get("/console/dashboard?unit=341802")).status_code == 403
    exported = await lead.get(f"/console/dashboard.csv?unit={COUNTY}")
    assert f"\r\nunit,{COUNTY}," in exported.text
