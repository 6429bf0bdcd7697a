"""The console in a real browser (Chromium driven by Playwright) against the real dev server,
worker and case store: what coordinators, physicians, nurses and viewers do and see."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Page, expect

from cellpath.scenarios import record as record_update
from cellpath.scenarios import start
from cellpath.store.access import CareTeams
from models.journey import workflow_id
from tests.console.conftest import PASSWORD, SignIn, Stack
from tests.support import console_journey, drive_to_monitoring, path_to_infusion, recorded_at
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


async def record(page: Page, kind: str, at: datetime | None = None, **data: str) -> None:
    """Fill and send the milestone form of `kind` on an open case page (a signed decision's
    form with the signer's password again)."""
    box = page.locator(f"#milestone-{kind}")
    if not await box.evaluate("e => e.open"):
        await box.locator("summary").click()
    for name, value in data.items():
        field = box.locator(f'[name="data.{name}"]')
        if await field.count() == 0:
            continue  # not asked of this reader (a signer names no PI, transcribes nothing)
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    password = box.locator('[name="signing_password"]')
    if await password.count():
        await password.fill(PASSWORD)
    if at is not None:
        await box.locator('[name="occurred_at"]').fill(f"{at:%Y-%m-%dT%H:%M}")
    # The previous answer goes first: the same kind twice in a row (two consents) would
    # otherwise find the first one's "recorded" and move on while the second is in flight.
    await page.evaluate("document.getElementById('flash')?.remove()")
    await box.get_by_role("button", name="Record").click()


async def intake(page: Page, case_id: str) -> None:
    """Take in a new case through the intake form."""
    await page.get_by_role("link", name="New case").first.click()
    await page.get_by_label("Full name").fill("Ada Console-Patient")
    await page.get_by_label("Birth date").fill("1961-04-02")
    await page.get_by_label("Nationality").fill("GB")
    await page.get_by_label("Case id").fill(case_id)
    await page.get_by_label("Indication").fill("DLBCL")
    await page.get_by_label("Target antigens").fill("CD19")
    await page.get_by_label("Sites").fill("site-a, site-b")
    await page.get_by_role("button", name="Take in and start the journey").click()
    await page.wait_for_url(re.compile(f"/cases/{case_id}$"))


async def test_a_coordinator_takes_a_new_case_from_intake_to_infusion(
    sign_in: SignIn, stack: Stack
) -> None:
    coordinator = await sign_in("coord-ui")
    # The pages' Content-Security-Policy lets nothing of htmx's be refused.
    refused: list[str] = []
    coordinator.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    case_id = "UI-2026-0001"
    await intake(coordinator, case_id)
    # The care team sees who the patient is; the title and the address never say it.
    await expect(coordinator.locator(".patient")).to_contain_text("Ada Console-Patient")
    assert "Ada" not in await coordinator.title() and "Ada" not in coordinator.url
    await expect(coordinator.locator(".phases [aria-current=step]")).to_have_text("intake")

    # The reviewing physician works at site-a, and the case has no site before PI review:
    # its coordinator adds them to its care team.
    CareTeams(stack.store).add(case_id, "dr-ui", by="coord-ui")
    steps = path_to_infusion(datetime.now(UTC).date())
    times = recorded_at(datetime.now(UTC), len(steps))
    physician = await sign_in("dr-ui")
    for (kind, data), at in zip(steps, times, strict=True):
        page = physician if kind == "eligibility_assessed" else coordinator
        if page is physician:
            await physician.goto(f"{stack.url}/cases/{case_id}")
        await record(page, kind, at, **data)
        await expect(page.locator("#flash")).to_contain_text(f"{kind.replace('_', ' ')} recorded")
        if page is physician:
            await coordinator.reload()
        # htmx swapped the case's body in place: the page never left the case's address.
        assert page.url == f"{stack.url}/cases/{case_id}"

    await expect(coordinator.locator(".phases [aria-current=step]")).to_have_text("monitoring")
    assert refused == []
    timeline = coordinator.locator("#timeline-h + table")
    await expect(timeline).to_contain_text("infusion completed")
    await expect(timeline).to_contain_text("dr-ui")
    status = await stack.client.get_workflow_handle(workflow_id(case_id)).query(
        PatientJourney.status
    )
    assert status.phase == "monitoring" and status.infused_at is not None
    # The worklist lists it, in monitoring.
    await coordinator.get_by_role("link", name="Worklist").click()
    row = coordinator.get_by_role("row", name=re.compile(case_id))
    await expect(row).to_contain_text("monitoring")


async def test_a_milestone_sent_from_a_stale_page_shows_the_journeys_refusal(
    sign_in: SignIn, stack: Stack
) -> None:
    case_id = "UI-2026-0002"
    handle = await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    page = await sign_in("coord-ui")
    await page.goto(f"{stack.url}/cases/{case_id}")
    before = await handle.query(PatientJourney.timeline)
    # Meanwhile a colleague records the records as complete: the journey leaves intake.
    await record_update(
        handle, "records_complete", records=["pathology", "imaging", "treatment_history", "labs"]
    )
    await record(page, "record_received", record_type="labs")
    refusal = page.locator("#flash .refusal")
    await expect(refusal).to_contain_text("pre_assessment")
    after = await handle.query(PatientJourney.timeline)
    assert len(after) == len(before) + 1  # only the colleague's milestone


async def test_a_nurse_records_an_observation_and_sees_crs_grade_2_and_the_alert(
    sign_in: SignIn, stack: Stack
) -> None:
    case_id = "UI-2026-0003"
    await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    # At tablet width, as at the bedside.
    nurse = await sign_in("nurse-ui", width=800)
    await nurse.goto(f"{stack.url}/cases/{case_id}")
    await nurse.get_by_label("Temperature (°C)").fill("38.6")
    await nurse.get_by_label("Systolic BP (mmHg)").fill("84")
    await nurse.get_by_role("button", name="Save observation").click()
    grades = nurse.locator(".grades")
    await expect(grades).to_contain_text("CRS grade 2")
    await expect(grades.locator(".badge.urgent")).to_be_visible()
    await expect(nurse.locator("ul.alerts")).to_contain_text("urgent")
    # A nurse records no milestones and sees no withdraw form.
    assert await nurse.locator("details.milestone").count() == 0
    assert await nurse.locator("#withdraw-h").count() == 0
    # Their worklist (site-a) shows the case with its open alert.
    await nurse.get_by_role("link", name="Worklist").click()
    row = nurse.get_by_role("row", name=re.compile(case_id))
    await expect(row.locator(".badge.urgent")).to_have_text("1 urgent")


async def test_the_bedside_form_asks_what_was_given_and_grades_as_the_cli_does(
    sign_in: SignIn, stack: Stack
) -> None:
    """No fever, a vasopressor and oxygen: the grade turns on what was given, so the form asks
    before saving, keeps what was typed, and then grades as `crs_grade` does (CRS 3)."""
    from models.grading import crs_grade

    case_id = "UI-2026-0013"
    await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    nurse = await sign_in("nurse-ui", width=800)
    await nurse.goto(f"{stack.url}/cases/{case_id}")
    await nurse.get_by_label("Temperature (°C)").fill("37.1")
    await nurse.get_by_label("Systolic BP (mmHg)").fill("82")
    await nurse.get_by_label("Vasopressors (number)").fill("1")
    await nurse.get_by_label("Oxygen device").select_option("low_flow_nasal_cannula")
    await nurse.get_by_label("Oxygen flow (L/min)").fill("2")
    await nurse.get_by_role("button", name="Save observation").click()
    await expect(nurse.locator(".bedside .refusal")).to_contain_text(
        "Was anything given for fever or CRS"
    )
    await expect(nurse.get_by_label("Systolic BP (mmHg)")).to_have_value("82")
    await expect(nurse.get_by_label("Oxygen device")).to_have_value("low_flow_nasal_cannula")
    given = nurse.get_by_label("Anything given for fever or CRS", exact=False)
    await given.select_option("true")
    await nurse.get_by_role("button", name="Save observation").click()
    expected = crs_grade(
        temperature_c=37.1,
        systolic_bp=82,
        vasopressors=1,
        oxygen_device="low_flow_nasal_cannula",
        oxygen_flow_l_min=2,
        anticytokine_or_antipyretic_given=True,
    )
    assert expected == 3
    await expect(nurse.locator(".grades")).to_contain_text(f"CRS grade {expected}")
    await expect(nurse.locator(".grades .badge.critical")).to_be_visible()


async def test_a_viewer_sees_the_case_but_no_forms_and_no_patient(
    sign_in: SignIn, stack: Stack
) -> None:
    case_id = "UI-2026-0004"
    await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    viewer = await sign_in("viewer-ui")
    await viewer.goto(f"{stack.url}/cases/{case_id}")
    await expect(viewer.locator("h1")).to_have_text(f"Case {case_id}")
    # Only the sign-out form in the header.
    assert await viewer.locator("main form").count() == 0
    assert await viewer.locator(".patient").count() == 0


async def test_a_case_page_without_signing_in_goes_to_sign_in(browser: Any, stack: Stack) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{stack.url}/cases/UI-2026-0001")
    assert page.url == f"{stack.url}/login?next=/cases/UI-2026-0001"
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await context.close()
