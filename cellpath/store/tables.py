"""Tables of the case store (SQLModel): the only place identifying details live.

- `patients`: identifying details (PHI), keyed by the pseudonymous `patient_ref`.
- `cases`: which case belongs to which patient reference.
- `journeys`: a projection of each journey for lists and dashboards (no PHI).
- `notification_outbox`: reminders, escalations and alerts; `idempotency_key` is unique, so a
  retried activity never queues a message twice.
- `audit_log`: append-only record of who did what, when and why; `event_id` is unique.
- `staff`: who may use cellpath and in which role (coordinator, physician, site staff, viewer).
- `dead_letters`: writes the store could not hold (a value a column refuses), set aside so
  they never hold back a journey's later writes; operators read them with `cellpath doctor`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware.

    SQLite has no time zones and returns naive values; PostgreSQL's timestamptz returns
    aware ones. Normalising here means the rest of the code only ever sees aware UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a UTC offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Patient(SQLModel, table=True):
    """A patient's identifying details (PHI). Never leaves the case store.

    Intake requires name, birth date and nationality; they are nullable here only because
    erasure (`CaseStore.erase_patient`) clears every identifying column and keeps the row, so
    the pseudonymous `patient_ref` that journeys and the audit log point to stays resolvable
    to "erased on …, by …, because …".
    """

    __tablename__ = "patients"

    patient_ref: str = Field(primary_key=True, max_length=64)
    full_name: str | None = None
    birth_date: date | None = None
    nationality: str | None = Field(default=None, max_length=2)
    passport_number: str | None = None
    email: str | None = None
    phone: str | None = None
    created_at: datetime = _ts()
    erased_at: datetime | None = _ts(default=None)
    erased_by: str | None = None


IDENTIFYING_FIELDS = (
    "full_name",
    "birth_date",
    "nationality",
    "passport_number",
    "email",
    "phone",
)


class Case(SQLModel, table=True):
    """A case (one journey) and the patient it belongs to."""

    __tablename__ = "cases"

    case_id: str = Field(primary_key=True, max_length=64)
    patient_ref: str = Field(foreign_key="patients.patient_ref", index=True, max_length=64)
    created_at: datetime = _ts()


class JourneyRow(SQLModel, table=True):
    """The projection of one journey; written only by the workflow's activity."""

    __tablename__ = "journeys"

    case_id: str = Field(primary_key=True, max_length=64)
    patient_ref: str = Field(max_length=64)
    revision: int
    phase: str = Field(index=True)
    outcome: str | None = None
    therapy: str
    cell_source: str
    program: str
    site: str | None = Field(default=None, index=True)
    coordinator: str = Field(index=True)
    next_deadline: str | None = None
    next_deadline_at: datetime | None = _ts(default=None)
    overdue: bool = Field(default=False, index=True)
    escalation_level: int = 0
    updated_at: datetime = _ts()


class NotificationRow(SQLModel, table=True):
    """A message waiting for (or past) delivery; `delivered_at` is set by the dispatcher."""

    __tablename__ = "notification_outbox"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    case_id: str = Field(index=True, max_length=64)
    kind: str
    recipient: str
    recipient_ref: str | None = None
    deadline: str | None = None
    level: int = 0
    severity: str
    scheduled_for: datetime = _ts()
    text: str
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(default=None)


class AuditRow(SQLModel, table=True):
    """One append-only audit record. Rows are inserted, never updated or deleted."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=255)
    case_id: str = Field(index=True, max_length=64)
    action: str
    actor: str
    occurred_at: datetime = _ts()
    recorded_at: datetime = _ts()
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    reason: str = ""
    stored_at: datetime = _ts()


class StaffMember(SQLModel, table=True):
    """A person allowed to use cellpath, by the actor id they record under, and their role."""

    __tablename__ = "staff"

    actor: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=32)
    added_by: str
    added_at: datetime = _ts()


class DeadLetter(SQLModel, table=True):
    """A write the case store refused for its data (not an outage), kept for operators.

    `payload` is the entry as escaped JSON text (ASCII only, so it fits whatever the original
    did not); `key` is its idempotency key or event id, shortened and made printable.
    """

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=32)
    key: str = Field(max_length=255)
    error: str
    payload: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts()
