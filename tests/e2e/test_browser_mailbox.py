"""The mailbox form and the query page in a real headless Chromium (Debian's), on a phone-sized
screen, with JavaScript off: a citizen writes, gets the number and code, and later reads the
answer."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e import test_browser_webchat as webchat
from tests.support.gateway import Gateway

browser = webchat.browser  # Debian's Chromium, as the web chat's browser test drives it
SCREENSHOTS = webchat.SCREENSHOTS

LETTER = "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑 <script>window.pwned=1</script>"


async def test_a_citizen_writes_to_the_mayor_and_reads_the_answer(
    gateway: Gateway, browser: Browser
) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = await context.new_page()
    await page.goto(gateway.url + "/mailbox")
    await page.get_by_label("写信给").select_option("mayor")
    await page.get_by_label("标题").fill("小区门口路灯坏了")
    await page.get_by_label("来信内容").fill(LETTER)
    await page.get_by_label("姓名").fill("王芳")
    await page.get_by_label("手机号码").fill("13800138000")
    await page.get_by_label("同意公开").check()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "mailbox-form.png"), full_page=True)
    await page.get_by_role("button", name="提交").click()

    number = await page.locator("#letter-number").inner_text()
    code = await page.locator("#query-code").inner_text()
    assert len(code) == 8
    await page.screenshot(path=str(SCREENSHOTS / "mailbox-done.png"), full_page=True)

    boss = await gateway.staff("boss")
    answered = await boss.post(
        f"/api/v1/cases/{number}/replies", json={"text": "已安排维修，今晚恢复照明。"}
    )
    assert answered.status_code == 202

    await page.get_by_role("link", name="查询办理结果").first.click()
    await page.get_by_label("来信编号").fill(number)
    await page.get_by_label("查询码").fill("WRONG234")
    await page.get_by_role("button", name="查询").click()
    await expect(page.get_by_role("alert")).to_contain_text("查询码不正确")
    await page.get_by_label("查询码").fill(code)
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator("#letter-status")).to_have_text("已答复")
    await expect(page.locator(".answer")).to_contain_text("今晚恢复照明")
    await page.screenshot(path=str(SCREENSHOTS / "mailbox-query.png"), full_page=True)

    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("button", name="Check")).to_be_visible()
    await context.close()
