"""The case store: one SQLModel database reached through a session factory.

`CaseStore` is the unit of work for everything that reads or writes the case store (the CLI
for intake and lists, the activities for projections, the outbox and the audit log). Every
write is idempotent on a business key, so a retried activity leaves the same rows.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from cellpath.store import ahead
from cellpath.store.capacity import reconcile
from cellpath.store.measures import summarise
from cellpath.store.rows import (
    _audit_row,
    _audit_rows,
    _insert_ignoring_duplicates,
    _notification_rows,
    _now,
    _printable,
    _replace_schedule,
    _upsert_projection,
    is_data_error,
)
from cellpath.store.tables import (
    IDENTIFYING_FIELDS,
    AuditRow,
    Case,
    ConsoleSession,
    DeadLetter,
    JourneyRow,
    NotificationRow,
    Patient,
    StaffCredential,
    StaffMember,
)
from models.enums import AuditAction
from models.errors import CaseStoreError
from models.messages import AuditEntry, JourneyProjection, JourneyWrite, Notification, WriteResult
from models.roles import Role

# Audit entries about staff, not about one case, are filed under this case id.
STAFF_AUDIT = "staff"

RowT = TypeVar("RowT", bound=SQLModel)


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`; for SQLite the folder is created and WAL mode switched on.

    `hide_parameters`: a database error's message would otherwise carry the statement's
    values — a patient's name, passport number, contacts — into every traceback and log.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the CLI read while the worker writes; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _project(s: Session, p: JourneyProjection) -> bool:
    """Upsert a journey's row; for its newest revision, make the case store's bookings of the
    case what the journey holds (`capacity.reconcile`)."""
    projected = _upsert_projection(s, p)
    if projected and p.bookings is not None:
        reconcile(s, p.case_id, p.bookings, _now())
    return projected


class CaseStoreNotMigrated(CaseStoreError):
    """The database's schema is not the one this code expects; the message says what to run."""


@functools.lru_cache(maxsize=32)
def _checked(url: str) -> bool:
    """Once per process and database: migrate SQLite, verify anything else."""
    from cellpath.store import migrations

    engine = make_engine(url)
    try:
        at, head = migrations.current(engine), migrations.head()
        if at == head:
            return True
        if engine.dialect.name == "sqlite":
            if at is None and sa.inspect(engine).has_table("patients"):
                raise CaseStoreNotMigrated(
                    f"{url} was created before the case store had migrations; move it aside "
                    "(development data: delete .cellpath/) and start again"
                )
            # The development default: SQLite files follow the code on their own.
            migrations.upgrade_engine(engine)
            return True
        raise CaseStoreNotMigrated(
            f"the case store is at revision {at or 'none'}, this code needs {head}: run "
            "`cellpath migrate` (the compose file's `migrate` job) first"
        )
    finally:
        engine.dispose()


