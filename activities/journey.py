"""Activities of `PatientJourney`, as classes whose dependencies come through `__init__`.

Each activity is one unit of work in one transaction and idempotent on a business key, so
Temporal may retry it freely: a store outage delays a reminder or a projection, never loses it.
The worker registers the bound methods (`create_worker`); tests register doubles under the same
names when they need to.
"""

from __future__ import annotations

import asyncio

import structlog
from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError

from activities.delivery import DeliveryStarter
from cellpath.store import CaseStore
from models.calendar import BusinessCalendar, load_business_calendar
from models.messages import (
    AuditBatch,
    CalendarRequest,
    JourneyProjection,
    JourneyWrite,
    Notification,
    NotificationBatch,
    StoreResult,
    WriteResult,
)

Logger = structlog.typing.FilteringBoundLogger


class CaseStoreActivities:
    """Writes the journey's projection, audit trail and outbox to the case store."""

    def __init__(
        self,
        store: CaseStore,
        logger: Logger | None = None,
        delivery: DeliveryStarter | None = None,
    ) -> None:
        self.store = store
        self.log = logger or structlog.get_logger("cellpath.store")
        self.delivery = delivery

    @activity.defn(name="write_journey")
    async def write_journey(self, batch: JourneyWrite) -> WriteResult:
        """One workflow task's writes (projection, audit, outbox) as one unit of work, then
        the delivery of each notification (`DeliverNotification`, started once).

        Idempotent; a row the store refuses for its data is set aside (dead letter, audited,
        logged as an error and counted), never retried forever in front of later writes.
        """
        # The store is synchronous (SQLAlchemy): in a thread, so this loop keeps polling.
        result = await asyncio.to_thread(self._write, batch)
        if self.delivery is not None:
            # What a dispatcher took from the scheduled outbox is its to send (or sent).
            taken = set(result.dispatched)
            await self.delivery.start(
                [n for n in batch.notifications if n.idempotency_key not in taken]
            )
        return result

    def _write(self, batch: JourneyWrite) -> WriteResult:
        result = self.store.write_journey(batch)
        queued = set(result.queued)
        report_notifications(
            self.log, [n for n in batch.notifications if n.idempotency_key in queued]
        )
        if result.set_aside:
            activity.metric_meter().create_counter(
                "cellpath_store_set_aside", "case-store writes set aside as dead letters"
            ).add(result.set_aside)
            self.log.error(
                "store_write_set_aside",
                case_id=batch.projection.case_id,
                count=result.set_aside,
                hint="cellpath doctor lists dead letters",
            )
        return result

    @activity.defn(name="project_journey")
    def project_journey(self, projection: JourneyProjection) -> StoreResult:
        """Upsert the journey's row; an older revision never overwrites a newer one."""
        changed = self.store.upsert_projection(projection)
        return StoreResult(written=int(changed))

    @activity.defn(name="record_audit")
    def record_audit(self, batch: AuditBatch) -> StoreResult:
        """Append audit entries (append-only; a retried entry is stored once)."""
        return StoreResult(written=self.store.append_audit(batch.entries))


class NotificationActivities:
    """Queues reminders, escalations and alerts in the outbox, logs each one, and starts its
    delivery (`DeliverNotification`): the outbox row is the durable record of what was sent."""

    def __init__(
        self,
        store: CaseStore,
        logger: Logger | None = None,
        delivery: DeliveryStarter | None = None,
    ):
        self.store = store
        self.log = logger or structlog.get_logger("cellpath.notifications")
        self.delivery = delivery

    @activity.defn(name="send_notifications")
    async def send_notifications(self, batch: NotificationBatch) -> StoreResult:
        """Put notifications in the outbox (those already there, a retry, are skipped), then
        start their delivery. Runs written before `write_journey` existed still call this one.
        """
        written = await asyncio.to_thread(self.store.add_notifications, batch.notifications)
        # One transaction: either the whole batch is new, or a retry found all of it stored.
        report_notifications(self.log, batch.notifications if written else [])
        if self.delivery is not None:
            await self.delivery.start(batch.notifications)
        return StoreResult(written=written)


def report_notifications(
    log: Logger, queued: list[Notification], meter: MetricMeter | None = None
) -> None:
    """Log and count notifications newly queued (a retry that found them stored counts none);
    on the activity's meter, or `meter` outside one (the dispatcher)."""
    sent = (meter or activity.metric_meter()).create_counter(
        "cellpath_notifications_sent", "reminders, escalations and alerts queued"
    )
    for n in queued:
        sent.add(1, {"kind": str(n.kind), "level": str(n.level), "severity": str(n.severity)})
    for n in queued:
        # Case id, deadline and roles only: the text is PHI-free by construction.
        log.info(
            "notification_queued",
            case_id=n.case_id,
            kind=str(n.kind),
            recipient=str(n.recipient),
            deadline=n.deadline,
            level=n.level,
            severity=str(n.severity),
            key=n.idempotency_key,
        )


class CalendarActivities:
    """Loads holiday tables, which change with package upgrades (so they go through history).

    A journey takes no milestone until its calendar is loaded, so this must never wait for
    anything: it is asynchronous (it runs on the worker's event loop, never queued behind the
    store's writes for a thread or an activity slot — it is a local activity, with slots of its
    own) and each table is computed once per process (≈ 60 ms; then microseconds).
    """

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str, tuple[int, ...]], BusinessCalendar] = {}

    @activity.defn(name="load_business_calendar")
    async def load_business_calendar(self, request: CalendarRequest) -> BusinessCalendar:
        """The business calendar of a country and years; an unknown country is not retried."""
        key = (request.country, request.timezone, tuple(sorted(request.years)))
        table = self._tables.get(key)
        if table is None:
            try:
                table = load_business_calendar(request.country, request.timezone, request.years)
            except ValueError as e:
                raise ApplicationError(str(e), type="UnknownCalendar", non_retryable=True) from e
            self._tables[key] = table
        return table
