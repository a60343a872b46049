"""End to end over HTTP: the public board (阳光信访). A citizen consents on the web chat, the
case is answered and rated, and it appears on the board with the reply and the rating,
masked; a case without consent never appears; a withheld case leaves the board, the search,
its own URL and the feed."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from tests.e2e.test_hotline_api import CALLER
from tests.e2e.test_hotline_api import call as hotline_call
from tests.e2e.test_mailbox_form import fields, form, smtp
from tests.support.console import console, post_form
from tests.support.gateway import PASSWORD, Gateway, serving
from tests.support.mailserver import SmtpSink
from tests.support.places import Places
from tests.support.polling import eventually

NAME, PHONE, PLATE = "张伟", "13912345678", "皖P12345"
COMPLAINT = (
    f"我叫{NAME}，电话{PHONE}。幸福路88号小区门口的路灯坏了一个星期了，晚上一片漆黑，"
    f"车牌{PLATE}的车还天天堵在3栋2单元门口，老人出门很危险"
)
REPLY = "已安排维修人员今天更换幸福路路灯，并通知业主挪车。"


async def _say(client: httpx.AsyncClient, text: str) -> None:
    sent = await client.post(
        "/api/v1/webchat/messages", json={"client_message_id": uuid.uuid4().hex, "text": text}
    )
    assert sent.status_code == 202, sent.text


async def _replies(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    async def outbound() -> list[dict[str, Any]]:
        answer = await client.get("/api/v1/webchat/messages")
        out = [m for m in answer.json()["messages"] if m["direction"] == "outbound"]
        return out if len(out) >= count else []

    return list(await eventually(outbound))


async def _complain(gateway: Gateway, text: str, consent: str | None) -> tuple[Any, str]:
    """A citizen's web chat complaint, and their answer to the board's question."""
    citizen = gateway.citizen()
    assert (await citizen.get("/")).status_code == 200
    await _say(citizen, text)
    [ack] = await _replies(citizen, 1)
    number = ack["case_number"]
    assert "阳光信访" in ack["text"] and "公开" in ack["text"]  # the question was asked
    if consent is not None:
        await _say(citizen, consent)
        answered = await _replies(citizen, 2)
        assert number in answered[-1]["text"]
    return citizen, number


async def _answer_and_close(gateway: Gateway, number: str) -> None:
    clerk = await gateway.staff("li")
    reply = await clerk.post(f"/api/v1/cases/{number}/replies", json={"text": REPLY})
    assert reply.status_code == 202, reply.text
    closed = await clerk.post(
        f"/api/v1/cases/{number}/close",
        json={"reason": f"路灯已更换，联系人{NAME}确认。", "outcome": "solved"},
    )
    assert closed.status_code == 200, closed.text


async def test_consented_answered_rated_case_is_published_masked_until_withheld(
    gateway: Gateway,
) -> None:
    citizen, number = await _complain(gateway, COMPLAINT, "公开")
    _, private = await _complain(gateway, "人民路的路灯坏了好几天了，晚上很黑，请尽快修", "不公开")
    _, unanswered = await _complain(gateway, "解放路的路灯也坏了，晚上很黑", None)
    boss = await gateway.staff("boss")
    state = (await boss.get(f"/api/v1/cases/{number}/publication")).json()
    assert state["consent"] is True and state["state"] == "listed"
    assert (await boss.get(f"/api/v1/cases/{private}/publication")).json()["consent"] is False

    for case in (number, private, unanswered):
        await _answer_and_close(gateway, case)
    # The return visit's question comes after the close: the citizen answers "1" (满意).
    await _replies(citizen, 4)  # receipt, consent thanks, answer, visit question
    await _say(citizen, "1")
    await _replies(citizen, 5)

    public = gateway.citizen()
    page = await public.get("/board")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    links = re.findall(r'href="/board/cases/([A-Za-z0-9_-]+)\?lang=zh"', html)
    assert len(links) == 1  # only the consented case
    for secret in (NAME, PHONE, PLATE, "88号", "3栋"):
        assert secret not in html
    assert "幸福路" in html and "某某" in html and "皖P*****" in html
    assert "满意" in html
    url = f"/board/cases/{links[0]}"
    detail = await public.get(url)
    assert detail.status_code == 200
    assert REPLY in detail.text and "路灯已更换" in detail.text and "满意" in detail.text
    for secret in (NAME, PHONE, PLATE, "88号"):
        assert secret not in detail.text
    assert number not in detail.text  # case numbers are not public

    assert page.headers["cache-control"].startswith("public")
    again = await public.get("/board", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304

    found = await public.get("/board", params={"q": "路灯 幸福路"})
    assert found.status_code == 200 and url in found.text
    nothing = await public.get("/board", params={"q": "人民路"})  # only the private case's
    assert "/board/cases/" not in nothing.text and 'data-testid="board-empty"' in nothing.text
    assert url not in (await public.get("/board", params={"q": NAME})).text  # masked words
    assert url in (await public.get("/board", params={"department": "housing_construction"})).text
    feed = await public.get("/board/feed.atom")
    assert feed.status_code == 200 and url in feed.text and PHONE not in feed.text

    guessed = await public.get("/board/cases/" + "A" * 16)
    assert guessed.status_code == 404

    withheld = await boss.post(
        f"/api/v1/cases/{number}/publication", json={"action": "withhold", "reason": "涉及隐私"}
    )
    assert withheld.status_code == 200, withheld.text
    assert withheld.json()["state"] == "withheld"
    assert (await public.get(url)).status_code == 404
    assert url not in (await public.get("/board")).text
    assert url not in (await public.get("/board", params={"q": "路灯"})).text
    assert url not in (await public.get("/board/feed.atom")).text
    history = (await boss.get(f"/api/v1/cases/{number}")).json()["history"]
    event = [e for e in history if e["kind"] == "publication"][-1]
    assert event["reason"] == "涉及隐私" and event["data"]["action"] == "withhold"

    released = await boss.post(f"/api/v1/cases/{number}/publication", json={"action": "release"})
    assert released.status_code == 200
    assert (await public.get(url)).status_code == 200
    # Reopened, it is no longer an answered matter: off the board until it is closed again
    # (pages not cached yet: the page cache keeps what it holds for its period).
    reopened = await boss.post(f"/api/v1/cases/{number}/reopen", json={"reason": "再次反映"})
    assert reopened.status_code == 200, reopened.text
    assert (await public.get(url, params={"lang": "en"})).status_code == 404
    assert url not in (await public.get("/board", params={"q": "路灯", "lang": "en"})).text


async def test_bad_board_input_answers_4xx(gateway: Gateway) -> None:
    public = gateway.citizen()
    for params in (
        {"page": "x"},
        {"page": "0"},
        {"since": "yesterday"},
        {"category": "nope"},
        {"q": "字" * 51},
        {"since": "2026-12-02", "until": "2026-12-01"},
    ):
        answer = await public.get("/board", params=params)
        assert answer.status_code == 400, params
    for month in ("2026-13", "0001-01", "9999-12", "２０２６-11"):
        answer = await public.get("/board/rates", params={"month": month})
        assert answer.status_code == 400, month
        assert (await public.get("/board/rates.csv", params={"month": month})).status_code == 400
    staff = await gateway.staff("li")
    answer = await staff.post(
        "/api/v1/cases/261206-00001/publication", json={"action": "withhold", "reason": "x"}
    )
    assert answer.status_code == 404
    answer = await staff.post("/api/v1/cases/261206-00001/publication", json={"action": "hide"})
    assert answer.status_code == 422


async def test_mailbox_and_hotline_consent_a_supervisors_review_rates_and_search_limit(
    places: Places, smtp_sink: SmtpSink
) -> None:
    """The mailbox form's box and the hotline's question record consent; with the city's
    review on, a consented case waits for a supervisor before it is published; the rates
    page and its CSV count the month's cases; searches are limited per address."""
    settings = smtp(smtp_sink, board_review=True, board_search_per_minute=4)
    async with places.services(**settings) as services, serving(services) as gateway:
        await create_user(
            services.uow(), services.taxonomy, "wang", PASSWORD, Role.OPERATOR, None,
            now=services.now(),
        )  # fmt: skip
        public = gateway.citizen()
        sent = await public.post("/mailbox", data=fields(await form(public)))
        assert sent.status_code == 200, sent.text
        letter = re.search(r'id="letter-number">([^<]+)<', sent.text)
        assert letter is not None
        refused = await public.post(
            "/mailbox",
            data=fields(
                await form(public),
                may_publish="",
                subject="路灯不亮",
                body="解放街东头的路灯三天没亮了，晚上走路看不见，请派人修一下。",
            ),
        )
        private = re.search(r'id="letter-number">([^<]+)<', refused.text)
        assert private is not None
        operator = await gateway.staff("wang")
        filed = await operator.post(
            "/api/v1/hotline/transcripts",
            json=hotline_call(
                publish_consent=True,
                transcript="建设路和光明路口的路灯一直闪，晚上很晃眼，请检修。我叫刘洋。",
            ),
        )
        assert filed.status_code == 201, filed.text
        called = filed.json()["case_number"]

        boss = await gateway.staff("boss")
        for number, consent in ((letter[1], True), (private[1], False), (called, True)):
            state = (await boss.get(f"/api/v1/cases/{number}/publication")).json()
            assert state["consent"] is consent, (number, state)
            assert state["state"] == ("review" if consent else "declined")
            await _answer_and_close(gateway, number)
        assert "/board/cases/" not in (await public.get("/board")).text  # none reviewed yet

        clerk = await gateway.staff("li")
        refused_approval = await clerk.post(
            f"/api/v1/cases/{called}/publication", json={"action": "approve"}
        )
        assert refused_approval.status_code == 403
        no_consent = await boss.post(
            f"/api/v1/cases/{private[1]}/publication", json={"action": "approve"}
        )
        assert no_consent.status_code == 422
        approved = await boss.post(
            f"/api/v1/cases/{called}/publication", json={"action": "approve"}
        )
        assert approved.status_code == 200, approved.text
        url = approved.json()["public_url"]
        listed = await public.get("/board")
        assert url in listed.text and listed.text.count('data-testid="board-item"') == 1
        shown = (await public.get(url)).text
        assert CALLER not in shown and "刘洋" not in shown and "建设路和光明路口" in shown

        month = services.now().astimezone(services.settings.timezone).strftime("%Y-%m")
        rates_page = await public.get("/board/rates", params={"month": month})
        assert rates_page.status_code == 200 and "按期办结率" in rates_page.text
        csv_file = await public.get("/board/rates.csv", params={"month": month})
        assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith(
            "text/csv"
        )
        lines = csv_file.text.strip().splitlines()
        assert lines[0].startswith("month,unit,unit_name,cases,timely_acceptance_rate")
        unit = next(line.split(",") for line in lines[1:] if "housing_construction" in line)
        assert unit[3] == "3" and unit[5] == "1.0000"  # three cases, all completed on time

        answers = [
            (await public.get("/board", params={"q": f"路灯{i}"})).status_code for i in range(6)
        ]
        assert answers[:4] == [200] * 4 and answers[4:] == [429, 429]
        assert (await public.get("/board")).status_code == 200  # the plain board is not limited


