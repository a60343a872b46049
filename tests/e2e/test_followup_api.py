"""Following cases up over HTTP: waiting for the citizen (whose next message resumes the
case), escalation notices, and return visits by phone, never by someone who worked on it."""

from __future__ import annotations

from datetime import datetime, timedelta

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from civicline.handlers.escalation import Schedule, run_schedule
from tests.e2e.test_webchat_flow import _bot_reply, _open_chat, _say
from tests.support.gateway import PASSWORD, Gateway

COMPLAINT = "幸福路88号小区门口的路灯坏了一个星期了，晚上一片漆黑"


async def _case(gateway: Gateway) -> tuple[str, object]:
    citizen = await _open_chat(gateway)
    assert (await _say(citizen, COMPLAINT)).status_code == 202
    [ack] = await _bot_reply(citizen)
    return str(ack["case_number"]), citizen


async def test_waiting_for_the_citizen_stops_the_clock(gateway: Gateway) -> None:
    number, citizen = await _case(gateway)
    clerk = await gateway.staff("li")
    before = (await clerk.get(f"/api/v1/cases/{number}")).json()["complete_due_at"]
    paused = await clerk.post(f"/api/v1/cases/{number}/pause", json={"reason": "请补充照片"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused_since"]
    again = await clerk.post(f"/api/v1/cases/{number}/pause", json={"reason": "再等等"})
    assert again.status_code == 422
    other = await gateway.staff("zhao")  # another department
    refused = await other.post(f"/api/v1/cases/{number}/resume")
    assert refused.status_code == 403

    # The citizen's next message is the answer: it joins the case and the clock runs again.
    await _say(citizen, "照片已经拍好了，灯杆上有编号A-17")  # type: ignore[arg-type]
    replies = await _bot_reply(citizen, count=2)  # type: ignore[arg-type]
    assert number in replies[-1]["text"] and "继续办理" in replies[-1]["text"]
    case = (await clerk.get(f"/api/v1/cases/{number}")).json()
    assert case["complete_due_at"] >= before
    assert [e["kind"] for e in case["history"]][-3:] == ["paused", "message", "resumed"]
    not_paused = await clerk.post(f"/api/v1/cases/{number}/resume")
    assert not_paused.status_code == 422


async def test_notices_follow_the_ladder_and_departments(gateway: Gateway) -> None:
    number, _ = await _case(gateway)
    services = gateway.services
    late = services.now() + timedelta(days=30)
    done = await run_schedule(
        uow_factory=services.uow,
        schedule=Schedule(services.calendar, services.settings.timezone),
        now=late,
    )
    assert done.escalated == 3
    clerk = await gateway.staff("li")
    boss = await gateway.staff("boss")
    other = await gateway.staff("zhao")
    mine = (await clerk.get("/api/v1/notifications")).json()
    everything = (await boss.get("/api/v1/notifications")).json()
    assert {n["audience"] for n in mine} == {"clerk", "department_head"}
    assert len(everything) == 3 and all(number in n["text"] for n in everything)
    assert (await other.get("/api/v1/notifications")).json() == []
    read = await clerk.post("/api/v1/notifications/read", json={"ids": [n["id"] for n in mine]})
    assert read.status_code == 204
    assert (await clerk.get("/api/v1/notifications")).json() == []
    assert len((await clerk.get("/api/v1/notifications?unread=false")).json()) == 2


async def test_a_phone_visit_by_someone_who_did_not_handle_the_case(gateway: Gateway) -> None:
    number, _ = await _case(gateway)
    boss = await gateway.staff("boss")
    await boss.post(f"/api/v1/cases/{number}/replies", json={"text": "已修好。"})
    closed = await boss.post(f"/api/v1/cases/{number}/close", json={"reason": "路灯已更换"})
    assert closed.status_code == 200, closed.text
    own = await boss.post(f"/api/v1/cases/{number}/visit", json={"reached": True, "answer": 1})
    assert own.status_code == 403  # the supervisor closed it: nobody grades their own work
    clerk = await gateway.staff("li")
    staff = await clerk.post(f"/api/v1/cases/{number}/visit", json={"reached": True, "answer": 1})
    assert staff.status_code == 403  # staff do not make return visits
    services = gateway.services
    await create_user(
        services.uow(), services.taxonomy, "wang", PASSWORD, Role.OPERATOR, None, now=services.now()
    )
    operator = await gateway.staff("wang")
    missing = await operator.post(f"/api/v1/cases/{number}/visit", json={"reached": True})
    assert missing.status_code == 422
    visit = await operator.post(
        f"/api/v1/cases/{number}/visit", json={"reached": True, "answer": 4}
    )
    assert visit.status_code == 200, visit.text
    assert visit.json()["reopened"] and visit.json()["status"] == "reopened"
    twice = await operator.post(f"/api/v1/cases/{number}/visit", json={"reached": False})
    assert twice.status_code == 422
    assert isinstance(datetime.fromisoformat(visit.json()["complete_due_at"]), datetime)


async def test_closing_records_the_outcome_and_tells_the_court_route(gateway: Gateway) -> None:
    number, citizen = await _case(gateway)
    clerk = await gateway.staff("li")
    await clerk.post(f"/api/v1/cases/{number}/replies", json={"text": "已答复。"})
    bad = await clerk.post(
        f"/api/v1/cases/{number}/close", json={"reason": "已答复", "outcome": "vanished"}
    )
    assert bad.status_code == 422
    closed = await clerk.post(
        f"/api/v1/cases/{number}/close",
        json={"reason": "属于合同纠纷", "outcome": "explained", "legal_matter": True},
    )
    assert closed.status_code == 200, closed.text
    replies = await _bot_reply(citizen, count=4)  # type: ignore[arg-type]
    texts = [r["text"] for r in replies]
    assert any("涉法涉诉" in t and "12348" in t for t in texts)
    assert "回访" in texts[-1]
    case = (await clerk.get(f"/api/v1/cases/{number}")).json()
    close = next(e for e in case["history"] if e["to_status"] == "closed")
    assert close["data"] == {"outcome": "explained", "legal_matter": True}
