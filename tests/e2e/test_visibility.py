"""Visibility on the real dev server: journeys listed by their search attributes.

Each test run uses its own coordinator name, so the journeys of other tests do not match.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import pytest
from temporalio.testing import WorkflowEnvironment

from cellpath.scenarios import arrive_and_clear, record, reschedule_soon, start, to_arrival
from cellpath.services.casefile import JourneyRow, list_journeys, list_query
from models.enums import CellSource
from tests.support import QUEUE, e2e_journey

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("e2e_worker")]


async def eventually(fetch: Callable[[], Awaitable[list[JourneyRow]]], want: set[str]) -> None:
    """Visibility is eventually consistent: poll until the listed cases are `want` (an
    escalation is the journey's `AHEAD_GRACE` after its instant: the dispatcher sends it first)."""
    got: set[str] = set()
    for _ in range(500):
        got = {r.case_id for r in await fetch()}
        if got == want:
            return
        await asyncio.sleep(0.1)
    assert got == want


async def test_journeys_are_listed_by_each_search_attribute(dev_server: WorkflowEnvironment, cli):
    client = dev_server.client
    coord = f"coord-{uuid.uuid4().hex[:6]}"
    cases = {name: f"VIS-{name}-{uuid.uuid4().hex[:6]}" for name in ("mfg", "late", "nk")}

    def inp(name: str, source: CellSource = CellSource.AUTOLOGOUS):
        return e2e_journey(cases[name], cell_source=source).model_copy(
            update={"coordinator": coord}
        )

    mfg = await start(client, inp("mfg"), QUEUE)
    await to_arrival(mfg, date.today(), site="site-b")
    await arrive_and_clear(mfg)
    await record(mfg, "apheresis_completed", coi_id="COI-V")
    late = await start(client, inp("late"), QUEUE)
    await reschedule_soon(late, "records", 2, "a deadline about to pass")
    await start(client, inp("nk", CellSource.ALLOGENEIC), QUEUE)

    def by(**kw) -> Callable[[], Awaitable[list[JourneyRow]]]:
        return lambda: list_journeys(client, list_query(coordinator=coord, **kw))

    await eventually(by(), set(cases.values()))
    await eventually(by(phase="manufacturing"), {cases["mfg"]})
    await eventually(by(site="site-b"), {cases["mfg"]})
    await eventually(by(overdue=True), {cases["late"]})
    await eventually(by(escalated=True), {cases["late"]})
    query = list_query(coordinator=coord) + " AND CellSource = 'allogeneic' AND Therapy = 'car_nk'"
    await eventually(lambda: list_journeys(client, query), {cases["nk"]})
    (row,) = await by(overdue=True)()
    assert (row.phase, row.escalation_level, row.program) == ("intake", 1, "trial")
    assert row.next_deadline_at is not None

    # The same questions from the command line, and the audit of the overdue case.
    code, out, err = await cli("list", "--overdue", "--coordinator", coord, "--json")
    assert code == 0, err
    assert [r["case_id"] for r in json.loads(out)] == [cases["late"]]
    code, out, err = await cli("audit", cases["late"], "--json", actor="viewer-e2e")
    assert code == 0, err
    trail = json.loads(out)
    whats = [line["what"] for line in trail]
    assert whats[0] == "journey started"
    moved = next(line for line in trail if line["what"] == "reschedule")
    assert (moved["actor"], moved["reason"]) == ("lead-1", "a deadline about to pass")
    assert "escalation level 1 → lead_coordinator" in whats

    # A refusal the validator kept out of history is in the audit, from the case store.
    code, _, _ = await cli("milestone", cases["late"], "infusion_completed", actor="dr-e2e")
    assert code == 1
    code, out, _ = await cli("audit", cases["late"], "--json", actor="viewer-e2e")
    refused = [line for line in json.loads(out) if line["what"].startswith("refused:")]
    assert refused[0]["actor"] == "dr-e2e"
    assert "not expected in phase 'intake'" in refused[0]["reason"]
