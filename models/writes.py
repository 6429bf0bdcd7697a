"""Payloads of activities: what a journey hands the case store and delivery (notifications,
audit entries, its projection, one write holding them all) and what comes back. PHI-free: case
ids, roles and pseudonymous refs only. Re-exported by `models.messages`, the public contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from models.enums import (
    CellSource,
    NotificationKind,
    Outcome,
    Phase,
    Program,
    Recipient,
    Severity,
    Therapy,
)
from models.schedule import ProjectedStep


class Notification(BaseModel):
    """A reminder, escalation or alert to put in the outbox. PHI-free: case id and roles only."""

    idempotency_key: str
    case_id: str
    kind: NotificationKind
    recipient: Recipient
    recipient_ref: str | None = None
    deadline: str | None = None
    level: int = 0
    severity: Severity = Severity.INFO
    scheduled_for: datetime
    text: str
    # The deadline's due time (or a window's end), for messages that format it in the
    # recipient's own language and time zone; None for notifications without one.
    due_at: datetime | None = None
    # Where the family is (for the family's messages): the centre's zone during treatment,
    # the home zone once they returned home.
    timezone: str | None = None
    # An alert's id (a message names the one to acknowledge) and when the thing told of
    # happened (an alert's repeat says when it was raised, not when it is sent again).
    alert_id: str | None = None
    event_at: datetime | None = None


class AuditEntry(BaseModel):
    """One append-only audit record: who did what, when, and why."""

    event_id: str
    case_id: str
    action: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""


class JourneyProjection(BaseModel):
    """The row of the case store's journey list; `revision` orders out-of-order upserts."""

    case_id: str
    patient_ref: str
    revision: int
    phase: Phase
    outcome: Outcome | None = None
    therapy: Therapy
    cell_source: CellSource
    program: Program
    site: str | None = None
    coordinator: str
    next_deadline: str | None = None
    next_deadline_at: datetime | None = None
    overdue: bool = False
    escalation_level: int = 0
    updated_at: datetime
    # Open alerts, and the most severe (the console's worklist; visibility has no attribute).
    open_alerts: int = 0
    top_alert: Severity | None = None
    # Of those, the ones that put a case at the top of every worklist holding it.
    critical_alerts: int = 0
    urgent_alerts: int = 0
    # The bookings it holds (runs under `CAPACITY`; None: the case store's are left as they are).
    bookings: list[str] | None = None


class NotificationBatch(BaseModel):
    """Notifications the workflow hands to the outbox in one activity call."""

    notifications: list[Notification]


class AuditBatch(BaseModel):
    """Audit entries the workflow hands to the audit log in one activity call."""

    entries: list[AuditEntry]


class JourneyWrite(BaseModel):
    """Everything one workflow task has for the case store, written as one unit of work: the
    journey as it now is, every entry not yet confirmed written, the schedule for the board."""

    projection: JourneyProjection
    audit: list[AuditEntry] = Field(default_factory=list)
    notifications: list[Notification] = Field(default_factory=list)
    schedule: list[ProjectedStep] | None = None
    # The reminders and escalations its deadlines will send, each at its own time, if nothing
    # changes first (`deadlines.ahead`): the scheduled outbox, sent by the dispatcher on time.
    # None: the same as the last write said (most writes change no deadline).
    ahead: list[Notification] | None = None


class WriteResult(BaseModel):
    """What a `JourneyWrite` changed; rows the store could not hold are set aside, not lost."""

    projected: bool = False
    audit: int = 0
    notifications: int = 0
    set_aside: int = 0
    # Idempotency keys of the notifications this write queued (not those already there).
    queued: list[str] = Field(default_factory=list)
    # Of this write's notifications, those the dispatcher took from the scheduled outbox.
    dispatched: list[str] = Field(default_factory=list)


class StoreResult(BaseModel):
    """How many rows an idempotent write added (0 when a retry found them already there)."""

    written: int


class CalendarRequest(BaseModel):
    """Which business calendar to load."""

    country: str
    timezone: str
    years: list[int]
