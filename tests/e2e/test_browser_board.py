"""The public board in a real headless Chromium (Debian's), on a phone-sized screen: with
JavaScript off the list, a search, a case's page, the English switch and the unit rates; with
it on, a live Q&A session's answers arriving without a reload. Screenshots go to
var/screenshots/ (board*.png)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e import test_browser_webchat as webchat
from tests.e2e.test_board_flow import COMPLAINT, NAME, PHONE, REPLY, _answer_and_close, _complain
from tests.e2e.test_board_sessions import ANSWER, QUESTION, session_body
from tests.support.gateway import Gateway

browser = webchat.browser  # Debian's Chromium, as the web chat's browser test drives it
SCREENSHOTS = webchat.SCREENSHOTS


async def test_the_public_reads_the_board_on_a_phone(gateway: Gateway, browser: Browser) -> None:
    _, number = await _complain(gateway, COMPLAINT, "公开")
    _, other = await _complain(gateway, "和平路的路灯晚上不亮，已经三天了，行人很不方便", "公开")
    for case in (number, other):
        await _answer_and_close(gateway, case)

    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = await context.new_page()
    await page.goto(gateway.url + "/board")
    items = page.get_by_test_id("board-item")
    await expect(items).to_have_count(2)
    body = await page.content()
    assert NAME not in body and PHONE not in body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "board.png"), full_page=True)

    await page.get_by_label("关键词").fill("幸福路")
    await page.get_by_role("button", name="搜索").click()
    await expect(items).to_have_count(1)
    await items.first.get_by_role("link").click()
    await expect(page.get_by_test_id("case-answer")).to_contain_text(REPLY)
    await expect(page.get_by_test_id("case-text")).to_contain_text("我叫某某")
    await page.screenshot(path=str(SCREENSHOTS / "board-case.png"), full_page=True)

    await page.get_by_test_id("lang-en").click()
    await expect(page.get_by_role("heading", level=3).first).to_have_text("The matter")

    await page.get_by_role("link", name="Unit rates").click()
    await expect(page.get_by_test_id("rates-row").first).to_be_visible()
    await page.get_by_test_id("lang-zh").click()
    await expect(page.get_by_role("heading", level=2).first).to_contain_text("各单位办理情况")
    await page.screenshot(path=str(SCREENSHOTS / "board-rates.png"), full_page=True)
    await context.close()


async def test_a_live_session_page_shows_answers_without_a_reload(
    gateway: Gateway, browser: Browser
) -> None:
    boss = await gateway.staff("boss")
    session = (await boss.post("/api/v1/board/sessions", json=session_body())).json()
    public_id = session["public_id"]
    await boss.post(f"/api/v1/board/sessions/{public_id}/status", json={"status": "live"})
    answers = f"/api/v1/board/sessions/{public_id}/answers"
    first = await boss.post(answers, json={"question": "路灯多久修好？", "answer": "三天内。"})
    assert first.status_code == 201

    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(gateway.url + session["url"])
    shown = page.get_by_test_id("qa-answer")
    await expect(shown).to_have_count(1)
    page.on("framenavigated", lambda frame: reloads.append(frame.url))
    reloads: list[str] = []
    await page.wait_for_timeout(500)  # the page's EventSource connects
    second = await boss.post(answers, json={"question": QUESTION, "answer": ANSWER})
    assert second.status_code == 201
    await expect(shown).to_have_count(2)
    await expect(shown.nth(1)).to_contain_text(ANSWER)
    assert "13812345678" not in await page.content()
    assert reloads == []
    await page.screenshot(path=str(SCREENSHOTS / "board-session.png"), full_page=True)
    await context.close()
