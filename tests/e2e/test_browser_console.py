"""The staff console in a real headless Chromium (Debian's), against a real gateway and worker.

A citizen writes on the web chat; a clerk signs in, takes the first case of the queue, answers
it with a canned reply and watches it become delivered (the citizen's page acknowledges it);
forwards another, closes the first. A clerk of another department cannot open it; a complaint
with <script> shows as text; new and urgent cases appear without a reload. A hotline operator
files a call through the form, corrects the suggested category and reads the number out.
Screenshots of the queue, a case, the dashboard and the hotline form go to var/screenshots/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from civicline.domain.accounts import Role
from civicline.domain.claims import CannedReply
from civicline.domain.messages import Language
from civicline.gateway.users import create_user
from tests.e2e.test_browser_webchat import ARGS, CHROMIUM, HAVE_CHROMIUM, SCREENSHOTS
from tests.support.gateway import PASSWORD, Gateway, serving
from tests.support.places import Places
from tests.support.services import REQUIRE_SERVICES

STREETLIGHT = "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑，老人出门很危险"
SCRIPTED = "和平路小区电梯坏了三天 <script>window.pwned=1</script> 物业不管"
GAS = "幸福路88号小区燃气泄漏，有很大的煤气味，路灯也不亮"
TIMEOUT = 20_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless; Playwright downloads no browser of its own."""
    if not HAVE_CHROMIUM:
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def live_gateway(places: Places) -> AsyncIterator[Gateway]:
    """The gateway with the console polling every second."""
    async with places.services(console_poll_seconds=1) as services, serving(services) as live:
        yield live


async def _citizen_page(browser: Browser, gateway: Gateway) -> Page:
    page = await browser.new_page(viewport={"width": 420, "height": 800})
    await page.goto(gateway.url + "/")
    return page


async def _say(page: Page, text: str) -> str:
    """Send a complaint from the citizen's page; the case number its message is filed under
    (the badge on the citizen's own message: other messages, such as a closed case's return
    visit, may arrive meanwhile with badges of their own)."""
    await page.get_by_test_id("message-input").fill(text)
    await page.get_by_test_id("send-button").click()
    sent = page.locator('[data-direction="inbound"]', has_text=text).last
    badge = sent.get_by_test_id("case-number")
    await expect(badge).to_be_visible(timeout=TIMEOUT)
    return (await badge.inner_text()).split()[-1]


async def _sign_in(context: BrowserContext, gateway: Gateway, username: str) -> Page:
    page = await context.new_page()
    await page.goto(gateway.url + "/console/queue")
    await expect(page).to_have_url(gateway.url + "/console/login?next=%2Fconsole%2Fqueue")
    await page.get_by_test_id("username").fill(username)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("sign-in").click()
    await expect(page).to_have_url(gateway.url + "/console/queue")
    return page


async def test_a_clerk_answers_forwards_and_closes_in_the_console(
    live_gateway: Gateway,
    browser: Browser,
) -> None:
    gateway = live_gateway
    services = gateway.services
    async with services.uow() as uow:
        await uow.canned_replies.save(
            CannedReply(
                title="路灯维修",
                text="您好，已通知路灯管理所维修，今晚恢复照明。",
                language=Language.ZH,
                updated_at=services.now(),
                updated_by="staff:admin",
                category="urban_rural_construction",
            )
        )
        await uow.commit()
    citizen = await _citizen_page(browser, gateway)
    first = await _say(citizen, STREETLIGHT)
    second = await _say(citizen, SCRIPTED)

    clerk_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    clerk = await _sign_in(clerk_context, gateway, "li")
    rows = clerk.get_by_test_id("queue-row")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_have_attribute("data-number", first)
    await expect(clerk.get_by_test_id("queue")).to_contain_text("<script>window.pwned=1</script>")
    assert await clerk.evaluate("window.pwned === undefined")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await clerk.screenshot(path=str(SCREENSHOTS / "console-queue.png"), full_page=True)

    # Take the first case, answer it with a canned reply, see it delivered without a reload.
    await clerk.get_by_test_id("take-next").click()
    await expect(clerk.get_by_test_id("case-number")).to_have_text(first)
    await expect(clerk.get_by_test_id("claim-mine")).to_be_visible()
    await clerk.get_by_test_id("canned").select_option(label="[zh] 路灯维修")
    await expect(clerk.get_by_test_id("reply-text")).to_have_value(
        "您好，已通知路灯管理所维修，今晚恢复照明。"
    )
    await clerk.get_by_test_id("send-reply").click()
    await expect(clerk.get_by_test_id("case-status")).to_have_attribute("data-status", "answered")
    answer = clerk.locator(
        '[data-testid="thread-message"][data-direction="outbound"]', has_text="今晚恢复照明"
    )
    await expect(answer).to_have_attribute("data-status", "delivered", timeout=TIMEOUT)
    await expect(answer.get_by_test_id("delivery")).to_have_text("已送达")
    await expect(
        citizen.locator('[data-direction="outbound"]', has_text="今晚恢复照明")
    ).to_be_visible()
    await clerk.screenshot(path=str(SCREENSHOTS / "console-case.png"), full_page=True)

    # Close it with a resolution summary; the history says who did what.
    await clerk.get_by_test_id("close-reason").fill("路灯已更换，恢复照明")
    await clerk.get_by_test_id("close").click()
    await expect(clerk.get_by_test_id("case-status")).to_have_attribute("data-status", "closed")
    await expect(clerk.get_by_test_id("history")).to_contain_text("staff:li")
    await expect(clerk.get_by_test_id("history")).to_contain_text("路灯已更换，恢复照明")

    # The complaint with a script tag shows as text; forward it to another department.
    await clerk.goto(f"{gateway.url}/console/cases/{second}")
    inbound = clerk.locator('[data-testid="thread-message"][data-direction="inbound"]').first
    await expect(inbound).to_contain_text("<script>window.pwned=1</script>")
    assert await clerk.evaluate("window.pwned === undefined")
    await clerk.get_by_test_id("claim").click()
    await clerk.get_by_test_id("forward-department").select_option("transport")
    await clerk.get_by_test_id("forward-reason").fill("属公共交通问题")
    await clerk.get_by_test_id("forward").click()
    await expect(clerk.get_by_test_id("error-page")).to_have_attribute("data-status", "403")

    # A clerk of another department cannot open the first case (but now owns the second).
    other = await _sign_in(await browser.new_context(), gateway, "zhao")
    response = await other.goto(f"{gateway.url}/console/cases/{first}")
    assert response is not None and response.status == 403
    await expect(other.get_by_test_id("error-page")).to_be_visible()
    await other.goto(f"{gateway.url}/console/cases/{second}")
    await expect(other.get_by_test_id("case-status")).to_have_attribute("data-status", "forwarded")

    # New cases appear in an open queue without a reload; urgent ones raise the alert.
    boss = await _sign_in(await browser.new_context(), gateway, "boss")
    await expect(boss.get_by_test_id("urgent-alert")).to_be_hidden()
    gas = await _say(citizen, GAS)
    fresh = boss.locator(f'[data-testid="queue-row"][data-number="{gas}"]')
    await expect(fresh).to_have_attribute("data-new", "1", timeout=TIMEOUT)
    await expect(fresh.get_by_test_id("urgent")).to_be_visible()
    await expect(boss.get_by_test_id("urgent-alert")).to_be_visible()
    await boss.screenshot(path=str(SCREENSHOTS / "console-queue-live.png"), full_page=True)

    await boss.get_by_test_id("nav-dashboard").click()
    await expect(boss.get_by_test_id("tiles")).to_be_visible()
    await expect(boss.locator("svg.chart")).to_have_count(3)
    await boss.screenshot(path=str(SCREENSHOTS / "console-dashboard.png"), full_page=True)
    await boss.get_by_test_id("lang-switch").click()
    await expect(boss.get_by_test_id("nav-dashboard")).to_have_text("Dashboard")
    await boss.screenshot(path=str(SCREENSHOTS / "console-dashboard-en.png"), full_page=True)
    print(f"console screenshots: {SCREENSHOTS}")


