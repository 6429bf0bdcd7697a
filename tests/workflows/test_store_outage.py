"""A case-store outage never blocks a journey: milestones are acknowledged, deadlines fire and
escalate, and once the store is back everything queued meanwhile is written, once.

The store's activities are replaced by doubles (registered under the same names, as
`create_worker` allows) that fail like an unreachable database while `down`, and pass through to
the real store otherwise; the journey runs on the session's time-skipping server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.journey import CalendarActivities, CaseStoreActivities, NotificationActivities
from cellpath.runtime import create_worker
from cellpath.scenarios import record, start, status
from cellpath.store import CaseStore
from models.enums import NotificationKind, Phase
from models.messages import (
    AuditBatch,
    JourneyProjection,
    JourneyWrite,
    NotificationBatch,
    StoreResult,
    WriteResult,
)
from models.protocol import PRESETS
from tests.builders import journey_input

RECORDS = ["pathology", "imaging", "treatment_history", "labs"]


class StoreUnreachable(Exception):
    """What the database driver raises while the server is down (retried by Temporal)."""


class FlakyStore:
    """The case store's activities, failing every call while `down`; `calls` counts attempts."""

    def __init__(self, store: CaseStore) -> None:
        self.real = CaseStoreActivities(store)
        self.outbox = NotificationActivities(store)
        self.down = True
        self.calls: Counter[str] = Counter()

    def _attempt(self, name: str) -> None:
        self.calls[name, "failed" if self.down else "ok"] += 1
        if self.down:
            raise StoreUnreachable("connection refused (case store down)")

    @activity.defn(name="write_journey")
    async def write_journey(self, batch: JourneyWrite) -> WriteResult:
        """The real `write_journey`, unless the store is down."""
        self._attempt("write_journey")
        return await self.real.write_journey(batch)

    @activity.defn(name="project_journey")
    def project_journey(self, projection: JourneyProjection) -> StoreResult:
        """The real `project_journey`, unless the store is down."""
        self._attempt("project_journey")
        return self.real.project_journey(projection)

    @activity.defn(name="record_audit")
    def record_audit(self, batch: AuditBatch) -> StoreResult:
        """The real `record_audit`, unless the store is down."""
        self._attempt("record_audit")
        return self.real.record_audit(batch)

    @activity.defn(name="send_notifications")
    async def send_notifications(self, batch: NotificationBatch) -> StoreResult:
        """The real `send_notifications`, unless the store is down."""
        self._attempt("send_notifications")
        return await self.outbox.send_notifications(batch)

    def activities(self) -> list[Any]:
        """The doubles, plus the real calendar activity (not the store's)."""
        return [
            self.write_journey,
            self.project_journey,
            self.record_audit,
            self.send_notifications,
            CalendarActivities().load_business_calendar,
        ]

    def attempts(self, outcome: str) -> int:
        """Calls of every store activity that ended `outcome` ("failed" or "ok")."""
        return sum(n for (_, o), n in self.calls.items() if o == outcome)


async def until(check: Any, seconds: float = 20) -> None:
    """Wait (in real time: the worker's activity threads run in it) until `check()` holds."""
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


async def test_a_store_outage_delays_writes_but_never_blocks_the_journey(
    env: WorkflowEnvironment, store: CaseStore, case_id: str
):
    flaky = FlakyStore(store)
    queue = f"store-outage-{uuid.uuid4().hex[:8]}"
    # A two-day records SLA with a daily reminder: the outage spans a reminder and a breach.
    protocol = PRESETS["default"].model_copy(
        update={"name": "outage", "records_sla_days": 2, "records_reminder_every_days": 1}
    )
    async with create_worker(
        env.client, task_queue=queue, store=store, activities=flaky.activities()
    ):
        handle = await start(env.client, journey_input(case_id, protocol=protocol), queue)

        # The store is down from the start: milestones are still acknowledged at once…
        ack = await record(handle, "record_received", record_type="pathology")
        assert ack.accepted and ack.phase is Phase.INTAKE
        # …the records deadline still falls due and escalates…
        await env.sleep(timedelta(days=2, hours=2))
        records = next(d for d in (await status(handle)).open_deadlines if d.name == "records")
        assert records.overdue and records.escalation_level == 1
        # …and the journey moves on.
        ack = await record(handle, "records_complete", records=RECORDS)
        assert ack.phase is Phase.PRE_ASSESSMENT
        assert (await status(handle)).phase is Phase.PRE_ASSESSMENT

        # Nothing reached the store; every write was tried and refused.
        failed = flaky.attempts("failed")
        assert failed > 0 and flaky.attempts("ok") == 0
        assert store.audit_trail(case_id) == [] and store.notifications(case_id) == []

        # The store comes back: within the longest backoff (5 min) every write is retried.
        flaky.down = False
        await env.sleep(timedelta(minutes=6))

        def drained() -> bool:
            rows = store.list_journeys(coordinator="coord-1")
            row = next((r for r in rows if r.case_id == case_id), None)
            actions = [a.action for a in store.audit_trail(case_id)]
            return (
                row is not None
                and row.phase == Phase.PRE_ASSESSMENT
                and "milestone:records_complete" in actions
            )

        await until(drained)
        # Its queue's worker stops with this block: a journey left running there would hold
        # a workflow task no worker takes, and the shared time-skipping server stops skipping
        # time for every later test (they then waited 30 s in real time and failed).
        await handle.terminate("test over")

    actions = [a.action for a in store.audit_trail(case_id)]
    assert actions == [
        "journey_started",
        "milestone:record_received",
        "milestone:records_complete",
    ]
    outbox = store.notifications(case_id)
    kinds = Counter((n.deadline, n.kind) for n in outbox)
    assert kinds[("records", NotificationKind.REMINDER)] == 1
    assert kinds[("records", NotificationKind.ESCALATION)] == 1
    # Each notification once, however often its write was retried.
    assert len({n.idempotency_key for n in outbox}) == len(outbox)
    print(
        f"\nstore outage: 2 days 2 h down (server time), {failed} store calls refused, "
        f"2 milestones acknowledged and {sum(kinds.values())} notifications fired meanwhile; "
        f"after recovery {flaky.attempts('ok')} calls wrote {len(actions)} audit entries and "
        f"{len(outbox)} notifications, each once"
    )
