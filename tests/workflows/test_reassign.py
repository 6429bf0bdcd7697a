"""Covering for a colleague, through the services against a real journey: cases given to
another coordinator (`cellpath reassign`: the journey records `coordinator_changed`, its
projection and search attribute follow; one case refused does not hold back the others), and
a coordinator covering a colleague's cases for a period (in their care team while it lasts,
not after it ends)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.scenarios import start
from cellpath.services import access, journeys
from cellpath.services.base import Refusal, Session
from cellpath.store import CaseStore
from cellpath.store.tables import JourneyRow
from models.examples import journey_input
from models.roles import Role
from tests.support import TEST_QUEUE
from workflows.visibility import COORDINATOR

STAFF = {
    "coord-1": Role.COORDINATOR,
    "coord-9": Role.COORDINATOR,
    "coord-x": Role.COORDINATOR,
    "admin-r": Role.ADMINISTRATOR,
    "nurse-r": Role.SITE_STAFF,
}


async def projected_coordinator(store: CaseStore, case_id: str, expected: str) -> str | None:
    """The store's projection of the case's coordinator, once it says `expected` (or not)."""
    row = None
    for _ in range(300):  # the journey's write follows its answer
        with store.session() as s:
            row = s.get(JourneyRow, case_id)
        if row is not None and row.coordinator == expected:
            break
        await asyncio.sleep(0.05)
    return row.coordinator if row is not None else None


async def test_cases_are_reassigned_and_a_colleague_covers_for_a_period(
    env: WorkflowEnvironment, worker: Worker, store: CaseStore
) -> None:
    for actor, role in STAFF.items():
        store.set_role(actor, role, by="test")
    case_id = f"RSG-{uuid.uuid4().hex[:8]}"
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    assert await projected_coordinator(store, case_id, "coord-1") == "coord-1"

    def as_(actor: str) -> Session:
        return Session(actor=actor, client=env.client, store=store)

    # Someone else's case, and a colleague who is not a coordinator: refused, nothing changed.
    [stranger] = await access.reassign(as_("coord-x"), [case_id], "coord-9", "rebalance")
    assert not stranger.done and "may not change the care team" in stranger.reason
    with pytest.raises(Refusal, match="not a coordinator"):
        await access.reassign(as_("coord-1"), [case_id], "nurse-r", "rebalance")
    # Its coordinator gives it away; a case the store does not know is refused on its own.
    done, unknown = await access.reassign(
        as_("coord-1"), [case_id, "NOPE-404"], "coord-9", "leaving the team"
    )
    assert (done.case_id, done.previous, done.done) == (case_id, "coord-1", True)
    assert not unknown.done and "no journey for case NOPE-404" in unknown.reason
    # The care team is the case store's projection, which follows the journey's write.
    assert await projected_coordinator(store, case_id, "coord-9") == "coord-9"
    assert (await journeys.status(as_("coord-9"), case_id)).coordinator == "coord-9"
    described = await handle.describe()
    assert described.typed_search_attributes.get(COORDINATOR) == "coord-9"
    [event] = [
        e
        for e in await journeys.timeline(as_("coord-9"), case_id)
        if e.kind == "coordinator_changed"
    ]
    assert event.actor == "coord-1" and event.data["previous"] == "coord-1"

    # coord-1 is out of the care team now; covering coord-9 for a day brings them back in.
    with pytest.raises(Refusal, match="care team"):
        await journeys.status(as_("coord-1"), case_id)
    now = datetime.now(UTC)
    with pytest.raises(Refusal, match="may not set who covers"):
        access.cover_colleague(
            as_("coord-x"), "coord-9", "coord-1", now, now + timedelta(days=1), "leave"
        )
    with pytest.raises(Refusal, match="must end after it starts"):
        access.cover_colleague(as_("coord-9"), "coord-9", "coord-1", now, now, "leave")
    with pytest.raises(Refusal, match="'nurse-r' is not a coordinator"):
        access.cover_colleague(
            as_("admin-r"), "coord-9", "nurse-r", now, now + timedelta(days=1), "leave"
        )
    cover = access.cover_colleague(
        as_("coord-9"),
        "coord-9",
        "coord-1",
        now - timedelta(minutes=1),
        now + timedelta(days=1),
        "leave",
    )
    assert (await journeys.status(as_("coord-1"), case_id)).coordinator == "coord-9"
    assert [c.id for c in access.covers(as_("coord-x"))] == [cover.id]
    with pytest.raises(Refusal, match="may not set who covers"):
        access.end_cover(as_("coord-1"), cover.id)
    access.end_cover(as_("coord-9"), cover.id)
    with pytest.raises(Refusal, match="care team"):
        await journeys.status(as_("coord-1"), case_id)
    assert access.covers(as_("coord-x")) == []
