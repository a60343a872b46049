"""The reception's register page and the public rota page in a real headless Chromium
(Debian's): a reception clerk registers a batch of three (the leader prefilled from the rota,
the NLU's suggestion, the visitors' open cases), a supervisor names another leader for a day;
a citizen reads the next four weeks and books a day with JavaScript off, in Chinese and in
English. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from civicline.domain.accounts import Role
from civicline.gateway.users import create_user
from tests.e2e import test_browser_webchat as webchat
from tests.e2e.test_browser_console import _sign_in
from tests.support.gateway import PASSWORD, Gateway

browser = webchat.browser
SCREENSHOTS = webchat.SCREENSHOTS
MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
VISITORS = (
    "张三 341800199003070017 13900000001\n李四 341881198501010010 13900000002\n王五 13900000003"
)
MATTER = "小区拆迁补偿款一直没有发放，三户一起来反映 <script>window.pwned=1</script>"


async def test_a_clerk_registers_a_batch_and_a_supervisor_edits_the_rota(
    gateway: Gateway, browser: Browser
) -> None:
    services = gateway.services
    services.clock = lambda: MONDAY
    await create_user(
        services.uow(), services.taxonomy, "wang", PASSWORD, Role.OPERATOR, None, now=MONDAY
    )
    on_duty = (await services.reception.rota(MONDAY.date(), MONDAY.date())).leader_on(
        "341800", MONDAY.date()
    )
    assert on_duty
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await _sign_in(context, gateway, "wang")
    await page.get_by_test_id("nav-visits").click()
    await expect(page).to_have_url(gateway.url + "/console/visits")
    await expect(page.get_by_test_id("visit-leader-input")).to_have_value(on_duty)
    await page.get_by_test_id("visit-visitors").fill(VISITORS)
    await page.get_by_test_id("visit-matter").fill(MATTER)
    await page.get_by_test_id("visit-staff").fill("住建局 王科长")
    await page.get_by_test_id("visit-suggest").click()
    await expect(page.get_by_test_id("suggestion")).to_be_visible()
    await expect(page.get_by_test_id("visit-found")).to_be_visible()
    await expect(page.get_by_test_id("visit-matter")).to_have_value(re.compile("<script>"))
    assert await page.evaluate("window.pwned === undefined")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console-visits.png"), full_page=True)
    await page.get_by_test_id("visit-register").click()
    await expect(page.get_by_test_id("visit-registered")).to_be_visible()
    await expect(page.get_by_test_id("visit-leader")).to_have_text(on_duty)
    await expect(page.get_by_test_id("register-row")).to_have_count(1)
    number = await page.get_by_test_id("visit-case").inner_text()
    assert re.fullmatch(r"\d{6}-\d{5,}", number)
    boss = await gateway.staff("boss")
    case = (await boss.get(f"/api/v1/cases/{number}")).json()
    assert case["channel"] == "visit" and case["reporters"] == 3

    # A supervisor names another leader for Tuesday; the clerk sees no rota form.
    assert await page.get_by_test_id("rota-save").count() == 0
    sup = await _sign_in(await browser.new_context(), gateway, "boss")
    await sup.goto(gateway.url + "/console/visits")
    row = sup.locator('[data-testid=rota-row][data-day="2026-12-08"][data-unit="341800"]')
    await row.get_by_test_id("rota-leader").fill("副市长 赵明")
    await row.get_by_test_id("rota-save").click()
    row = sup.locator('[data-testid=rota-row][data-day="2026-12-08"][data-unit="341800"]')
    await expect(row.get_by_test_id("rota-leader")).to_have_value("副市长 赵明")
    await context.close()


async def test_the_public_reads_the_rota_and_books_without_javascript(
    gateway: Gateway, browser: Browser
) -> None:
    services = gateway.services
    services.clock = lambda: MONDAY
    rota = await services.reception.rota(MONDAY.date(), date(2027, 1, 3))
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = await context.new_page()
    await page.goto(gateway.url + "/visits")
    rows = page.get_by_test_id("reception")
    await expect(rows).to_have_count(len(rota.receptions(MONDAY.date(), date(2027, 1, 3))))
    tuesday = page.locator('[data-testid=reception][data-day="2026-12-08"][data-unit="341800"]')
    await expect(tuesday).to_contain_text(rota.leader_on("341800", date(2026, 12, 8)) or "?")
    await expect(page.locator('[data-day="2026-12-13"]')).to_have_count(0)  # a Sunday
    await expect(page.locator('[data-day="2027-01-01"]')).to_have_count(0)  # 元旦
    form = page.get_by_test_id("book-form")
    await form.locator("select[name=unit]").select_option("341881001")
    await form.get_by_label("日期").fill("2026-12-14")
    await form.get_by_label("反映事项（简要）").fill("宅基地纠纷")
    await form.get_by_label("手机号码").fill("13900000009")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "visits-public.png"), full_page=True)
    await page.get_by_role("button", name="预约", exact=True).click()
    await expect(page.get_by_test_id("booked")).to_be_visible()
    assert re.fullmatch(r"[0-9A-Z]{8}", await page.get_by_test_id("booking-number").inner_text())
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="The next four weeks")).to_be_visible()
    await expect(page.get_by_role("button", name="Book")).to_be_visible()
    await context.close()
