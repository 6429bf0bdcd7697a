"""The measures in the console and the CLI agree (over HTTP): the page draws each measure as
an SVG chart beside its table, the CSV holds the same figures as the page's tables and as
`cellpath report --csv`, and a bad quarter is refused naming the form expected."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from datetime import UTC, date, datetime

import httpx
import pytest
from playwright.async_api import expect

from cellpath.scenarios import start, to_logistics
from cellpath.store.tables import Patient
from tests.console.conftest import SignIn, Stack, signed_in
from tests.support import ROOT, console_journey

pytestmark = pytest.mark.e2e

SCREENSHOTS = ROOT / ".cellpath" / "screenshots"


async def test_charts_tables_and_csv_agree(stack: Stack, sign_in: SignIn) -> None:
    facts = console_journey("MEAS-UI-0001")
    with stack.store.session() as s:  # taken in as intake does: the case row dates it
        stack.store.add_patient(
            s,
            Patient(
                patient_ref=facts.patient_ref,
                full_name="M",
                birth_date=date(1970, 1, 1),
                nationality="CN",
                created_at=datetime.now(UTC),
            ),
            facts.case_id,
        )
    handle = await start(stack.client, facts, stack.settings.task_queue)
    await to_logistics(handle)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "viewer-ui")  # aggregates: any member of staff
        for _ in range(200):  # the journey's write follows its answer
            page = await http.get("/measures")
            if "Intake to eligibility: median days" in page.text:  # "PI" kept upper case
                break
            await asyncio.sleep(0.05)
        assert page.status_code == 200 and '<svg class="bars"' in page.text
        got = await http.get("/measures.csv")
        assert got.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(got.text)))
        journeys = {t["site"]: t["value"] for t in table if t["measure"] == "journeys"}
        assert journeys and all(f"{site} {n}" in page.text for site, n in journeys.items())
        bad = await http.get("/measures", params={"quarter": "Q4-2026"})
        assert bad.status_code == 422 and "like 2026Q4" in bad.text
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter",
        "report",
        "--csv",
        "--actor",
        "viewer-ui",
        cwd=ROOT,
        env=os.environ | {"CELLPATH_DATABASE_URL": stack.settings.database_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await done.communicate()
    assert done.returncode == 0
    cli = list(csv.DictReader(io.StringIO(out.decode())))
    assert {(r["site"], r["measure"]) for r in cli} >= {
        (t["site"], t["measure"]) for t in table if t["measure"] == "journeys"
    }
    # In the browser, the chart is drawn (one bar per site at least).
    browser_page = await sign_in("coord-ui")
    await browser_page.goto(f"{stack.url}/measures")
    await expect(browser_page.locator("svg.bars rect.bar").first).to_be_visible()
    if SCREENSHOTS.parent.exists():  # the README's picture, from the running product
        SCREENSHOTS.mkdir(exist_ok=True)
        await browser_page.screenshot(path=str(SCREENSHOTS / "console-measures.png"))
    # And the board, a month of it, in the browser.
    await browser_page.goto(f"{stack.url}/board?view=month")
    await expect(browser_page.locator("table.board")).to_be_visible()
    if SCREENSHOTS.parent.exists():
        await browser_page.screenshot(path=str(SCREENSHOTS / "console-board.png"), full_page=True)