class CaseStore:
    """Access to the case store.

    Its schema is owned by the Alembic migrations in `migrations/`: a SQLite file (the
    development default) is migrated on first use; any other database must already be at
    head (`cellpath migrate`), else `CaseStoreNotMigrated` names the command to run.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        _checked(engine.url.render_as_string(hide_password=False))

    @classmethod
    def from_url(cls, url: str) -> CaseStore:
        """A store on the database at `url`."""
        return cls(make_engine(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends normally, rolled back otherwise."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    # --- patients ------------------------------------------------------------------------------

    @staticmethod
    def mint_patient_ref() -> str:
        """A new pseudonymous patient reference (random: derived from nothing identifying)."""
        return f"pt-{uuid.uuid4().hex[:16]}"

    def patient(self, patient_ref: str) -> Patient | None:
        """A patient's identifying details (for the people allowed to see them), or None."""
        with self.session() as session:
            return session.get(Patient, patient_ref)

    def add_patient(self, session: Session, patient: Patient, case_id: str) -> None:
        """Store a patient's details and link the case to them (inside the caller's session)."""
        session.add(patient)
        session.flush()
        session.add(Case(case_id=case_id, patient_ref=patient.patient_ref, created_at=_now()))
        session.flush()

    def erase_patient(self, case_id: str, *, actor: str, reason: str) -> str:
        """Erase the identifying details of a case's patient; returns the `patient_ref`.

        Every identifying column is cleared in the same transaction that appends the
        `patient_erased` audit entry (who, when, why). The journey, its Temporal history, the
        projection, the outbox and the audit log are untouched: they only ever held the
        pseudonymous `patient_ref` and the case id.

        Raises:
            CaseStoreError: no such case, or its patient was already erased (names when).
        """
        if not reason.strip():
            raise CaseStoreError("erasure needs a reason (the legal basis or the request)")
        now = _now()
        with self.session() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise CaseStoreError(f"no case {case_id!r} in the case store")
            patient = s.get(Patient, case.patient_ref)
            if patient is None:
                raise CaseStoreError(f"case {case_id!r} has no patient row")
            if patient.erased_at is not None:
                raise CaseStoreError(
                    f"the patient of case {case_id!r} was already erased on "
                    f"{patient.erased_at:%Y-%m-%d %H:%M} UTC by {patient.erased_by}"
                )
            for name in IDENTIFYING_FIELDS:
                setattr(patient, name, None)
            patient.erased_at, patient.erased_by = now, actor
            detail = {"patient_ref": patient.patient_ref, "fields": list(IDENTIFYING_FIELDS)}
            s.add(_audit_row(case_id, AuditAction.PATIENT_ERASED, actor, now, detail, reason))
            return patient.patient_ref

    # --- staff and roles -----------------------------------------------------------------------

    def role_of(self, actor: str) -> Role | None:
        """The role of a staff member, or None when the actor is not registered."""
        with self.session() as s:
            member = s.get(StaffMember, actor)
        return Role(member.role) if member is not None else None

    def set_role(self, actor: str, role: Role | None, *, by: str) -> None:
        """Register a staff member with a role, change it, or (None) remove them; audited.

        Raises:
            CaseStoreError: removing someone never registered, or removing or demoting the
                last administrator (nobody could manage staff any more).
        """
        now = _now()
        with self.session() as s:
            member = s.get(StaffMember, actor)
            before = member.role if member is not None else None
            if role is None and member is None:
                raise CaseStoreError(f"{actor!r} is not registered; nothing to remove")
            if before == Role.ADMINISTRATOR and role is not Role.ADMINISTRATOR:
                admins = s.exec(
                    select(StaffMember).where(StaffMember.role == Role.ADMINISTRATOR.value)
                ).all()
                if len(admins) <= 1:
                    raise CaseStoreError(
                        f"{actor!r} is the last administrator; register another administrator "
                        "first (nobody could manage staff otherwise)"
                    )
            if role is None:
                if member is not None:
                    s.delete(member)
            elif member is None:
                s.add(StaffMember(actor=actor, role=role.value, added_by=by, added_at=now))
            else:
                member.role, member.added_by, member.added_at = role.value, by, now
            s.flush()
            detail = {"staff": actor, "from": before, "to": role.value if role else None}
            s.add(_audit_row(STAFF_AUDIT, AuditAction.ROLE_CHANGED, by, now, detail))

    def bootstrap_administrator(self, actor: str, *, by: str) -> None:
        """Register the first administrator (only while there is none); audited.

        Raises:
            CaseStoreError: an administrator exists already (names them).
        """
        with self.session() as s:
            admins = s.exec(
                select(StaffMember).where(StaffMember.role == Role.ADMINISTRATOR.value)
            ).all()
        if admins:
            raise CaseStoreError(
                "an administrator exists already ("
                + ", ".join(sorted(a.actor for a in admins))
                + "); they add staff with `cellpath staff add`"
            )
        self.set_role(actor, Role.ADMINISTRATOR, by=by)

    def staff(self) -> list[StaffMember]:
        """Everyone registered, by actor id."""
        with self.session() as s:
            return sorted(s.exec(select(StaffMember)).all(), key=lambda m: m.actor)

    def member(self, actor: str) -> StaffMember | None:
        """One staff member (role and sites), or None when not registered."""
        with self.session() as s:
            return s.get(StaffMember, actor)

    def set_sites(self, actor: str, sites: Sequence[str], *, by: str) -> None:
        """The sites whose cases `actor` works on (empty: every site); audited.

        Raises:
            CaseStoreError: `actor` is not registered.
        """
        now = _now()
        with self.session() as s:
            member = s.get(StaffMember, actor)
            if member is None:
                raise CaseStoreError(f"{actor!r} is not registered; add them with a role first")
            before = list(member.sites)
            member.sites = sorted(set(sites))
            s.add(member)
            detail = {"staff": actor, "from": before, "to": member.sites}
            s.add(_audit_row(STAFF_AUDIT, AuditAction.SITES_SET, by, now, detail))

    def set_password_hash(self, actor: str, password_hash: str, *, by: str) -> None:
        """Store a staff member's password hash (never the password); audited, hash not.

        Raises:
            CaseStoreError: `actor` is not registered.
        """
        now = _now()
        with self.session() as s:
            if s.get(StaffMember, actor) is None:
                raise CaseStoreError(f"{actor!r} is not registered; add them with a role first")
            row = s.get(StaffCredential, actor)
            if row is None:
                row = StaffCredential(actor=actor, password_hash=password_hash, changed_by=by)
            row.password_hash, row.changed_by, row.changed_at = password_hash, by, now
            s.add(row)
            # A new password ends every console session of theirs (a stolen one included).
            for open_session in s.exec(
                select(ConsoleSession).where(
                    ConsoleSession.actor == actor,
                    ConsoleSession.ended_at.is_(None),  # type: ignore[union-attr]
                )
            ).all():
                open_session.ended_at = now
            s.add(_audit_row(STAFF_AUDIT, AuditAction.PASSWORD_SET, by, now, {"staff": actor}))

    # --- console sessions ----------------------------------------------------------------------

    def open_console_session(self, actor: str) -> str:
        """Record a console sign-in; returns the random id its cookie carries."""
        sid = secrets.token_urlsafe(32)
        with self.session() as s:
            s.add(ConsoleSession(id=sid, actor=actor, started_at=_now()))
        return sid

    def console_session_open(self, sid: str, actor: str) -> bool:
        """Whether the console session `sid` of `actor` is still open."""
        with self.session() as s:
            row = s.get(ConsoleSession, sid)
        return row is not None and row.actor == actor and row.ended_at is None

    def end_console_session(self, sid: str) -> None:
        """End a console session (signing out)."""
        with self.session() as s:
            row = s.get(ConsoleSession, sid)
            if row is not None and row.ended_at is None:
                row.ended_at = _now()

    def password_hash(self, actor: str) -> str | None:
        """A registered staff member's password hash, or None (no password, or not staff)."""
        with self.session() as s:
            if s.get(StaffMember, actor) is None:
                return None
            row = s.get(StaffCredential, actor)
        return row.password_hash if row is not None else None

    def patient_of_case(self, case_id: str) -> Patient | None:
        """The patient a case belongs to (identifying details: for the roles that may see
        them), or None for an unknown case."""
        with self.session() as s:
            case = s.get(Case, case_id)
            return s.get(Patient, case.patient_ref) if case is not None else None

    def case_exists(self, case_id: str) -> bool:
        """Whether a case with this id was already taken in."""
        with self.session() as s:
            return s.get(Case, case_id) is not None

    # --- projection ----------------------------------------------------------------------------

    def upsert_projection(self, p: JourneyProjection) -> bool:
        """Write a journey's projection unless a newer revision is already stored.

        Returns whether the row changed. Projections may arrive out of order (retries run
        concurrently with newer ones); the revision keeps the newest.
        """
        with self.session() as s:
            return _upsert_projection(s, p)

    @staticmethod
    def add_projection(session: Session, p: JourneyProjection) -> None:
        """A journey's first projection in the caller's unit of work (intake: before the
        journey starts, so who its coordinator is is known from the first moment)."""
        _upsert_projection(session, p)

    def write_journey(self, batch: JourneyWrite) -> WriteResult:
        """A journey's projection, audit entries and notifications in one transaction.

        Idempotent: the projection keeps the newest revision, entries already stored (a retry,
        or a write superseded by a newer one that carried them too) are skipped. A value a
        column refuses (a data error, not an outage) must not hold back the rest: the batch is
        then written entry by entry, and what still fails is set aside in `dead_letters`
        (audited), so the journey's later writes flow. Outages raise, and the activity retries.
        """
        audit = _audit_rows(batch.audit)
        outbox = _notification_rows(batch.notifications)
        try:
            with self.session() as s:
                projected = _project(s, batch.projection)
                if projected and batch.schedule is not None:
                    _replace_schedule(s, batch.projection, batch.schedule)
                    summarise(s, batch.projection, batch.schedule)
                if projected and batch.ahead is not None:
                    ahead.replace(s, batch.projection.case_id, batch.ahead)
                keys = [n.idempotency_key for n in batch.notifications]
                dispatched = ahead.settle(s, keys)
                written_audit = _insert_ignoring_duplicates(s, AuditRow, "event_id", audit)
                written_outbox = _insert_ignoring_duplicates(
                    s, NotificationRow, "idempotency_key", outbox
                )
            return WriteResult(
                projected=projected,
                audit=len(written_audit),
                notifications=len(written_outbox),
                queued=written_outbox,
                dispatched=dispatched,
            )
        except Exception as e:
            if not is_data_error(e):
                raise
        return self._write_one_by_one(batch)

    def _write_one_by_one(self, batch: JourneyWrite) -> WriteResult:
        result = WriteResult()
        case_id = batch.projection.case_id
        steps: list[tuple[str, str, Any, Any]] = [
            (
                "projection",
                f"{case_id}:rev{batch.projection.revision}",
                batch.projection,
                lambda s, p=batch.projection: _project(s, p),
            )
        ]
        for entry, row in zip(batch.audit, _audit_rows(batch.audit), strict=True):
            steps.append(
                (
                    "audit",
                    entry.event_id,
                    entry,
                    lambda s, r=row: _insert_ignoring_duplicates(s, AuditRow, "event_id", [r]),
                )
            )
        for note, row in zip(
            batch.notifications, _notification_rows(batch.notifications), strict=True
        ):
            steps.append(
                (
                    "notification",
                    note.idempotency_key,
                    note,
                    lambda s, r=row: _insert_ignoring_duplicates(
                        s, NotificationRow, "idempotency_key", [r]
                    ),
                )
            )
        for kind, key, entry, write in steps:
            try:
                with self.session() as s:
                    changed = write(s)
            except Exception as e:
                if not is_data_error(e):
                    raise
                self.set_aside(case_id, kind, key, entry, e)
                result.set_aside += 1
                continue
            if kind == "projection":
                result.projected = bool(changed)
            elif kind == "audit":
                result.audit += len(changed)
            else:
                result.notifications += len(changed)
                result.queued += changed
        return result

    def set_aside(self, case_id: str, kind: str, key: str, entry: Any, error: Exception) -> None:
        """Keep a write the store refused in `dead_letters`, and audit that it was set aside."""
        now = _now()
        printable = _printable(key, 200)
        reason = f"{type(getattr(error, 'orig', None) or error).__name__}: " + _printable(
            str(getattr(error, "orig", None) or error), 400
        )
        payload = json.dumps(entry.model_dump(mode="json"), ensure_ascii=True, default=str)
        with self.session() as s:
            s.add(
                DeadLetter(
                    case_id=case_id,
                    kind=kind,
                    key=printable,
                    error=reason,
                    payload=payload,
                    created_at=now,
                )
            )
            detail = {"kind": kind, "key": printable}
            s.add(_audit_row(case_id, AuditAction.WRITE_SET_ASIDE, "system", now, detail, reason))

    def dead_letters(self, case_id: str | None = None) -> list[DeadLetter]:
        """Writes set aside, oldest first (optionally of one case)."""
        with self.session() as s:
            q = select(DeadLetter)
            if case_id is not None:
                q = q.where(DeadLetter.case_id == case_id)
            return sorted(s.exec(q).all(), key=lambda d: (d.created_at, d.id or 0))

    def journey_row(self, case_id: str) -> JourneyRow | None:
        """A journey's projection row (None before its first write)."""
        with self.session() as s:
            return s.get(JourneyRow, case_id)

    def list_journeys(
        self,
        *,
        phase: str | None = None,
        overdue: bool | None = None,
        site: str | None = None,
        coordinator: str | None = None,
    ) -> list[JourneyRow]:
        """Projected journeys, soonest deadline first."""
        with self.session() as s:
            q = select(JourneyRow)
            if phase:
                q = q.where(JourneyRow.phase == phase)
            if overdue is not None:
                q = q.where(JourneyRow.overdue == overdue)
            if site:
                q = q.where(JourneyRow.site == site)
            if coordinator:
                q = q.where(JourneyRow.coordinator == coordinator)
            rows = s.exec(q).all()
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: (r.next_deadline_at or far, r.case_id))

    # --- outbox and audit ----------------------------------------------------------------------

    def add_notifications(self, notifications: Sequence[Notification]) -> int:
        """Queue notifications in the outbox; an idempotency key already there is skipped."""
        return len(self.queue_notifications(notifications))

    def queue_notifications(self, notifications: Sequence[Notification]) -> list[str]:
        """`add_notifications`, saying which keys were new."""
        rows = _notification_rows(notifications)
        with self.session() as s:
            return _insert_ignoring_duplicates(s, NotificationRow, "idempotency_key", rows)

    def _case_rows(self, table: type[RowT], case_id: str, order: str) -> list[RowT]:
        """A case's rows of an outbox or log table, by the column `order`, then insertion."""
        with self.session() as s:
            column = table.case_id
            rows = s.exec(select(table).where(column == case_id)).all()
        return sorted(rows, key=lambda r: (getattr(r, order), getattr(r, "id", 0) or 0))

    def notifications(self, case_id: str) -> list[NotificationRow]:
        """A case's notifications in the order they were scheduled."""
        return self._case_rows(NotificationRow, case_id, "scheduled_for")

    def all_notifications(self, limit: int = 500) -> list[NotificationRow]:
        """The latest notifications of every case, oldest of them first."""
        with self.session() as s:
            rows = s.exec(
                select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)  # type: ignore[union-attr]
            ).all()
        return list(reversed(rows))

    def mark_delivered(self, key: str, at: datetime) -> None:
        """Set a notification's `delivered_at`: when it first reached someone (once)."""
        with self.session() as s:
            self.mark_delivered_in(s, key, at)

    @staticmethod
    def mark_delivered_in(s: Session, key: str, at: datetime) -> None:
        """`mark_delivered` inside a session already open."""
        # One UPDATE, no read first: this runs once per message sent.
        s.connection().execute(
            sa.update(NotificationRow)
            .where(
                NotificationRow.idempotency_key == key,  # type: ignore[arg-type]
                NotificationRow.delivered_at.is_(None),  # type: ignore[union-attr]
            )
            .values(delivered_at=at)
        )

    def append_audit(self, entries: Sequence[AuditEntry]) -> int:
        """Append audit entries; an event id already recorded is skipped (append-only)."""
        with self.session() as s:
            return len(_insert_ignoring_duplicates(s, AuditRow, "event_id", _audit_rows(entries)))

    def audit_trail(self, case_id: str) -> list[AuditRow]:
        """A case's audit entries in the order they were recorded."""
        return self._case_rows(AuditRow, case_id, "recorded_at")
