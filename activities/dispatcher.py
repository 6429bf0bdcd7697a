"""The dispatcher: sends what the scheduled outbox holds when it falls due.

One runs beside each worker (`cellpath.runtime.run_worker`); several share the rows safely
(`cellpath.store.ahead.Scheduled.claim`). Each round it claims the rows due now, queues them
in the outbox (one transaction, the same keys the journeys' own timers give them), delivers
each, and marks them sent. The journeys record their escalations later, when their own timers
fire; their writes find the rows taken and send nothing again.

Delivery stays on this fast path for what used to need a `DeliverNotification` workflow each:

- **nobody reachable**: the next level at once, audited (`delivery_escalated`), and at the top
  `undeliverable`, audited and logged as an error — as the workflow does it;
- **quiet hours**: whoever is not in theirs gets it now; for whoever is, the hold is audited,
  kept in the ledger, and the notification is a `held` row of the scheduled outbox due at
  their morning, when a round sends it to whoever the ledger says does not have it yet.

A channel that fails or is slow is what the workflow is for: the notification is handed to its
`DeliverNotification` (which retries for as long as the channel is down; the ledger keeps
those who have it from getting it twice), and the fast path rests a while, as the outbox
write's direct path does.

What it does not do is decide: a row exists only because a journey wrote it, and a journey's
newer write removes what is no longer due (a deadline met or moved).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime

from activities.delivery import DeliveryActivities, DeliveryStarter
from activities.journey import report_notifications
from cellpath.delivery import channels
from cellpath.store import CaseStore
from cellpath.store.ahead import Scheduled
from cellpath.store.directory import Deliveries
from models.directory import NEXT_LEVEL, ResolveRequest
from models.enums import AuditAction, Recipient
from models.messages import AuditEntry, Notification

Logger = structlog.typing.FilteringBoundLogger
# Sends at once (threads: the store and Apprise's SMTP client block).
SENDERS = 8


class Dispatcher:
    """Claims due rows of the scheduled outbox and delivers them, round after round."""

    def __init__(
        self,
        store: CaseStore,
        delivery: DeliveryActivities,
        starter: DeliveryStarter,
        client: Client,
        task_queue: str,
        *,
        interval: float = 0.2,
        batch: int = 1000,
        stale: timedelta = timedelta(seconds=60),
        send_seconds: float = 4.0,
        pause_seconds: float = 60.0,
        logger: Logger | None = None,
    ) -> None:
        self.store = store
        self.scheduled = Scheduled(store)
        # Its own copy: the round's reads below must not reach a worker sharing `delivery`.
        self.delivery = copy.copy(delivery)
        self.ledger = Deliveries(store)
        # Who holds a role and how to reach them, read once per round, not once per row: in a
        # storm every row asks the same two questions (`_RoundReads`).
        self._reads = _RoundReads(delivery.directory)
        self.delivery.directory = self._reads  # type: ignore[assignment]
        self.starter = starter
        self.client = client
        self.task_queue = task_queue
        self.interval = interval
        self.batch = batch
        self.stale = stale
        self.send_seconds = send_seconds
        self.pause_seconds = pause_seconds
        self._resting_until = 0.0
        self.log = logger or structlog.get_logger("cellpath.dispatcher")
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=SENDERS, thread_name_prefix="cellpath-dispatch"
        )
        # A send's time limit runs from when a thread takes it, not while it waits its turn
        # behind a round's other sends (a round of 500 is not 500 sends "too slow").
        self._senders = asyncio.Semaphore(SENDERS)

    async def run(self, stop: asyncio.Event) -> None:
        """Round after round until `stop` is set; a round that fails (the store away) is
        logged and tried again after a pause: the rows wait, and the journeys' own timers
        send them meanwhile."""
        while not stop.is_set():
            try:
                taken = await self.round()
            except Exception as e:  # the store or Temporal away: never the end of the loop
                self.log.warning("dispatch_failed", error=f"{type(e).__name__}: {e}"[:300])
                taken = 0
                await _wait(stop, 5.0)
            if taken < self.batch:
                await _wait(stop, self.interval)

    async def round(
        self, now: datetime | None = None, *, cases: Sequence[str] | None = None
    ) -> int:
        """One round: claim, queue, deliver, mark sent; how many rows it took (of `cases`
        only, when given)."""
        at = now or datetime.now(UTC)
        self._reads.clear()
        claim = await asyncio.to_thread(
            self.scheduled.claim, at, limit=self.batch, stale=self.stale, cases=cases
        )
        due = claim.notifications
        if not due:
            return 0
        # In the outbox first, as the journey's write would put them (a row already there —
        # the journey's own timer was first — is skipped, and so is its send, by the ledger).
        new = set(await asyncio.to_thread(self.store.queue_notifications, due))
        meter = self.delivery.meter or Runtime.default().metric_meter
        report_notifications(self.log, [n for n in due if n.idempotency_key in new], meter)
        await asyncio.gather(*(self._one(n, at) for n in due))
        await asyncio.to_thread(self.scheduled.finish, claim)
        self.log.info("dispatched", count=len(due), late_s=_late(due, at))
        return len(due)

    async def _one(self, n: Notification, at: datetime) -> None:
        if time.monotonic() < self._resting_until:
            await self._slow(n)
            return
        loop = asyncio.get_running_loop()
        try:
            async with self._senders:
                hold = await asyncio.wait_for(
                    loop.run_in_executor(self._pool, self.deliver, n, at), self.send_seconds
                )
        except Exception as e:
            self._resting_until = time.monotonic() + self.pause_seconds
            self.log.warning(
                "delivery_handed_to_workflow",
                case_id=n.case_id,
                key=n.idempotency_key,
                why="too slow" if isinstance(e, TimeoutError) else type(e).__name__,
                direct_paused_seconds=self.pause_seconds,
            )
            await self._slow(n)
            return
        if hold is not None:
            await asyncio.to_thread(self.scheduled.hold, n, hold)

    async def _slow(self, n: Notification) -> None:
        await self.starter.deliver(self.client, self.task_queue, [n], first_try=False)

    def deliver(self, n: Notification, now: datetime) -> datetime | None:
        """`DeliverNotification`'s path without a workflow, for a notification whose channels
        work: up the levels while nobody is reachable (audited), send to whoever is not in
        quiet hours, hold the rest (audited, in the ledger). Returns when to try the held ones
        again, or None. Raises when a send failed (the workflow then takes it over)."""
        role: Recipient = n.recipient
        why = str(role)
        while not (
            found := self.delivery.resolve_recipients(
                ResolveRequest(notification=n, role=role, at=now)
            )
        ).targets:
            above = NEXT_LEVEL.get(role)
            reason = f"{why}: {found.unreachable}"
            if above is None:
                self._audit(n, AuditAction.UNDELIVERABLE, reason, {"role": str(role)})
                self.log.error(
                    "undeliverable", case_id=n.case_id, key=n.idempotency_key, reason=reason
                )
                return None
            self._audit(
                n, AuditAction.DELIVERY_ESCALATED, reason, {"from": str(role), "to": str(above)}
            )
            role, why = above, f"escalated from {role}"
        later: list[datetime] = []
        for t in found.targets:
            if t.hold_until is not None and t.hold_until > now:
                names = [c.name for c in t.channels]
                ids = [(c, channels.message_id(n.idempotency_key, t.person, c)) for c in names]
                self.ledger.held(n.idempotency_key, n.case_id, t.person, ids, t.hold_until)
                detail = {"person": t.person, "until": t.hold_until.isoformat()}
                self._audit(n, AuditAction.DELIVERY_HELD, "quiet hours", detail)
                later.append(t.hold_until)
                continue
            for ch in t.channels:
                self.delivery.send(n, t, ch, "dispatcher")
        return min(later) if later else None

    def _audit(self, n: Notification, action: str, reason: str, detail: dict[str, str]) -> None:
        """As `record_delivery_event` audits it, once per notification, action and detail."""
        now = datetime.now(UTC)
        tag = ":".join(str(v) for v in detail.values())
        entry = AuditEntry(
            event_id=f"dispatch:{n.idempotency_key}:{action}:{tag}"[:255],
            case_id=n.case_id,
            action=str(action),
            actor="system",
            occurred_at=now,
            recorded_at=now,
            detail={"key": n.idempotency_key, **detail},
            reason=reason,
        )
        self.store.append_audit([entry])


class _RoundReads:
    """The directory as one dispatcher round reads it: who holds a role (`holders`) and a
    person's contact details (`contact`) are read once per round and shared by its rows; every
    other question goes to the directory as asked. Cleared at the start of each round, so a
    change to the directory reaches the next round (a fraction of a second later)."""

    SHARED = frozenset({"holders", "contact"})

    def __init__(self, directory: Any) -> None:
        self._directory = directory
        self._answers: dict[tuple[object, ...], object] = {}
        self._lock = threading.Lock()  # the round's sends run on several threads

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def __getattr__(self, name: str) -> Any:
        asked: Callable[..., object] = getattr(self._directory, name)
        if name not in self.SHARED:
            return asked

        def once(*args: object, **kwargs: object) -> object:
            key = (name, args, tuple(sorted(kwargs.items())))
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
            answer = asked(*args, **kwargs)
            with self._lock:
                self._answers[key] = answer
            return answer

        return once


def _late(due: list[Notification], at: datetime) -> float:
    """How late the round took its latest row, in seconds (the dispatcher's own lag)."""
    return round(max((at - n.scheduled_for).total_seconds() for n in due), 3)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
