"""The board across patients (over HTTP): a case accepted by its PI, its arrival booked, shows
on the board on its arrival day as expected, its later steps on later days of the month; the
care team sees the patient's name, a viewer the case only."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from cellpath.scenarios import record, start, to_logistics
from cellpath.store.tables import Patient
from tests.console.conftest import Stack, signed_in
from tests.support import console_journey

pytestmark = pytest.mark.e2e

CASE = "BOARD-UI-0001"


async def test_the_board_shows_what_happens_when(stack: Stack) -> None:
    facts = console_journey(CASE)
    with stack.store.session() as s:
        stack.store.add_patient(
            s,
            Patient(
                patient_ref=facts.patient_ref,
                full_name="Ana Lima",
                birth_date=date(1980, 3, 3),
                nationality="BR",
                created_at=datetime.now(UTC),
            ),
            CASE,
        )
    handle = await start(stack.client, facts, stack.settings.task_queue)
    await to_logistics(handle)
    arrival = date.today() + timedelta(days=40)
    await record(handle, "cost_estimate_accepted", currency="USD", total=9500)
    await record(handle, "travel_booked", arrival_date=str(arrival))
    async with httpx.AsyncClient(base_url=stack.url) as coord:
        await signed_in(coord, "coord-ui")
        for _ in range(200):  # the journey's write follows its answer
            week = await coord.get("/board", params={"day": str(arrival)})
            if CASE in week.text:
                break
            await asyncio.sleep(0.05)
        assert week.status_code == 200
        cell = f'<div class="date">{arrival.strftime("%d %b")}</div>'
        day = week.text.split(cell)[1].split("</td>")[0]
        assert "patient arrived" in day and CASE in day and "Ana Lima" in day
        month = await coord.get("/board", params={"day": str(arrival), "view": "month"})
        assert month.text.count(CASE) >= 3  # arrival, apheresis, the product's release, …
        other = await coord.get("/board", params={"day": str(arrival), "coordinator": "coord-x"})
        assert CASE not in other.text  # a coordinator's board is their own
    async with httpx.AsyncClient(base_url=stack.url) as viewer:
        await signed_in(viewer, "viewer-ui")
        seen = await viewer.get("/board", params={"day": str(arrival)})
        assert CASE in seen.text and "Ana Lima" not in seen.text
