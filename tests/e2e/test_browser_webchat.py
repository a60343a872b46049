"""The citizen page in a real headless Chromium (Debian's), against a real gateway."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.support.gateway import Gateway
from tests.support.polling import eventually
from tests.support.services import REQUIRE_SERVICES

CHROMIUM = os.environ.get(
    "CIVICLINE_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium"
)
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# Chromium's own background traffic is refused on a closed network: switch it off.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        await browser.close()


async def _send(page: Page, text: str) -> None:
    await page.get_by_test_id("message-input").fill(text)
    await page.get_by_test_id("send-button").click()


async def test_citizen_files_a_complaint_and_sees_the_answer(
    gateway: Gateway, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 420, "height": 800})
    await page.goto(gateway.url + "/")
    await _send(
        page, "幸福路88号小区门口的路灯坏了一个星期，晚上一片漆黑 <script>window.pwned=1</script>"
    )

    case_badge = page.get_by_test_id("case-number").first
    await expect(case_badge).to_be_visible(timeout=15_000)
    number = (await case_badge.inner_text()).split()[-1]
    assert await page.evaluate("window.pwned === undefined")
    mine = page.locator('[data-testid="message"][data-direction="inbound"]').first
    await expect(mine).to_contain_text("<script>window.pwned=1</script>")

    clerk = await gateway.staff("li")
    reply = await clerk.post(
        f"/api/v1/cases/{number}/replies", json={"text": "已安排维修，今晚恢复照明。"}
    )
    assert reply.status_code == 202, reply.text
    answer = page.locator(
        '[data-testid="message"][data-direction="outbound"]', has_text="今晚恢复照明"
    )
    await expect(answer).to_be_visible(timeout=15_000)

    async def delivered() -> bool:
        detail = (await clerk.get(f"/api/v1/cases/{number}")).json()
        return any(
            m["status"] == "delivered" and m["author"] == "staff:li" for m in detail["messages"]
        )

    await eventually(delivered)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "webchat-zh.png"), full_page=True)


async def test_english_interface(gateway: Gateway, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 420, "height": 800})
    await page.goto(gateway.url + "/")
    await page.get_by_test_id("lang-toggle").click()
    assert await page.evaluate("document.documentElement.lang") == "en"
    await _send(page, "The streetlight outside 12 Harbour Road has been broken for a week")
    await expect(page.get_by_test_id("case-number").first).to_be_visible(timeout=15_000)
    await expect(page.locator('[data-direction="outbound"]').first).to_contain_text("case")
    await page.screenshot(path=str(SCREENSHOTS / "webchat-en.png"), full_page=True)
