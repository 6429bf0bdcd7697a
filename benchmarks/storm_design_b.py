"""Design B of issue 31, prototyped at its best, for `reminder_storm.py --design b`: fewer
tasks per notification. Measured beside the scheduled outbox before choosing it
(docs/benchmarks.md, "The scheduled outbox"); kept so the comparison can be run again."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from activities.delivery import DeliveryActivities
from cellpath.config import Settings
from cellpath.store import CaseStore
from models.enums import NotificationKind, Recipient, Severity
from models.messages import Notification

# --- design B, prototyped at its best: fewer tasks per notification --------------------------
# The timer's own task runs the outbox write and the send as one local activity (no write
# activity task, no second journey task, no search attributes): a workflow that sleeps to the
# instant and does exactly cellpath's write and send there. A journey would add its own state,
# rules and sandbox to this; the prototype is the least design B can cost.

DESIGN_B: dict[str, Any] = {}


@activity.defn(name="storm_write_and_send")
def write_and_send(n: Notification) -> bool:
    """cellpath's outbox write and direct send, as the journey's write does them."""
    store, delivery = DESIGN_B["store"], DESIGN_B["delivery"]
    store.add_notifications([n])
    return bool(delivery.deliver_now(n))


@workflow.defn(name="StormDesignB", sandboxed=False)
class StormDesignB:
    """Sleep until the instant, then write and send in a local activity of the same task."""

    @workflow.run
    async def run(self, n: Notification) -> bool:
        wait = n.scheduled_for.timestamp() - workflow.now().timestamp()
        if wait > 0:
            await workflow.sleep(wait)
        return await workflow.execute_local_activity(
            write_and_send, n, start_to_close_timeout=timedelta(seconds=30)
        )


def level_one_escalation(case: str, at: datetime, key: str, text: str) -> Notification:
    """The escalation a journey's records deadline sends its lead at level 1 (the storms'
    message; `notification_costs.py` builds its writes from it too)."""
    return Notification(
        idempotency_key=key,
        case_id=case,
        kind=NotificationKind.ESCALATION,
        recipient=Recipient.LEAD_COORDINATOR,
        deadline="records",
        level=1,
        severity=Severity.WARNING,
        scheduled_for=at,
        text=text,
        due_at=at,
    )


async def design_b(
    client: Client,
    store: CaseStore,
    settings: Settings,
    queue: str,
    n: int,
    lead_s: float,
    arrivals: Any,
    patience_s: float,
    cpu: Any,
) -> tuple[list[float], int]:
    DESIGN_B.update(store=store, delivery=DeliveryActivities(store, settings))
    at = datetime.now(UTC) + timedelta(seconds=lead_s)
    cases = [f"STORM-{90000 + i:05d}-{uuid.uuid4().hex[:4]}"[:16] for i in range(n)]
    async with Worker(
        client,
        task_queue=queue,
        workflows=[StormDesignB],
        activities=[write_and_send],
        activity_executor=concurrent.futures.ThreadPoolExecutor(16),
    ):
        cpu.start_at(at.timestamp())
        sem = asyncio.Semaphore(200)

        async def one(case: str) -> None:
            key = f"{case}:records:escalation:1:{at.isoformat()}"
            note = level_one_escalation(case, at, key, f"Overdue (level 1): records — case {case}")
            async with sem:
                await client.start_workflow(
                    StormDesignB.run, note, id=f"b-{case}", task_queue=queue
                )

        await asyncio.gather(*(one(c) for c in cases))
        if datetime.now(UTC) > at:
            raise SystemExit(f"starting took longer than {lead_s} s: raise --lead")
        deadline = time.time() + lead_s + patience_s
        while time.time() < deadline and sum(c in arrivals.at for c in cases) < n:  # noqa: ASYNC110 - polls a count
            await asyncio.sleep(0.5)
        arrived = arrivals.at
        cpu.end = await cpu.used()
    lags = [arrived[c] - at.timestamp() for c in cases if c in arrived]
    return lags, n - len(lags)
