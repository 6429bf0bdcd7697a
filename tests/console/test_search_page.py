"""Patients by name for their care team (over HTTP): the coordinator's worklist shows the
patient's name and country and finds the case by name in any spelling or by passport; a
viewer sees no name anywhere and finds a case by its id only; each look is audited, once an
hour per case on a worklist that refreshes itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlmodel import select

from cellpath.scenarios import start
from cellpath.store.tables import AuditRow, Patient
from tests.console.conftest import Stack, signed_in
from tests.support import console_journey

pytestmark = pytest.mark.e2e

CASE = "NAME-UI-0001"


async def test_names_for_the_care_team_and_search(stack: Stack) -> None:
    facts = console_journey(CASE)
    with stack.store.session() as s:
        stack.store.add_patient(
            s,
            Patient(
                patient_ref=facts.patient_ref,
                full_name="Zhāng Lìhuá 张丽华",
                birth_date=date(1971, 5, 2),
                nationality="CN",
                passport_number="E 8765 4321",
                created_at=datetime.now(UTC),
            ),
            CASE,
        )
    await start(stack.client, facts, stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=stack.url) as coord:
        await signed_in(coord, "coord-ui")
        for _ in range(200):  # visibility and the projection list the case a moment later
            page = await coord.get("/")
            found = await coord.get("/search", params={"q": "zhang lihua"})
            if CASE in page.text and CASE in found.text:
                break
            await asyncio.sleep(0.05)
        assert "Zhāng Lìhuá 张丽华" in page.text and "(CN)" in page.text
        for typed in ("zhang lihua", "ZHANG LÌHUÁ", "张丽华", "e87654321", CASE.lower()):
            found = await coord.get("/search", params={"q": typed})
            assert found.status_code == 200 and CASE in found.text, typed
            assert "Zhāng Lìhuá" in found.text
        short = await coord.get("/search", params={"q": "z"})
        assert short.status_code == 422 and "at least 2 characters" in short.text
        await coord.get("/")  # a refresh within the hour: no second audited look
    with stack.store.session() as s:
        looks = s.exec(
            select(AuditRow).where(
                AuditRow.case_id == CASE,
                AuditRow.action == "patient_viewed",
                AuditRow.actor == "coord-ui",
            )
        ).all()
    assert len(looks) == 1 and looks[0].detail["via"] == "worklist"

    async with httpx.AsyncClient(base_url=stack.url) as viewer:
        await signed_in(viewer, "viewer-ui")
        page = await viewer.get("/")
        assert "张丽华" not in page.text and "Lìhuá" not in page.text
        by_name = await viewer.get("/search", params={"q": "zhang lihua"})
        assert CASE not in by_name.text and "0 found" in by_name.text
        by_id = await viewer.get("/search", params={"q": CASE})
        assert CASE in by_id.text and "张丽华" not in by_id.text
