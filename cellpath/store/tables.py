"""Tables of the case store (SQLModel): the only place identifying details live.

- `patients`: identifying details (PHI), keyed by the pseudonymous `patient_ref`.
- `cases`: which case belongs to which patient reference.
- `journeys`: a projection of each journey for lists and dashboards (no PHI).
- `notification_outbox`: reminders, escalations and alerts; `idempotency_key` is unique, so a
  retried activity never queues a message twice.
- `audit_log`: append-only record of who did what, when and why; `event_id` is unique.
- `staff`: who may use cellpath and in which role (coordinator, physician, site staff, viewer).
- `staff_contacts`, `role_assignments`: the directory — how to reach each member of staff, and
  who is lead coordinator, medical director or on call, where and when.
- `deliveries`: each notification's delivery to one person on one channel (attempts, when it
  was delivered, the last error); unique per notification, person and channel.
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
    # How the family is addressed: their language (messages are chosen by it) and a caregiver
    # reached besides the patient (revision 0003).
    preferred_language: str | None = Field(default=None, max_length=16)
    caregiver_name: str | None = None
    caregiver_email: str | None = None
    caregiver_phone: str | None = None
    # Who takes the patient back at home: the hand-over goes to them (revision 0005).
    home_oncologist_name: str | None = None
    home_oncologist_institution: str | None = None
    home_oncologist_email: str | None = None
    # The name and passport number folded for search (`search_key`: ASCII, lower case, no
    # spaces; pinyin for Chinese), kept in step by the listeners below (revision 0011). It is
    # identifying too: erasure clears it.
    search_key: str | None = None
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
    "caregiver_name",
    "caregiver_email",
    "caregiver_phone",
    "home_oncologist_name",
    "home_oncologist_institution",
    "home_oncologist_email",
    "search_key",
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
    # Open alerts and the most severe of them (revision 0004).
    open_alerts: int = 0
    top_alert: str | None = Field(default=None, max_length=16)
    # Of those, critical and urgent ones: such a case tops every worklist (revision 0007).
    critical_alerts: int = Field(default=0, index=True)
    urgent_alerts: int = Field(default=0, index=True)


class NotificationRow(SQLModel, table=True):
    """A message waiting for (or past) delivery; `delivered_at` is set by the dispatcher."""

    __tablename__ = "notification_outbox"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    case_id: str = Field(index=True, max_length=64)
    kind: str = Field(index=True)  # the measures count escalations and alerts (0012)
    recipient: str
    recipient_ref: str | None = None
    deadline: str | None = None
    level: int = 0
    severity: str
    scheduled_for: datetime = _ts()
    text: str
    due_at: datetime | None = _ts(default=None)
    timezone: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(default=None)


class AuditRow(SQLModel, table=True):
    """One append-only audit record. Rows are inserted, never updated or deleted."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=255)
    case_id: str = Field(index=True, max_length=64)
    action: str = Field(index=True)  # the measures count some actions across cases (0012)
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
    # The sites whose cases a physician or site nurse works on (the console's worklist);
    # empty: every site (revision 0004).
    sites: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class StaffCredential(SQLModel, table=True):
    """A staff member's console password, as an Argon2 hash (never the password itself).

    Kept apart from `staff` so that listing staff can never carry a hash along.
    """

    __tablename__ = "staff_credentials"

    actor: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(max_length=255)
    changed_by: str
    changed_at: datetime = _ts()


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