async def test_sign_in_refusal_and_sign_out(
    gateway: Gateway,
    browser: Browser,
) -> None:
    page = await browser.new_page()
    await page.goto(gateway.url + "/console/login")
    await page.get_by_test_id("username").fill("li")
    await page.get_by_test_id("password").fill("wrong " + uuid.uuid4().hex)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("login-error")).to_be_visible()
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("me")).to_contain_text("li")
    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("sign-in")).to_be_visible()
    await page.goto(gateway.url + "/console/queue")
    await expect(page.get_by_test_id("sign-in")).to_be_visible()


async def test_an_operator_files_a_call_through_the_form(
    gateway: Gateway,
    browser: Browser,
) -> None:
    services = gateway.services
    await create_user(
        services.uow(), services.taxonomy, "wang", PASSWORD, Role.OPERATOR, None, now=services.now()
    )
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await _sign_in(context, gateway, "wang")
    await page.get_by_test_id("nav-hotline").click()
    await expect(page).to_have_url(gateway.url + "/console/hotline")
    await expect(page.get_by_test_id("hotline-call-id")).to_have_value(re.compile(r"^console-"))
    await page.get_by_test_id("hotline-caller").fill("139 1234 5678")
    await page.get_by_test_id("hotline-transcript").fill(
        "话务员：您好，12345热线。\n来电人：公交车司机开车打电话，很危险"
        " <script>window.pwned=1</script>"
    )
    await page.get_by_test_id("hotline-consent").check()
    await page.get_by_test_id("hotline-suggest").click()
    await expect(page.get_by_test_id("suggestion")).to_have_attribute("data-category", "transport")
    await expect(page.get_by_test_id("hotline-category")).to_have_value("transport")
    await expect(page.get_by_test_id("hotline-department")).to_have_value("transport")
    await expect(page.get_by_test_id("hotline-transcript")).to_have_value(re.compile("<script>"))
    assert await page.evaluate("window.pwned === undefined")
    # Correcting the category brings its department along (console.js).
    await page.get_by_test_id("hotline-category").select_option("politics_law")
    await expect(page.get_by_test_id("hotline-department")).to_have_value("public_security")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console-hotline.png"), full_page=True)

    await page.get_by_test_id("hotline-file").click()
    number = page.get_by_test_id("filed-number")
    await expect(number).to_have_text(re.compile(r"^\d{6}-\d{5,}$"))
    await expect(page.get_by_test_id("filed-category")).to_have_text("政法")
    await page.screenshot(path=str(SCREENSHOTS / "console-hotline-filed.png"), full_page=True)
    filed = await number.inner_text()
    await page.get_by_test_id("filed-case-link").click()
    await expect(page.get_by_test_id("case-number")).to_have_text(filed)
    await expect(page.get_by_test_id("case-department")).to_have_text("市公安局")
