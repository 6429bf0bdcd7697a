"""A case printed is its summary (Chromium, print media): the patient, the schedule ahead,
deadlines and timeline stay; the forms and navigation do not."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from playwright.async_api import expect

from cellpath.scenarios import start, to_logistics
from cellpath.store.tables import Patient
from tests.console.conftest import SignIn, Stack
from tests.support import console_journey

pytestmark = pytest.mark.e2e


async def test_the_printed_case_is_a_summary(stack: Stack, sign_in: SignIn) -> None:
    facts = console_journey("PRINT-UI-0001")
    with stack.store.session() as s:
        stack.store.add_patient(
            s,
            Patient(
                patient_ref=facts.patient_ref,
                full_name="Mei Chen",
                birth_date=date(1975, 6, 1),
                nationality="SG",
                created_at=datetime.now(UTC),
            ),
            facts.case_id,
        )
    handle = await start(stack.client, facts, stack.settings.task_queue)
    await to_logistics(handle)
    page = await sign_in("coord-ui")
    await page.goto(f"{stack.url}/cases/{facts.case_id}")
    form = page.locator("section[aria-labelledby='record-h']")
    await expect(form).to_be_visible()
    await page.emulate_media(media="print")
    await expect(form).to_be_hidden()
    await expect(page.locator("header.top")).to_be_hidden()
    await expect(page.get_by_text("Mei Chen")).to_be_visible()
    for kept in ("ahead-h", "deadlines-h", "timeline-h"):
        await expect(page.locator(f"#{kept}")).to_be_visible()