class StaffContact(SQLModel, table=True):
    """How to reach a member of staff: e-mail, phone, Apprise URLs (chat, pager, SMS), the
    language and time zone messages are written in, and quiet hours (HH:MM-HH:MM, local)."""

    __tablename__ = "staff_contacts"

    actor: str = Field(primary_key=True, max_length=64)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    urls: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    language: str = Field(default="en", max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    quiet_hours: str | None = Field(default=None, max_length=11)
    updated_by: str
    updated_at: datetime = _ts()


class SiteRow(SQLModel, table=True):
    """A treatment site: the name, the phone and the address families are given (0008)."""

    __tablename__ = "sites"

    site: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    phone: str = Field(max_length=32)
    address: str = Field(max_length=500)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    updated_by: str
    updated_at: datetime = _ts()


class RoleAssignment(SQLModel, table=True):
    """Who holds a recipient role (lead coordinator, medical director, on call), where
    (a site, a program, or everywhere) and when (on call: a rota of time ranges)."""

    __tablename__ = "role_assignments"

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(index=True, max_length=32)
    actor: str = Field(max_length=64)
    site: str | None = Field(default=None, index=True, max_length=64)
    program: str | None = Field(default=None, max_length=32)
    valid_from: datetime | None = _ts(default=None)
    valid_until: datetime | None = _ts(default=None)
    assigned_by: str
    assigned_at: datetime = _ts()


class CaseCover(SQLModel, table=True):
    """Someone added to a case's care team besides its coordinator and its site's staff (a
    coordinator covering a colleague's cases, a physician consulted on it)."""

    __tablename__ = "case_cover"
    __table_args__ = (sa.UniqueConstraint("case_id", "actor"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    actor: str = Field(index=True, max_length=64)
    added_by: str = Field(max_length=64)
    added_at: datetime = _ts()


class StaffCover(SQLModel, table=True):
    """A coordinator covering a colleague's cases for a period (leave, a conference): in the
    care team of every case the colleague coordinates while it lasts (0013)."""

    __tablename__ = "staff_cover"

    id: int | None = Field(default=None, primary_key=True)
    absent: str = Field(index=True, max_length=64)
    covering: str = Field(index=True, max_length=64)
    starts_at: datetime = _ts()
    ends_at: datetime = _ts()
    reason: str = Field(max_length=500)
    added_by: str = Field(max_length=64)
    added_at: datetime = _ts()


class BreakGlass(SQLModel, table=True):
    """Emergency access to a case by someone outside its care team: why, and until when."""

    __tablename__ = "break_glass"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    actor: str = Field(index=True, max_length=64)
    reason: str = Field(max_length=2000)
    granted_at: datetime = _ts()
    expires_at: datetime = _ts()


class ConsoleSession(SQLModel, table=True):
    """A console sign-in, held server-side: the cookie carries only its random id, so signing
    out or changing the password ends it even where the cookie was copied."""

    __tablename__ = "console_sessions"

    id: str = Field(primary_key=True, max_length=64)
    actor: str = Field(index=True, max_length=64)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(default=None)


class RecordFile(SQLModel, table=True):
    """One record file of a case (revision 0009): what it is, who added it, where its sealed
    bytes are (`blob_key`, `key_id`: `cellpath.records.vault`), and its translation for the PI.

    `source` is `staff` or `family`; a family's upload waits (`status` `pending`) until a
    coordinator accepts it (`accepted`, recorded in the journey) or turns it down
    (`declined`). `translation_of` points a translation's row at its record's id.
    """

    __tablename__ = "records"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    sha256: str = Field(index=True, max_length=64)
    record_type: str = Field(max_length=32)
    language: str | None = Field(default=None, max_length=16)
    pages: int | None = None
    media_type: str = Field(max_length=64)
    size_bytes: int
    filename: str = Field(default="", max_length=255)
    key_id: str = Field(max_length=64)
    blob_key: str = Field(max_length=255)
    source: str = Field(default="staff", max_length=16)
    status: str = Field(default="accepted", max_length=16)
    translation: str | None = Field(default=None, max_length=16)
    translation_of: int | None = Field(default=None, index=True)
    added_by: str = Field(max_length=80)
    added_at: datetime = _ts()
    erased_at: datetime | None = _ts(default=None)


class CaseNote(SQLModel, table=True):
    """The case's thread (revision 0009): staff notes (internal), messages to the family (with
    their delivery state) and messages from them. May name the patient: case store only."""

    __tablename__ = "case_notes"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=16)  # note, to_family, from_family, symptom
    author: str = Field(max_length=80)
    text: str = Field(sa_type=sa.Text)
    language: str | None = Field(default=None, max_length=16)
    delivery: str | None = Field(default=None, max_length=16)  # sent, failed, no_address
    delivery_error: str = ""
    created_at: datetime = _ts()


class FamilyLink(SQLModel, table=True):
    """A sign-in link sent to a family (revision 0009): only the SHA-256 of its token is kept;
    it works once, until `expires_at`."""

    __tablename__ = "family_links"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(unique=True, max_length=64)
    case_id: str = Field(index=True, max_length=64)
    sent_to: str = Field(max_length=16)  # patient or caregiver (never the address itself)
    requested_by: str = Field(max_length=80)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(default=None)
    # The second factor, when one was sent: the code's SHA-256 (salted with the link), until
    # when it works, how many wrong tries so far.
    code_sha256: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = _ts(default=None)
    code_tries: int = 0


class Delivery(SQLModel, table=True):
    """One notification to one person on one channel: the idempotency of delivery.

    `channel` names the channel without its secret (`email`, `sms`, `url:slack#1`);
    `message_id` is derived from the notification's key (e-mail `Message-ID`), so a message
    sent twice across a crash is recognisably the same message.
    """

    __tablename__ = "deliveries"
    __table_args__ = (sa.UniqueConstraint("idempotency_key", "person", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(index=True, max_length=255)
    case_id: str = Field(index=True, max_length=64)
    person: str = Field(max_length=80)
    channel: str = Field(max_length=64)
    message_id: str = Field(max_length=255)
    attempts: int = 0
    held_until: datetime | None = _ts(default=None)
    delivered_at: datetime | None = _ts(default=None)
    last_error: str = ""
    created_at: datetime = _ts()


class SiteResource(SQLModel, table=True):
    """A site's scarce resource: how many per day (or week), and when it is open (0010).

    `lock_version` is bumped by every booking of it: the update takes the row's lock
    (PostgreSQL) or the database's write lock (SQLite) before anything is counted, so two
    bookings of the same resource are decided one after the other."""

    __tablename__ = "site_resources"

    site: str = Field(primary_key=True, max_length=64)
    resource: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    capacity: int
    per: str = Field(max_length=8)
    open_days: str = Field(max_length=32)  # mon,tue,…
    holidays: str | None = Field(default=None, max_length=2)
    closed: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # ISO dates
    product: str | None = Field(default=None, max_length=64)
    lock_version: int = 0
    updated_by: str
    updated_at: datetime = _ts()


class SlotBooking(SQLModel, table=True):
    """A booking of a site's resource for a case, from `first_day` to `last_day` (0010).

    `held` until the journey's write confirms it (`booked`), then `released` (its seats
    deleted) when the journey gives it back or closes; `expired` for a hold never confirmed,
    `lost` for one confirmed after its place was taken."""

    __tablename__ = "slot_bookings"
    __table_args__ = (sa.Index("ix_slot_bookings_site_resource", "site", "resource"),)

    booking_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(index=True, max_length=64)
    site: str = Field(max_length=64)
    resource: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    first_day: date
    last_day: date
    chain_step: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    booked_by: str = Field(max_length=64)
    held_at: datetime = _ts()
    confirmed_at: datetime | None = _ts(default=None)
    released_at: datetime | None = _ts(default=None)
    release_reason: str | None = Field(default=None, max_length=200)


class SlotSeat(SQLModel, table=True):
    """One place of one unit (a day, or a week's Monday) of a resource, taken by a booking
    (0010). The primary key makes overbooking impossible even if counting went wrong: two
    bookings can never hold the same seat, and seats are numbered below the capacity."""

    __tablename__ = "slot_seats"

    site: str = Field(primary_key=True, max_length=64)
    resource: str = Field(primary_key=True, max_length=64)
    unit: date = Field(primary_key=True)
    seat: int = Field(primary_key=True)
    booking_id: str = Field(index=True, max_length=64, foreign_key="slot_bookings.booking_id")


@sa.event.listens_for(Patient, "before_insert")
@sa.event.listens_for(Patient, "before_update")
def _fold_for_search(_mapper: Any, _connection: Any, target: Patient) -> None:
    """Keep `search_key` in step with the name and passport number (and clear it with them)."""
    from cellpath.store.search import search_key

    target.search_key = search_key(target.full_name, target.passport_number)


class ScheduleRow(SQLModel, table=True):
    """A step of a journey's schedule for the board across patients (0012): done (when) or
    ahead (expected, and the range), replaced whole by each of the journey's newest writes."""

    __tablename__ = "journey_schedule"

    case_id: str = Field(primary_key=True, max_length=64)
    step: str = Field(primary_key=True, max_length=64)
    # When the step is on the board: done_at once done, else expected. A column of its own,
    # indexed with the step, so a span of days is an index range, not a scan of every row.
    at: datetime = _ts()
    expected: datetime = _ts()
    earliest: datetime = _ts()
    latest: datetime = _ts()
    basis: str = Field(max_length=16)
    done_at: datetime | None = _ts(default=None)
    # The journey's site and coordinator as of the write (a board is per site or per
    # coordinator): each with `at` in an index, so PostgreSQL reads one site's span, not every
    # site's span probing each journey (a site's month took 0.8 s with 10,000 journeys).
    site: str | None = Field(default=None, max_length=64)
    coordinator: str = Field(default="", max_length=64)

    __table_args__ = (
        sa.Index("ix_journey_schedule_step_at", "step", "at"),
        sa.Index("ix_journey_schedule_site_at", "site", "at"),
        sa.Index("ix_journey_schedule_coordinator_at", "coordinator", "at"),
    )


class MeasureRow(SQLModel, table=True):
    """A journey's figures for the program's measures (0012), one row per journey, rewritten
    with each of its newest writes (`cellpath.store.measures.summarise`): the measures read a
    quarter's rows, not every step of every journey."""

    __tablename__ = "journey_measures"

    case_id: str = Field(primary_key=True, max_length=64)
    quarter: str = Field(index=True, max_length=8)
    site: str = Field(max_length=64)
    program: str = Field(max_length=32)
    product: str = Field(max_length=32)
    # Days from intake (the case's creation) to each step, and from apheresis to infusion
    # (`measures.DURATIONS`); None until both ends are done. Plain columns, not JSON: a report
    # reads a quarter's thousands of rows, and decoding was most of its time.
    to_eligibility: float | None = None
    to_pi_decision: float | None = None
    to_arrival: float | None = None
    vein_to_vein: float | None = None
    to_discharge: float | None = None
    # The steps done among those a report counts (`measures.TRACKED`), as "|a|b|".
    done: str = Field(default="", max_length=1000)


class ScheduledRow(SQLModel, table=True):
    """A reminder or escalation a journey will send at `due_at` if nothing changes first (0014):
    the scheduled outbox, which the dispatcher sends on time (`cellpath.store.ahead`).

    Each journey's write replaces its `pending` rows whole (`JourneyWrite.ahead`); the
    dispatcher claims due ones (`sending`, with `claimed_at`), queues and sends each, and marks
    it `sent`; the journey's own timer, sending the same key later, finds it `sent` and sends
    nothing, or finds it `pending` and takes it over (`done`)."""

    __tablename__ = "scheduled_outbox"

    idempotency_key: str = Field(primary_key=True, max_length=255)
    case_id: str = Field(index=True, max_length=64)
    due_at: datetime = _ts()
    state: str = Field(default="pending", max_length=16)
    claimed_at: datetime | None = _ts(default=None)
    claim: str | None = Field(default=None, max_length=32)
    # The notification as the journey made it (JSON; PHI-free like the outbox row).
    payload: str = Field(sa_type=sa.Text)

    __table_args__ = (sa.Index("ix_scheduled_outbox_state_due", "state", "due_at"),)