async def test_the_console_withholds_and_releases_a_case(gateway: Gateway) -> None:
    """The console's case page shows the consent and withholds with a reason (none: refused,
    the page says why), then releases; the history shows both."""
    _, number = await _complain(gateway, COMPLAINT, "公开")
    await _answer_and_close(gateway, number)
    clerk = await console(gateway, "li")
    page = f"/console/cases/{number}"
    shown = (await clerk.get(page)).text
    assert 'data-testid="board-box"' in shown and "市民同意公开" in shown
    link = re.search(r'href="(/board/cases/[^"]+)" data-testid="board-link"', shown)
    assert link is not None
    public = gateway.citizen()
    assert (await public.get(link[1])).status_code == 200

    target = f"/console/cases/{number}/publication"
    refused = await post_form(clerk, page, target, action="withhold", reason="")
    assert refused.status_code == 422 and "needs a reason" in refused.text
    withheld = await post_form(clerk, page, target, action="withhold", reason="涉法涉诉")
    assert withheld.status_code == 303
    assert (await public.get(link[1])).status_code == 404
    shown = (await clerk.get(page)).text
    assert "已暂不公开" in shown and "涉法涉诉" in shown and 'data-kind="publication"' in shown
    released = await post_form(clerk, page, target, action="release")
    assert released.status_code == 303
    assert (await public.get(link[1], params={"lang": "en"})).status_code == 200
    unknown = await post_form(clerk, page, target, action="hide")
    assert unknown.status_code == 422
