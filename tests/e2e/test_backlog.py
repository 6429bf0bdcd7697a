"""A coordinator's milestone never waits behind a backlog of activities (the mechanism, not a
duration: the test holds the backlog until the milestone is acknowledged, so a journey that
needs an activity slot or an activity thread to get ready would deadlock it)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from typing import Any

from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from cellpath.runtime import create_worker
from cellpath.scenarios import record, start
from cellpath.store import CaseStore
from models.messages import JourneyWrite, WriteResult
from tests.support import e2e_journey

SLOTS = 2


class HeldStore:
    """`write_journey` doubles that hold every activity slot and thread until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.held = 0
        # Attempts that ended (released, or timed out and retried by Temporal).
        self.ended = 0

    @activity.defn(name="write_journey")
    def write_journey(self, batch: JourneyWrite) -> WriteResult:
        """Hold a slot and one of the worker's activity threads until the test releases it
        (or the attempt's own timeout ends it)."""
        self.held += 1
        try:
            while not self.release.wait(0.05):
                if activity.is_cancelled():
                    break
            return WriteResult(written=0)
        finally:
            self.ended += 1


async def test_a_journey_takes_a_milestone_while_every_activity_slot_is_taken(
    dev_server: WorkflowEnvironment, db_url: str
) -> None:
    from activities.journey import CalendarActivities

    held = HeldStore()
    queue = f"backlog-{uuid.uuid4().hex[:8]}"
    client = dev_server.client
    # As few slots and threads as a worker can have: the backlog fills them at once.
    async with create_worker(
        client,
        task_queue=queue,
        store=CaseStore.from_url(db_url),
        activities=[held.write_journey, CalendarActivities().load_business_calendar],
        activity_executor=concurrent.futures.ThreadPoolExecutor(max_workers=SLOTS),
        max_concurrent_activities=SLOTS,
        deliver=False,
    ):
        try:
            # A burst of journeys: their writes take every slot and thread, more are queued.
            burst = [
                await start(client, e2e_journey(f"BL-{uuid.uuid4().hex[:6]}"), queue)
                for _ in range(SLOTS * 3)
            ]
            for _ in range(200):
                if held.held >= SLOTS:
                    break
                await asyncio.sleep(0.05)
            assert held.held == SLOTS and held.ended == 0  # saturated: the rest wait
            newest = await start(client, e2e_journey(f"BL-{uuid.uuid4().hex[:6]}"), queue)
            ack: Any = await asyncio.wait_for(
                record(newest, "record_received", record_type="pathology"), timeout=60
            )
            assert ack.accepted
            # Accepted while every slot and thread was still held: nothing had ended (a write
            # attempt times out after 10 s, freeing its slot; the milestone did not need that).
            assert held.ended == 0
        finally:
            held.release.set()
        del burst
