"""Activities of `PatientJourney`, as classes whose dependencies come through `__init__`.

Each activity is one unit of work in one transaction and idempotent on a business key, so
Temporal may retry it freely: a store outage delays a reminder or a projection, never loses it.
The worker registers the bound methods (`create_worker`); tests register doubles under the same
names when they need to.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

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

    def __init__(self, store: CaseStore, logger: Logger | None = None) -> None:
        self.store = store
        self.log = logger or structlog.get_logger("cellpath.store")

    @activity.defn(name="write_journey")
    def write_journey(self, batch: JourneyWrite) -> WriteResult:
        """One workflow task's writes (projection, audit, outbox) as one unit of work.

        Idempotent; a row the store refuses for its data is set aside (dead letter, audited,
        logged as an error and counted), never retried forever in front of later writes.
        """
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
    """Queues reminders, escalations and alerts in the outbox and logs each one.

    Delivery (e-mail, SMS, pager) is a dispatcher reading the outbox; the outbox row is the
    durable promise that the message will go out exactly once.
    """

    def __init__(self, store: CaseStore, logger: Logger | None = None):
        self.store = store
        self.log = logger or structlog.get_logger("cellpath.notifications")

    @activity.defn(name="send_notifications")
    def send_notifications(self, batch: NotificationBatch) -> StoreResult:
        """Put notifications in the outbox; those already there (a retry) are skipped.

        Runs written before `write_journey` existed still call this one.
        """
        written = self.store.add_notifications(batch.notifications)
        # One transaction: either the whole batch is new, or a retry found all of it stored.
        report_notifications(self.log, batch.notifications if written else [])
        return StoreResult(written=written)


def report_notifications(log: Logger, queued: list[Notification]) -> None:
    """Log and count notifications newly queued (a retry that found them stored counts none)."""
    sent = activity.metric_meter().create_counter(
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
    """Loads holiday tables, which change with package upgrades (so they go through history)."""

    @activity.defn(name="load_business_calendar")
    def load_business_calendar(self, request: CalendarRequest) -> BusinessCalendar:
        """The business calendar of a country and years; an unknown country is not retried."""
        try:
            return load_business_calendar(request.country, request.timezone, request.years)
        except ValueError as e:
            raise ApplicationError(str(e), type="UnknownCalendar", non_retryable=True) from e
