"""Keyboard and label checks: axe-core (npm, injected into the page) on the console's main
pages — no serious or critical violation of WCAG 2.1 A/AA or axe's best practices — and a
sign-in and a milestone done with the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from cellpath.scenarios import start
from tests.console.conftest import PASSWORD, SignIn, Stack
from tests.support import axe_violations, console_journey

pytestmark = pytest.mark.e2e

violations = axe_violations


async def test_the_main_pages_have_no_serious_accessibility_violations(
    browser: Any, sign_in: SignIn, stack: Stack
) -> None:
    case_id = "AXE-2026-0001"
    await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    found: dict[str, list[dict[str, Any]]] = {}
    anonymous = await (await browser.new_context(bypass_csp=True)).new_page()
    await anonymous.goto(stack.url + "/login")
    found["login"] = await violations(anonymous)
    page = await sign_in("coord-ui", bypass_csp=True)
    found["worklist"] = await violations(page)
    await page.goto(f"{stack.url}/cases/{case_id}")
    # Every milestone form open, so its fields are checked too.
    for summary in await page.locator("details.milestone summary").all():
        await summary.click()
    found["case"] = await violations(page)
    await page.goto(f"{stack.url}/intake")
    found["intake"] = await violations(page)
    await page.goto(f"{stack.url}/board?view=month")
    found["board"] = await violations(page)
    await page.goto(f"{stack.url}/search?q=AXE")
    found["search"] = await violations(page)
    await page.goto(f"{stack.url}/sites/site-a/slots")
    found["slots"] = await violations(page)
    await page.goto(f"{stack.url}/measures")
    found["measures"] = await violations(page)
    await page.goto(f"{stack.url}/me")
    found["me"] = await violations(page)
    # The same pages in Chinese: the header's switch, then the worklist and the case page
    # (every form open); the sign-in page for a browser that asks for Chinese.
    await page.goto(f"{stack.url}/")
    await page.locator("#lang-switch").select_option("zh_Hans")
    await page.locator("form.language button").click()
    await page.wait_for_selector("html[lang=zh-Hans]")
    found["worklist-zh"] = await violations(page)
    await page.goto(f"{stack.url}/cases/{case_id}")
    for summary in await page.locator("details.milestone summary").all():
        await summary.click()
    found["case-zh"] = await violations(page)
    chinese = await (await browser.new_context(bypass_csp=True, locale="zh-CN")).new_page()
    await chinese.goto(stack.url + "/login")
    await chinese.wait_for_selector("html[lang=zh-Hans]")
    found["login-zh"] = await violations(chinese)
    await chinese.context.close()
    admin = await sign_in("admin-ui", bypass_csp=True)
    await admin.goto(f"{stack.url}/staff")
    found["staff"] = await violations(admin)
    assert found == {
        "login": [],
        "worklist": [],
        "case": [],
        "intake": [],
        "board": [],
        "search": [],
        "slots": [],
        "measures": [],
        "me": [],
        "staff": [],
        "worklist-zh": [],
        "case-zh": [],
        "login-zh": [],
    }
    await anonymous.context.close()


async def test_signing_in_and_recording_a_milestone_by_keyboard_alone(
    browser: Any, stack: Stack
) -> None:
    case_id = "AXE-2026-0002"
    await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{stack.url}/login")
    # The name field has the focus (waited for: keys typed before the page applied autofocus
    # were lost on a loaded machine); Tab to the password, Enter signs in.
    await expect(page.get_by_label("Name")).to_be_focused()
    await page.keyboard.type("coord-ui")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{stack.url}/")
    await page.goto(f"{stack.url}/cases/{case_id}")
    # A milestone's form opens from the keyboard, its fields follow in order, Enter sends it.
    await page.locator("#milestone-record_received summary").focus()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")  # the record type
    assert await page.evaluate("document.activeElement.name") == "data.record_type"
    await page.keyboard.type("labs")
    # On through its optional note field and "when it happened" (a stop per part) to the
    # milestone's note.
    stops = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        stops.append(await page.evaluate("document.activeElement.name"))
        if stops[-1] == "note":
            break
    assert stops[-1] == "note" and set(stops) <= {"data.note", "occurred_at", "note"}, stops
    await page.keyboard.type("sent by the family")
    await page.keyboard.press("Enter")
    await page.locator("#flash .done").wait_for()
    assert "record received recorded" in await page.locator("#flash").inner_text()
    await context.close()
