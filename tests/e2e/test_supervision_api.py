"""Supervision orders, leader ownership, the dossier and the backlog over HTTP, through the
real gateway and its worker (li: housing staff, zhao: transport staff, boss: supervisor)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.support.console import file_complaint
from tests.support.gateway import Gateway

STREETLIGHT = "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑，我的电话13912345678"
PHONE = "13912345678"


async def test_an_order_goes_round_over_http(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT)  # housing_construction
    li, zhao, boss = [await gateway.staff(n) for n in ("li", "zhao", "boss")]
    path = f"/api/v1/cases/{number}/supervision"
    order = {"instruction": "请三个工作日内书面答复维修安排", "due_working_days": 3}
    assert (await li.post(path, json=order)).status_code == 403
    assert (await boss.post(path, json={"instruction": "x"})).status_code == 422
    both = {**order, "due_at": "2030-01-01T10:00:00+08:00"}
    assert (await boss.post(path, json=both)).status_code == 422
    assert (await boss.post(path, json={**order, "instruction": ""})).status_code == 422
    issued = await boss.post(path, json=order)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["status"] == "open" and body["department"] == "housing_construction"
    assert body["case_number"] == number and body["issued_by"] == "staff:boss"
    oid = body["id"]

    answer = f"/api/v1/supervision/{oid}/response"
    assert (await zhao.post(answer, json={"response": "不是我们的"})).status_code == 403
    assert (await li.post(answer, json={"response": ""})).status_code == 422
    assert (
        await li.post("/api/v1/supervision/99999/response", json={"response": "x"})
    ).status_code == 404
    answered = await li.post(answer, json={"response": "已安排明天维修"})
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    assert (await li.post(answer, json={"response": "再答"})).status_code == 409
    close = f"/api/v1/supervision/{oid}/close"
    assert (await li.post(close, json={"accepted": True})).status_code == 403
    assert (await boss.post(close, json={"accepted": False})).status_code == 422  # a note
    back = await boss.post(close, json={"accepted": False, "note": "请写明完成时间"})
    assert back.status_code == 200 and back.json()["status"] == "open"
    assert back.json()["response"] is None
    await li.post(answer, json={"response": "明天18点前修好"})
    closed = await boss.post(close, json={"accepted": True, "note": "同意"})
    assert closed.json()["status"] == "closed"
    assert closed.json()["response"] == "明天18点前修好"

    listed = (await li.get(path)).json()
    assert [(o["id"], o["status"]) for o in listed] == [(oid, "closed")]
    assert (await zhao.get(path)).status_code == 403
    history = (await boss.get(f"/api/v1/cases/{number}")).json()["history"]
    steps = [(e["data"]["step"], e["actor"]) for e in history if e["kind"] == "supervised"]
    assert steps == [
        ("issued", "staff:boss"),
        ("answered", "staff:li"),
        ("sent_back", "staff:boss"),
        ("answered", "staff:li"),
        ("closed", "staff:boss"),
    ]

    assert [o["id"] for o in (await boss.get("/api/v1/supervision?status=closed")).json()] == [oid]
    assert (await boss.get("/api/v1/supervision?status=open")).json() == []
    assert (await boss.get("/api/v1/supervision?status=nonsense")).status_code == 422
    assert (await zhao.get("/api/v1/supervision")).json() == []
    assert (
        await zhao.get("/api/v1/supervision?department=housing_construction")
    ).status_code == 403
    assert (await boss.get("/api/v1/supervision?department=nowhere")).status_code == 404

    report = (await boss.get("/api/v1/supervision/report")).json()
    row = {
        "department": "housing_construction",
        "department_name": "市住房和城乡建设局",
        "issued": 1,
        "answered_on_time": 1,
        "answered_late": 0,
        "still_open": 0,
        "overdue": 0,
    }
    assert report["departments"] == [row]
    assert report["total"]["issued"] == 1 and report["total"]["department_name"] == "合计"
    assert (await zhao.get("/api/v1/supervision/report")).json()["departments"] == []
    future = await boss.get("/api/v1/supervision/report?since=2099-01-01")
    assert future.json()["departments"] == []
    assert (await boss.get("/api/v1/supervision/report?since=yesterday")).status_code == 422
    exported = await boss.get("/api/v1/supervision/report?format=csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == list(row)
    assert rows[1] == [str(v) for v in row.values()]
    assert rows[2][1:] == ["合计", "1", "1", "0", "0", "0"]


async def test_ownership_dossier_and_backlog_over_http(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT + " <script>alert(1)</script>")
    li, zhao, boss = [await gateway.staff(n) for n in ("li", "zhao", "boss")]
    owner_path = f"/api/v1/cases/{number}/ownership"
    terms = {
        "leader": "张副市长",
        "supervising_leader": "李主任",
        "working_group": ["王科长", "赵干事"],
        "plan": "三天内修复并排查全路段路灯",
    }
    assert (await li.post(owner_path, json=terms)).status_code == 403
    assert (await li.get(owner_path)).status_code == 404  # none yet
    assert (await boss.post(owner_path, json={**terms, "working_group": []})).status_code == 422
    created = await boss.post(owner_path, json=terms)
    assert created.status_code == 201, created.text
    updated = await boss.post(owner_path, json={**terms, "leader": "陈副市长"})
    assert updated.status_code == 200 and updated.json()["changed"] == ["leader"]
    unchanged = await boss.post(owner_path, json={**terms, "leader": "陈副市长"})
    assert unchanged.status_code == 200 and unchanged.json()["changed"] == []
    shown = (await li.get(owner_path)).json()
    assert shown["leader"] == "陈副市长" and shown["working_group"] == ["王科长", "赵干事"]
    assert (await zhao.get(owner_path)).status_code == 403

    issued = await boss.post(
        f"/api/v1/cases/{number}/supervision",
        json={
            "instruction": f"<script>alert(2)</script> 回访市民{PHONE}",
            "due_at": "2099-01-01T10:00:00+08:00",
        },
    )
    assert issued.status_code == 201
    assert PHONE not in (await li.get(f"/api/v1/cases/{number}/supervision")).text
    assert PHONE in (await boss.get(f"/api/v1/cases/{number}/supervision")).text

    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    dossier = f"/api/v1/cases/{number}/dossier"
    page = await li.get(dossier)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert PHONE not in html and "&lt;phone&gt;" in html
    assert '<html lang="zh-CN">' in html and "案件档案" in html and "陈副市长" in html
    assert f'data-order="{issued.json()["id"]}"' in html
    assert html.count("<tr data-kind=") == len(case["history"])
    assert html.count("<article data-message=") == len(case["messages"])
    assert PHONE in (await boss.get(dossier)).text
    assert (await zhao.get(dossier)).status_code == 403

    md = await li.get(f"{dossier}?format=md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert "<script" not in md.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in md.text
    assert PHONE not in md.text and md.text.startswith(f"# 案件档案（一案一档）：{number}")
    as_json = (await li.get(f"{dossier}?format=json")).json()
    assert as_json["masked"] is True and PHONE not in str(as_json)
    assert len(as_json["events"]) == len(case["history"])
    assert len(as_json["messages"]) == len(case["messages"])
    assert as_json["ownership"]["leader"] == "陈副市长"
    assert [o["id"] for o in as_json["supervision"]] == [issued.json()["id"]]
    assert {"owned", "supervised"} <= {e["kind"] for e in as_json["events"]}
    assert (await boss.get(f"{dossier}?format=json")).json()["masked"] is False
    assert (await li.get(f"{dossier}?format=pdf")).status_code == 422

    # The backlog: nothing is 60 days old yet; 61 days later this case is.
    assert (await boss.get("/api/v1/backlog")).json() == []
    later = gateway.services.now() + timedelta(days=61)
    gateway.services.clock = lambda: later
    [entry] = (await boss.get("/api/v1/backlog")).json()
    assert (entry["number"], entry["age_days"], entry["leader"], entry["open_orders"]) == (
        number,
        61,
        "陈副市长",
        1,
    )
    assert entry["overdue"] is True and entry["department"] == "housing_construction"
    assert [e["number"] for e in (await li.get("/api/v1/backlog")).json()] == [number]
    assert (await zhao.get("/api/v1/backlog")).json() == []
    assert (await zhao.get("/api/v1/backlog?department=housing_construction")).status_code == 403
    assert (await boss.get("/api/v1/backlog?min_age_days=100")).json() == []
    assert (await boss.get("/api/v1/backlog?min_age_days=-1")).status_code == 422
