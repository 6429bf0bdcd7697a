"""Screenshots of the console and the Temporal UI from the running product, for the README.

Starts the embedded stack (`python -m cellpath.devstack`: dev server, worker, console, demo
journeys), waits until the demo journey DEMO-0006 has escalated, then photographs, with
Playwright driving the system's Chromium (Debian's `chromium` package; no browser is
downloaded):

- the console's worklist, signed in as the demo coordinator, DEMO-0005's critical alert on top
  (raised here: CRS grade 3 at the bedside) → docs/screenshots/console-worklist.png
- DEMO-0006's case page in the console (overdue, escalated) → docs/screenshots/console-case.png
- the workflow list filtered by `Overdue = true`  → docs/screenshots/overdue-journeys.png
- DEMO-0006's history (summaries on every timer and activity) → docs/screenshots/journey-history.png

    make screenshots        # installs the `screenshots` extra, then runs this script
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from cellpath.config import get_settings  # noqa: E402
from cellpath.connection import connect  # noqa: E402
from cellpath.devstack import DEMO_PASSWORD, demo_staff  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


async def wait_overdue(timeout_s: float = 180) -> None:
    """Until visibility lists DEMO-0006 as overdue (its deadline passes ~45 s after start)."""
    client = await connect()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [e.id async for e in client.list_workflows("Overdue = true")]
        if "journey-DEMO-0006" in found:
            return
        await asyncio.sleep(2)
    raise SystemExit("DEMO-0006 did not become overdue in time")


async def raise_a_critical_alert() -> None:
    """DEMO-0005 (infusion window open) is infused and, at the bedside, needs a vasopressor
    without fever after tocilizumab: CRS grade 3, a critical alert its worklist shows first."""
    from cellpath.scenarios import observe, record
    from workflows import PatientJourney

    client = await connect()
    handle = client.get_workflow_handle_for(PatientJourney.run, "journey-DEMO-0005")
    if (await handle.query(PatientJourney.status)).phase != "monitoring":
        await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    await observe(
        handle,
        temperature_c=37.1,
        systolic_bp=82,
        vasopressors=1,
        spo2=95,
        anticytokine_or_antipyretic_given=True,
    )


async def photograph_console(console: str, you: str) -> None:
    """The demo coordinator's worklist and DEMO-0006's case page."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await page.goto(f"{console}/login")
        await page.get_by_label("Name").fill(you)
        await page.get_by_label("Password").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text("Needs attention").wait_for(timeout=30_000)
        await page.locator("tr.critical").first.wait_for(timeout=30_000)
        await page.screenshot(path=OUT / "console-worklist.png")
        await page.goto(f"{console}/cases/DEMO-0006")
        await page.get_by_role("heading", name="Open deadlines").wait_for()
        await page.screenshot(path=OUT / "console-case.png", full_page=True)
        await browser.close()


async def photograph(ui: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        await page.goto(f"{ui}/namespaces/default/workflows?query=Overdue%20%3D%20true")
        await page.get_by_text("journey-DEMO-0006").first.wait_for(timeout=30_000)
        await page.wait_for_timeout(1_500)
        await page.screenshot(path=OUT / "overdue-journeys.png")
        await page.goto(f"{ui}/namespaces/default/workflows/journey-DEMO-0006")
        await page.get_by_text("write_journey").first.wait_for(timeout=30_000)
        await page.wait_for_timeout(2_000)
        await page.screenshot(path=OUT / "journey-history.png", full_page=True)
        await browser.close()


def main() -> None:
    settings = get_settings()
    log = ROOT / ".cellpath" / "screenshots.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "cellpath.devstack"], cwd=ROOT, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        while "cellpath is running" not in log.read_text():  # the banner
            if stack.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the dev stack did not start (see {log})")
            time.sleep(1)
        asyncio.run(wait_overdue())
        asyncio.run(raise_a_critical_alert())
        asyncio.run(photograph(settings.ui_url))
        asyncio.run(photograph_console(settings.console_url, next(iter(demo_staff()))))
        print(f"saved {', '.join(p.name for p in sorted(OUT.glob('*.png')))} in {OUT}")
    finally:
        stack.terminate()
        stack.wait(timeout=30)


if __name__ == "__main__":
    main()
