"""Keyboard and label checks with axe-core (npm, injected into the page) on the console's main
pages: no serious or critical violation of WCAG 2.1 A/AA or axe's best practices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from cellpath.scenarios import start
from models.examples import journey_input
from tests.console.conftest import SignIn, Stack
from tests.support import ROOT

pytestmark = pytest.mark.e2e

AXE = ROOT / ".cellpath" / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core from npm")
    # Injected as an inline script: the page's CSP refuses those, so the test's browser
    # contexts bypass it (the product's pages are checked with their CSP everywhere else).
    await page.add_script_tag(content=Path(AXE).read_text())
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                              'best-practice']})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_the_main_pages_have_no_serious_accessibility_violations(
    browser: Any, sign_in: SignIn, stack: Stack
) -> None:
    case_id = "AXE-2026-0001"
    await start(stack.client, journey_input(case_id), stack.settings.task_queue)
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
    assert found == {"login": [], "worklist": [], "case": [], "intake": []}
    await anonymous.context.close()
