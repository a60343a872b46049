"""Units end to end over HTTP (issue 16, must show), on SQLite and PostgreSQL: a complaint that
names a township of 宁国市 goes to 宁国市's department of its matter, and a supervisor of 宁国市
sees its subtree's cases and is refused (403) a case of 宣州区, through the API and the console.
"""

from __future__ import annotations

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from tests.support.console import console, file_complaint
from tests.support.gateway import PASSWORD, Gateway

NINGGUO_WAGES = (
    "宁国市河沥溪街道一个建筑工地老板拖欠我们十几个工人的工资三个月了，一直不给，请帮忙讨薪"
)
XUANZHOU_WAGES = "宣州区鳌峰街道一家饭店拖欠我两个月工资，老板说没钱，要求劳动监察处理"
NO_PLACE_WAGES = "公司拖欠工资三个月了，老板一直拖着不给，要求劳动监察部门处理讨薪"


async def test_routed_by_place_and_a_county_sees_its_subtree_only(gateway: Gateway) -> None:
    services = gateway.services
    await create_user(
        services.uow(), services.taxonomy, "ningguo_lead", PASSWORD, Role.SUPERVISOR, None,
        now=services.now(), unit="341881",
    )  # fmt: skip
    ningguo = await file_complaint(gateway, NINGGUO_WAGES)
    xuanzhou = await file_complaint(gateway, XUANZHOU_WAGES)
    city = await file_complaint(gateway, NO_PLACE_WAGES)
    boss = await gateway.staff("boss")  # the city's supervisor sees all
    routed = {n: (await boss.get(f"/api/v1/cases/{n}")).json() for n in (ningguo, xuanzhou, city)}
    assert routed[ningguo]["department"] == "341881.human_resources", routed[ningguo]
    assert routed[xuanzhou]["department"] == "341802.human_resources", routed[xuanzhou]
    assert routed[city]["department"] == "human_resources", routed[city]

    lead = await gateway.staff("ningguo_lead")
    assert (await lead.get(f"/api/v1/cases/{ningguo}")).status_code == 200
    refused = await lead.get(f"/api/v1/cases/{xuanzhou}")
    assert refused.status_code == 403, refused.text
    assert (await lead.get(f"/api/v1/cases/{city}")).status_code == 403
    listed = {c["number"] for c in (await lead.get("/api/v1/cases")).json()}
    assert ningguo in listed and xuanzhou not in listed and city not in listed
    everything = {c["number"] for c in (await boss.get("/api/v1/cases")).json()}
    assert {ningguo, xuanzhou, city} <= everything
    other = await lead.get("/api/v1/cases", params={"department": "341802.human_resources"})
    assert other.status_code == 403
    acted = await lead.post(f"/api/v1/cases/{xuanzhou}/accept", json={})
    assert acted.status_code == 403

    page = await console(gateway, "ningguo_lead")
    assert (await page.get(f"/console/cases/{ningguo}")).status_code == 200
    assert (await page.get(f"/console/cases/{xuanzhou}")).status_code == 403
    queue = await page.get("/console/queue")
    assert queue.status_code == 200 and ningguo in queue.text and xuanzhou not in queue.text
    # the department filter offers the subtree's departments only, and the page says the unit
    assert 'value="341881.human_resources"' in queue.text
    assert 'value="341802.human_resources"' not in queue.text
    assert "宁国市" in queue.text.split('data-testid="me"')[1].split("</span>")[0]
    refused = await page.get("/console/queue", params={"department": "341802.human_resources"})
    assert refused.status_code == 403
