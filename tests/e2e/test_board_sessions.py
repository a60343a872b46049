"""Leaders' public Q&A sessions over HTTP: a supervisor schedules one and opens it, staff
publish answers, a reader's server-sent event stream gets each at once (masked), the page
keeps the record; refusals are clear 4xx."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.e2e.test_board_flow import COMPLAINT, NAME, PHONE, _complain
from tests.support.gateway import Gateway

QUESTION = "我叫王强，电话13812345678，幸福路的路灯什么时候能修好？"
ANSWER = "幸福路路灯本周五前全部修复，住建局已派人现场查看。"


def session_body(**changes: Any) -> dict[str, Any]:
    body = {
        "topic": "城市照明与道路维护",
        "leader": "住建局局长 李明",
        "departments": ["housing_construction"],
        "starts_at": "2026-12-10T15:00:00+08:00",
        "video_url": "https://video.example.cn/live/42",
    }
    body.update(changes)
    return body


async def _next_answer(lines: Any) -> dict[str, Any]:
    event = None
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "answer":
            return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError("the stream ended")


async def test_a_live_session_streams_the_leaders_answers(gateway: Gateway) -> None:
    boss = await gateway.staff("boss")
    clerk = await gateway.staff("li")
    other = await gateway.staff("zhao")  # transport: not this session's unit
    assert (await clerk.post("/api/v1/board/sessions", json=session_body())).status_code == 403
    created = await boss.post("/api/v1/board/sessions", json=session_body())
    assert created.status_code == 201, created.text
    session = created.json()
    url, public_id = session["url"], session["public_id"]
    answers = f"/api/v1/board/sessions/{public_id}/answers"
    early = await clerk.post(answers, json={"question": "路灯？", "answer": "会修。"})
    assert early.status_code == 422  # not live yet
    opened = await boss.post(f"/api/v1/board/sessions/{public_id}/status", json={"status": "live"})
    assert opened.status_code == 200 and opened.json()["status"] == "live"

    public = gateway.citizen()
    page = await public.get(url)
    assert page.status_code == 200 and "城市照明与道路维护" in page.text
    assert "board_session.js" in page.text and "video.example.cn" in page.text

    async with public.stream("GET", url + "/events", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        waiting = asyncio.create_task(_next_answer(lines))
        await asyncio.sleep(0.3)
        assert (await other.post(answers, json={"question": "?", "answer": "!"})).status_code == 403
        sent = await clerk.post(answers, json={"question": QUESTION, "answer": ANSWER})
        assert sent.status_code == 201, sent.text
        got = await asyncio.wait_for(waiting, 10)
    assert got["answer"] == ANSWER and got["id"] == sent.json()["id"]
    assert "王强" not in got["question"] and "13812345678" not in got["question"]
    assert "幸福路的路灯" in got["question"]

    # A reader coming back later gets what they missed (Last-Event-ID), then the record.
    async with public.stream(
        "GET", url + "/events", headers={"Last-Event-ID": "0"}, timeout=30
    ) as again:
        missed = await asyncio.wait_for(_next_answer(again.aiter_lines()), 10)
    assert missed["id"] == got["id"]
    ended = await boss.post(f"/api/v1/board/sessions/{public_id}/status", json={"status": "ended"})
    assert ended.status_code == 200
    record = await public.get(url)
    assert ANSWER in record.text and "13812345678" not in record.text and "已结束" in record.text
    late = await clerk.post(answers, json={"question": "还有吗？", "answer": "有。"})
    assert late.status_code == 422
    assert public_id in (await public.get("/board/sessions")).text


async def test_bad_session_input_answers_4xx(gateway: Gateway) -> None:
    boss = await gateway.staff("boss")
    for body in (
        session_body(starts_at="2026-12-10T15:00:00"),  # no time zone
        session_body(starts_at="0001-01-01T00:00:00+14:00"),  # before any time stored
        session_body(departments=["nope"]),
        session_body(video_url="javascript:alert(1)"),
        session_body(topic=""),
    ):
        answer = await boss.post("/api/v1/board/sessions", json=body)
        assert answer.status_code == 422, body
    public = gateway.citizen()
    assert (await public.get("/board/sessions/AAAAAAAAAAAAAAAA")).status_code == 404
    assert (await public.get("/board/sessions/AAAAAAAAAAAAAAAA/events")).status_code == 404
    missing = await boss.post(
        "/api/v1/board/sessions/AAAAAAAAAAAAAAAA/answers", json={"question": "q", "answer": "a"}
    )
    assert missing.status_code == 404
    created = (await boss.post("/api/v1/board/sessions", json=session_body())).json()
    bad = await public.get(created["url"] + "/events", params={"after": "x"})
    assert bad.status_code == 400


async def test_questions_asked_beforehand_are_cases_marked_for_the_session(
    gateway: Gateway,
) -> None:
    """A citizen's case (web chat, consented) is marked as a question; the page lists it
    until an answer names it; one left unanswered is followed up as a case."""
    _, asked = await _complain(gateway, COMPLAINT, "公开")
    _, other = await _complain(gateway, "解放街的路灯也不亮了，晚上看不清路", "公开")
    _, private = await _complain(gateway, "和平街的路灯坏了很久了", "不公开")
    boss = await gateway.staff("boss")
    clerk = await gateway.staff("li")
    outsider = await gateway.staff("zhao")
    public_id = (await boss.post("/api/v1/board/sessions", json=session_body())).json()["public_id"]
    questions = f"/api/v1/board/sessions/{public_id}/questions"
    first = await clerk.post(questions, json={"case_number": asked})
    assert first.status_code == 201, first.text
    assert (await clerk.post(questions, json={"case_number": asked})).status_code == 200
    assert (await clerk.post(questions, json={"case_number": other})).status_code == 201
    assert (await clerk.post(questions, json={"case_number": private})).status_code == 422
    assert (await outsider.post(questions, json={"case_number": asked})).status_code == 403
    history = (await clerk.get(f"/api/v1/cases/{asked}")).json()["history"]
    assert any(e["data"].get("qa_session") == public_id for e in history)

    public = gateway.citizen()
    url = f"/board/sessions/{public_id}"
    page = (await public.get(url)).text
    assert page.count('data-testid="qa-question"') == 2 and "待答复" in page
    assert NAME not in page and PHONE not in page and asked not in page

    await boss.post(f"/api/v1/board/sessions/{public_id}/status", json={"status": "live"})
    answered = await clerk.post(
        f"/api/v1/board/sessions/{public_id}/answers",
        json={"question": "幸福路路灯什么时候修？", "answer": ANSWER, "case_number": asked},
    )
    assert answered.status_code == 201, answered.text
    await boss.post(f"/api/v1/board/sessions/{public_id}/status", json={"status": "ended"})
    record = (await public.get(url)).text
    assert "已答复" in record and "转交承办单位继续办理" in record
    late = await clerk.post(questions, json={"case_number": private})
    assert late.status_code == 422  # ended
