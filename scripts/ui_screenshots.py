"""Screenshots of the Temporal UI from the running product, for the README.

Starts the embedded stack (`devstack.py`: dev server, worker, demo journeys), waits until the
demo journey DEMO-0006 has escalated, then photographs, with Playwright driving the system's
Chromium (Debian's `chromium` package; no browser is downloaded):

- the workflow list filtered by `Overdue = true`  → docs/screenshots/overdue-journeys.png
- DEMO-0006's history (summaries on every timer and activity) → docs/screenshots/journey-history.png

    make screenshots        # installs the `screenshots` extra, then runs this script
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from cellpath.config import get_settings  # noqa: E402
from cellpath.connection import connect  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium on a machine with no outside network: no background calls, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
        await page.get_by_text("project_journey").first.wait_for(timeout=30_000)
        await page.wait_for_timeout(2_000)
        await page.screenshot(path=OUT / "journey-history.png", full_page=True)
        await browser.close()


def main() -> None:
    settings = get_settings()
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "devstack.py")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert stack.stdout is not None
        for line in stack.stdout:  # wait for the banner
            if "cellpath is running" in line:
                break
        else:
            raise SystemExit("the dev stack did not start (see .cellpath/temporal.log)")
        asyncio.run(wait_overdue())
        asyncio.run(photograph(settings.ui_url))
        print(f"saved {', '.join(p.name for p in sorted(OUT.glob('*.png')))} in {OUT}")
    finally:
        stack.terminate()
        stack.wait(timeout=30)


if __name__ == "__main__":
    main()
