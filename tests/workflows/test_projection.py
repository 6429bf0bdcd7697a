"""The projected schedule from a real journey (its query, through the service): the steps
ahead after the PI's acceptance, none in the past, each inside its range; and recomputed when
a milestone lands (the booked arrival date becomes the expected one)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.scenarios import record, start, to_logistics
from cellpath.services import journeys
from cellpath.services.base import Session
from cellpath.store import CaseStore
from models.examples import journey_input
from models.roles import Role
from tests.support import TEST_QUEUE


async def test_the_schedule_ahead_follows_the_journey(
    env: WorkflowEnvironment, worker: Worker, store: CaseStore
) -> None:
    case_id = f"PRJ-{uuid.uuid4().hex[:8]}"
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_logistics(handle)
    store.set_role("coord-1", Role.COORDINATOR, by="test")
    session = Session(actor="coord-1", client=env.client, store=store)
    ahead = await journeys.projected(session, case_id)
    assert [p.step for p in ahead][:3] == [
        "patient_arrived",
        "pretreatment_cleared",
        "apheresis_completed",
    ]
    assert ahead[-1].step == "returned_home"
    assert all(p.earliest <= p.expected <= p.latest for p in ahead)
    today = (await env.get_current_time()).date()
    arrival = today + timedelta(days=30)
    await record(handle, "cost_estimate_accepted", currency="USD", total=9500)
    await record(handle, "travel_booked", arrival_date=str(arrival))
    booked = {p.step: p for p in await journeys.projected(session, case_id)}
    assert booked["patient_arrived"].basis == "planned"
    assert booked["patient_arrived"].latest.date() >= arrival
