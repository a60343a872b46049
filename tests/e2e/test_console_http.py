"""The staff console over HTTP: sign-in, CSRF, lockout, department isolation, claims, masking."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx

from civicline.domain.cases import Case, CaseStatus
from civicline.domain.citizens import ContactHandle
from civicline.domain.messages import Channel, Language
from civicline.nlu.corrections import corrections_path
from civicline.nlu.training_data import load_examples
from tests.support.console import console, csrf_of, file_complaint, post_form, sign_in
from tests.support.gateway import PASSWORD, Gateway

STREETLIGHT = "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑，我的电话13912345678"


async def test_pages_need_a_session_and_sign_in_sets_a_safe_cookie(gateway: Gateway) -> None:
    anonymous = httpx.AsyncClient(base_url=gateway.url, timeout=10)
    answer = await anonymous.get("/console/queue?channel=sms")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fqueue%3Fchannel%3Dsms"
    assert (await anonymous.get("/console/live")).status_code == 401

    client, signed_in = await sign_in(gateway, "li")
    assert signed_in.status_code == 303
    cookie = next(
        h for h in signed_in.headers.get_list("set-cookie") if h.startswith("civicline_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    page = await client.get("/console/queue")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert '<script src="/static/console.js"' in page.text
    assert (await client.get("/static/console.css")).status_code == 200

    english = await client.get("/console/lang?to=en&next=/console/queue", follow_redirects=True)
    assert "Reply queue" in english.text

    out = await post_form(client, "/console/queue", "/console/logout")
    assert out.status_code == 303
    # The old cookie is dead even if replayed: the session is gone from the database.
    replay = httpx.AsyncClient(base_url=gateway.url, cookies=client.cookies, timeout=10)
    replay.cookies.set("civicline_console", cookie.split(";")[0].split("=", 1)[1], path="/console")
    assert (await replay.get("/console/queue")).status_code == 303


async def test_posts_without_the_csrf_token_are_refused(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT)
    clerk = await console(gateway, "li")
    page = f"/console/cases/{number}"
    assert (await clerk.post(f"{page}/claim", data={})).status_code == 403
    assert (await clerk.post(f"{page}/claim", data={"csrf": "forged"})).status_code == 403
    assert (await clerk.post(f"{page}/claim", json={"csrf": "x"})).status_code == 415
    # The sign-in form has its own token too.
    fresh = httpx.AsyncClient(base_url=gateway.url, timeout=10)
    refused = await fresh.post("/console/login", data={"username": "li", "password": PASSWORD})
    assert refused.status_code == 403
    assert (await post_form(clerk, page, f"{page}/claim")).status_code == 303


async def test_lockout_after_five_failures_says_nothing_about_the_user(gateway: Gateway) -> None:
    messages = set()
    for _ in range(5):
        _, wrong = await sign_in(gateway, "li", "not the password")
        assert wrong.status_code == 401
        messages.add(wrong.text.split('data-testid="login-error">')[1].split("<")[0])
    _, locked = await sign_in(gateway, "li", PASSWORD)
    assert locked.status_code == 401
    _, nobody = await sign_in(gateway, "nobody-here", "whatever")
    assert nobody.status_code == 401
    messages.add(locked.text.split('data-testid="login-error">')[1].split("<")[0])
    messages.add(nobody.text.split('data-testid="login-error">')[1].split("<")[0])
    assert len(messages) == 1  # one answer for all: wrong, locked, unknown
    # Another name is not locked, and the lock ends after 15 minutes.
    _, other = await sign_in(gateway, "zhao")
    assert other.status_code == 303
    later = gateway.services.now() + timedelta(minutes=16)
    gateway.services.clock = lambda: later
    _, unlocked = await sign_in(gateway, "li")
    assert unlocked.status_code == 303


async def test_clerks_see_their_own_department_only(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT)  # housing_construction
    other = await console(gateway, "zhao")  # transport
    assert (await other.get(f"/console/cases/{number}")).status_code == 403
    assert (await other.get(f"/console/cases/{number}/thread")).status_code == 403
    assert (await other.get("/console/cases/991231-00001")).status_code == 404
    assert (await other.get("/console/queue?department=housing_construction")).status_code == 403
    assert number not in (await other.get("/console/queue")).text
    assert number not in (await other.get("/console/live")).json()["numbers"]
    assert (await other.get("/console/triage")).status_code == 403
    owner = await console(gateway, "li")
    assert number in (await owner.get("/console/live")).json()["numbers"]
    boss = await console(gateway, "boss")
    assert (await boss.get(f"/console/cases/{number}")).status_code == 200


async def test_claims_decide_who_answers(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT)
    page = f"/console/cases/{number}"
    clerk = await console(gateway, "li")
    boss = await console(gateway, "boss")
    unclaimed = await post_form(clerk, page, f"{page}/reply", text="已安排维修")
    assert unclaimed.status_code == 409
    assert (await post_form(clerk, page, f"{page}/claim")).status_code == 303
    taken = await post_form(boss, page, f"{page}/claim")
    assert taken.status_code == 409 and "li" in taken.text
    assert (await post_form(boss, page, f"{page}/reply", text="我来回")).status_code == 409
    # The REST API respects the console's claim too.
    api = await gateway.staff("boss")
    by_api = await api.post(f"/api/v1/cases/{number}/replies", json={"text": "x"})
    assert by_api.status_code == 409
    answered = await post_form(clerk, page, f"{page}/reply", text="已安排维修，今晚恢复照明。")
    assert answered.status_code == 303
    shown = await clerk.get(page)
    assert "今晚恢复照明" in shown.text and 'data-status="answered"' in shown.text
    assert "staff:li" in shown.text  # the history says who
    closed = await post_form(clerk, page, f"{page}/act", action="close", reason="已修复")
    assert closed.status_code == 303
    # Closing ends the claim; the rating request went out on the citizen's channel.
    detail = (await api.get(f"/api/v1/cases/{number}")).json()
    assert detail["status"] == "closed"
    assert sum(m["direction"] == "outbound" for m in detail["messages"]) == 3
    assert (await post_form(boss, page, f"{page}/claim")).status_code == 303


async def test_clerks_never_see_phone_numbers_and_text_is_escaped(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT + " <script>alert(1)</script>")
    clerk = await console(gateway, "li")
    page = (await clerk.get(f"/console/cases/{number}")).text
    assert "13912345678" not in page and "&lt;phone&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "13912345678" not in (await clerk.get("/console/queue")).text
    assert (await clerk.get("/console/queue?q=13912345678")).status_code == 403
    assert (await clerk.get("/console/queue?q=路灯")).status_code == 200
    boss = await console(gateway, "boss")
    assert "13912345678" in (await boss.get(f"/console/cases/{number}")).text
    found = await boss.get("/console/queue?q=139 1234 5678")
    assert found.status_code == 200 and number in found.text
    assert number in (await boss.get(f"/console/queue?q={number[:9]}")).text


async def test_forward_then_the_new_department_owns_it(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT)
    page = f"/console/cases/{number}"
    clerk = await console(gateway, "li")
    await post_form(clerk, page, f"{page}/claim")
    no_reason = await post_form(
        clerk, page, f"{page}/act", action="forward", department="transport", reason=""
    )
    assert no_reason.status_code == 422
    forwarded = await post_form(
        clerk, page, f"{page}/act", action="forward", department="transport", reason="属交通"
    )
    assert forwarded.status_code == 303
    assert (await clerk.get(page)).status_code == 403
    other = await console(gateway, "zhao")
    shown = (await other.get(page)).text
    assert 'data-status="forwarded"' in shown and "属交通" in shown


async def test_triage_placement_becomes_training_data(gateway: Gateway) -> None:
    services = gateway.services
    now = services.now()
    async with services.uow() as uow:
        citizen = await uow.citizens.get_or_create(
            ContactHandle(Channel.WEBCHAT, "conv-triage"), at=now, language=Language.ZH
        )
        assert citizen.id is not None
        number = await uow.cases.next_number(now.date())
        await uow.cases.add(
            Case(
                number=number,
                citizen_id=citizen.id,
                channel=Channel.WEBCHAT,
                reply_to="conv-triage",
                summary="广场上每晚跳舞的音响太吵，电话13912345678",
                language=Language.ZH,
                created_at=now,
                accept_due_at=now + timedelta(hours=24),
                complete_due_at=now + timedelta(days=10),
            )
        )
        await uow.commit()
    boss = await console(gateway, "boss")
    assert number in (await boss.get("/console/triage")).text
    page = f"/console/cases/{number}"
    await post_form(boss, page, f"{page}/claim")
    placed = await post_form(boss, page, f"{page}/place", category="environment")
    assert placed.status_code == 303
    shown = (await boss.get(page)).text
    assert 'data-status="assigned"' in shown
    async with services.uow() as uow:
        case = await uow.cases.by_number(number)
    assert (case.category, case.department, case.status) == (
        "environment",
        "ecology_environment",
        CaseStatus.ASSIGNED,
    )
    examples = load_examples(corrections_path(services.settings.var_dir))
    assert [(e.text, e.intent) for e in examples] == [
        ("广场上每晚跳舞的音响太吵，电话<phone>", "environment")
    ]


async def test_take_next_claims_the_earliest_case(gateway: Gateway) -> None:
    first = await file_complaint(gateway, STREETLIGHT)
    clerk = await console(gateway, "li")
    taken = await post_form(clerk, "/console/queue", "/console/queue/next")
    assert taken.status_code == 303 and taken.headers["location"] == f"/console/cases/{first}"
    boss = await console(gateway, "boss")
    nothing = await post_form(
        boss, "/console/queue", "/console/queue/next", department="housing_construction"
    )
    assert nothing.status_code == 303 and "empty=1" in nothing.headers["location"]


async def test_canned_replies_are_edited_by_admins_only(gateway: Gateway) -> None:
    from civicline.domain.accounts import Role
    from civicline.gateway.users import create_user

    services = gateway.services
    await create_user(
        services.uow(), services.taxonomy, "root", PASSWORD, Role.ADMIN, None, now=services.now()
    )
    clerk = await console(gateway, "li")
    refused = await post_form(
        clerk, "/console/canned", "/console/canned", title="x", text="y", language="zh"
    )
    assert refused.status_code == 403
    admin = await console(gateway, "root")
    added = await post_form(
        admin,
        "/console/canned",
        "/console/canned",
        title="路灯维修",
        text="已通知路灯所维修。",
        language="zh",
        category="urban_rural_construction",
    )
    assert added.status_code == 303
    assert "已通知路灯所维修" in (await clerk.get("/console/canned")).text
    number = await file_complaint(gateway, STREETLIGHT)
    page = f"/console/cases/{number}"
    await post_form(clerk, page, f"{page}/claim")
    html = (await clerk.get(page)).text
    assert "路灯维修" in html
    before = html.split('data-text="已通知路灯所维修。">')[0]
    canned_id = before.rsplit('value="', 1)[1].split('"')[0]
    sent = await clerk.post(
        f"{page}/reply", data={"csrf": csrf_of(html), "canned": canned_id, "text": ""}
    )
    assert sent.status_code == 303
    assert "已通知路灯所维修" in (await clerk.get(page)).text


async def test_dashboard_and_csv(gateway: Gateway) -> None:
    await file_complaint(gateway, STREETLIGHT)
    boss = await console(gateway, "boss")
    page = await boss.get("/console/dashboard")
    assert page.status_code == 200
    assert "<svg" in page.text and 'data-testid="backlog">1<' in page.text
    # Satisfaction as the rates API's: 满意 and 基本满意 apart, over answered return visits.
    assert 'data-testid="satisfaction-parts">满意 0 + 基本满意 0 / 回访答复 0<' in page.text
    assert "回访答复“满意”和“基本满意”的案件 ÷ 回访得到答复的案件" in page.text
    exported = await boss.get("/console/dashboard.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rates_part = exported.text.split("backlog_group,")[0]
    rows = list(csv.DictReader(io.StringIO(rates_part)))
    housing = next(r for r in rows if r["group"] == "department")
    assert (housing["key"], housing["cases"], housing["accepted_in_time"]) == (
        "housing_construction",
        "1",
        "1",
    )
    assert housing["timely_acceptance_rate"] == "1.0000" and housing["satisfaction_rate"] == ""
    assert len([r for r in rows if r["group"] == "total"]) == 1 + 30  # the period, each day
    assert "backlog_group,key,backlog,overdue\r\ndepartment,housing_construction,1,0" in (
        exported.text
    )


async def test_return_merge_and_reopen(gateway: Gateway) -> None:
    first = await file_complaint(gateway, STREETLIGHT)
    duplicate = await file_complaint(gateway, "光明路21号门口的路灯不亮了，晚上看不见路")
    misrouted = await file_complaint(gateway, "和平路小区电梯坏了三天，物业不管")
    clerk = await console(gateway, "li")
    boss = await console(gateway, "boss")

    page = f"/console/cases/{duplicate}"
    await post_form(clerk, page, f"{page}/claim")
    merged = await post_form(clerk, page, f"{page}/act", action="merge", into=first, reason="重复")
    assert merged.status_code == 303
    shown = (await clerk.get(page)).text
    assert 'data-status="merged"' in shown and f'href="/console/cases/{first}"' in shown

    page = f"/console/cases/{misrouted}"
    await post_form(clerk, page, f"{page}/claim")
    returned = await post_form(clerk, page, f"{page}/act", action="return", reason="非本单位")
    assert returned.status_code == 303
    assert number_in_queue(await boss.get("/console/triage"), misrouted)
    assert (await clerk.get(page)).status_code == 403  # back to triage: no department now

    page = f"/console/cases/{first}"
    await post_form(clerk, page, f"{page}/claim")
    await post_form(clerk, page, f"{page}/reply", text="已修复")
    await post_form(clerk, page, f"{page}/act", action="close", reason="已修复")
    await post_form(boss, page, f"{page}/claim")
    reopened = await post_form(boss, page, f"{page}/act", action="reopen", reason="市民反映未修好")
    assert reopened.status_code == 303
    history = (await boss.get(page)).text
    assert 'data-status="reopened"' in history and "staff:boss" in history
    illegal = await post_form(boss, page, f"{page}/act", action="close", reason="x")
    assert illegal.status_code == 409


def number_in_queue(page: httpx.Response, number: str) -> bool:
    return f'data-number="{number}"' in page.text


async def test_attachments_link_through_the_gateway(gateway: Gateway) -> None:
    number = await file_complaint(gateway, STREETLIGHT)
    services = gateway.services
    async with services.uow() as uow:
        case = await uow.cases.by_number(number)
        [message] = await uow.inbox.for_case(case.id or 0)
    from sqlalchemy import update

    from civicline.storage.tables import InboundMessageRow

    async with services.engine.begin() as conn:
        await conn.execute(
            update(InboundMessageRow)
            .where(InboundMessageRow.id == message.id)
            .values(
                channel="telegram",
                attachments=["photo:AgACAgIAAx", "https://media.example/1.jpg", "voice:XYZ"],
            )
        )
    boss = await console(gateway, "boss")
    page = (await boss.get(f"/console/cases/{number}")).text
    assert f'href="/console/cases/{number}/attachments/{message.id}/0"' in page
    assert 'href="https://media.example/1.jpg" rel="noopener noreferrer"' in page
    assert "<code>voice:XYZ</code>" in page
    # Telegram is off here: the file cannot be fetched, and the answer says so.
    fetched = await boss.get(f"/console/cases/{number}/attachments/{message.id}/0")
    assert fetched.status_code in (404, 503)
    other = await console(gateway, "zhao")
    assert (
        await other.get(f"/console/cases/{number}/attachments/{message.id}/0")
    ).status_code == 403
