"""The registry clerk's paper-letter page in the console over HTTP: suggest, file, the case on
channel ``letter`` with deadlines from the received date; bad input refused with what was
typed kept; department clerks refused; a reply by post recorded on the case."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import httpx

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from tests.e2e.test_console_hotline import form_of
from tests.support.console import console, csrf_of
from tests.support.gateway import PASSWORD, Gateway

SUBJECT = "公交车司机开车打电话"
BODY = "我每天坐12路公交车上班，司机经常一边开车一边打电话，很危险，请交通部门管一管。"
PDF = b"%PDF-1.4\n%%EOF\n"
NUMBER = re.compile(r'data-testid="filed-number">(\d{6}-\d{5,})<')


async def clerk(gateway: Gateway) -> httpx.AsyncClient:
    services = gateway.services
    await create_user(
        services.uow(), services.taxonomy, "sun", PASSWORD, Role.OPERATOR, None,
        now=services.now(),
    )  # fmt: skip
    return await console(gateway, "sun")


async def blank(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/console/letters/new")
    assert page.status_code == 200, page.text
    values = form_of(page.text).values
    values["csrf"] = csrf_of(page.text)
    return values


async def test_a_clerk_registers_a_paper_letter_and_records_the_posted_reply(
    gateway: Gateway,
) -> None:
    sun = await clerk(gateway)
    assert 'href="/console/letters/new"' in (await sun.get("/console/queue")).text
    form = await blank(sun)
    assert form["registration_id"].startswith("paper-") and form["signatories"] == "1"
    city = gateway.services.settings.timezone
    today = gateway.services.now().astimezone(city).date()
    assert form["received_date"] == today.isoformat()
    received = today - timedelta(days=3)
    form |= {
        "sender_name": "张三等",
        "address": "幸福路88号",
        "postmark_date": (received - timedelta(days=2)).isoformat(),
        "received_date": received.isoformat(),
        "signatories": "12",
        "subject": SUBJECT,
        "body": BODY,
    }
    suggested = await sun.post("/console/letters/suggest", data=form)
    assert suggested.status_code == 200, suggested.text
    assert 'data-testid="suggestion" data-category="transport"' in suggested.text
    shown = form_of(suggested.text).values
    assert shown["category"] == "transport" and shown["body"] == BODY
    assert shown["sender_name"] == "张三等" and shown["signatories"] == "12"

    # Bad input is refused, with everything typed kept and the field named.
    refusals = [
        ({"received_date": (today + timedelta(days=1)).isoformat()}, None, 422, "received_date"),
        ({"sender_name": ""}, None, 422, "sender_name"),
        ({}, ("scan.png", b"MZ\x90\x00 not a picture", "image/png"), 415, "files"),
        ({}, ("scan.pdf", b"%PDF-" + b"\0" * 10_000_001, "application/pdf"), 413, "files"),
    ]
    for change, upload, status, field in refusals:
        files = [("files", upload)] if upload else None
        refused = await sun.post("/console/letters/new", data=shown | change, files=files)
        assert refused.status_code == status, (change, refused.text)
        assert f'data-testid="error-{field}"' in refused.text
        kept = form_of(refused.text).values
        assert kept["body"] == BODY and kept["subject"] == SUBJECT, field
        assert kept["registration_id"] == form["registration_id"]
    boss = await gateway.staff("boss")
    assert (await boss.get("/api/v1/cases")).json() == []

    filed = await sun.post(
        "/console/letters/new",
        data=shown,
        files=[("files", ("扫描件.pdf", PDF, "application/pdf"))],
    )
    assert filed.status_code == 201, filed.text
    found = NUMBER.search(filed.text)
    assert found, filed.text
    number = found.group(1)
    again = await sun.post("/console/letters/new", data=shown)
    assert again.status_code == 200 and f">{number}<" in again.text  # one letter, one case

    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert (case["channel"], case["category"], case["collective"]) == ("letter", "transport", True)
    start = datetime.combine(received, time(0), tzinfo=city)
    assert datetime.fromisoformat(case["accept_due_at"]) == start + timedelta(days=15)
    letter = next(m for m in case["messages"] if m["direction"] == "inbound")
    assert letter["attachments"][0].startswith("file:")

    # A reply to a letter without phone or e-mail goes by post: the clerk records it.
    replied = await boss.post(
        f"/api/v1/cases/{number}/replies", json={"text": "已转交通部门办理。"}
    )
    assert replied.status_code == 202, replied.text
    page = await sun.get(f"/console/cases/{number}")
    assert 'data-testid="post-form"' in page.text
    outbound_id = re.search(r'name="outbound_id" value="(\d+)"', page.text)
    assert outbound_id
    post = {"csrf": csrf_of(page.text), "outbound_id": outbound_id.group(1)}
    future = await sun.post(
        f"/console/cases/{number}/post",
        data=post | {"sent_on": (today + timedelta(days=1)).isoformat(), "tracking_number": "X"},
    )
    assert future.status_code == 422 and "action-error" in future.text
    recorded = await sun.post(
        f"/console/cases/{number}/post",
        data=post | {"sent_on": today.isoformat(), "tracking_number": "XA123456789CN"},
    )
    assert recorded.status_code == 303, recorded.text
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert any(e["data"].get("posted") == today.isoformat() for e in case["history"])
    page = await sun.get(f"/console/cases/{number}")
    assert "XA123456789CN" in page.text and 'data-testid="post-form"' not in page.text
    twice = await sun.post(
        f"/console/cases/{number}/post",
        data=post | {"sent_on": today.isoformat(), "tracking_number": "XA123456789CN"},
    )
    assert twice.status_code == 422  # already sent
    for client in (sun, boss):
        await client.aclose()


async def test_department_clerks_may_not_register_letters(gateway: Gateway) -> None:
    li = await console(gateway, "li")
    assert 'href="/console/letters/new"' not in (await li.get("/console/queue")).text
    assert (await li.get("/console/letters/new")).status_code == 403
    page = await li.get("/console/queue")
    refused = await li.post(
        "/console/letters/new", data={"csrf": csrf_of(page.text), "subject": SUBJECT}
    )
    assert refused.status_code == 403
    await li.aclose()
