"""The directory and the delivery ledger in the case store.

- `Directory`: staff contacts, role assignments and on-call rotas (every change audited under
  the `staff` audit case), and whom a notification's recipient role resolves to.
- `Deliveries`: one row per notification, person and channel — attempts, the last error, when
  it was delivered. The row is the idempotency of delivery across retries and crashes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from cellpath.store import STAFF_AUDIT, CaseStore
from cellpath.store.rows import _audit_row
from cellpath.store.tables import (
    Case,
    Delivery,
    JourneyRow,
    Patient,
    RoleAssignment,
    SiteRow,
    StaffContact,
)
from models.directory import (
    AssignedRole,
    Assignment,
    AssignmentInput,
    ContactInput,
    SiteInput,
    most_specific,
)
from models.enums import AuditAction
from models.errors import CaseStoreError


def _now() -> datetime:
    return datetime.now(UTC)


def _stamped(
    s: Any, table: type[Any], key: dict[str, str], values: dict[str, Any], by: str, now: datetime
) -> Any:
    """Insert or replace the row of `table` with primary key `key`, stamped who and when."""
    row = s.get(table, next(iter(key.values())))
    if row is None:
        row = table(**key, **values, updated_by=by, updated_at=now)
        s.add(row)
        return row
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = by, now
    return row


class Directory:
    """Who is reached how, and who holds which recipient role where and when."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    # --- contacts ------------------------------------------------------------------------------

    def set_contact(self, contact: ContactInput, *, by: str) -> StaffContact:
        """Create or replace a staff member's contact details; audited (no addresses in the
        audit detail: which fields changed, not their values)."""
        now = _now()
        with self.store.session() as s:
            values = contact.model_dump(exclude={"actor"})
            row = _stamped(s, StaffContact, {"actor": contact.actor}, values, by, now)
            detail = {
                "staff": contact.actor,
                "fields": sorted(k for k, v in values.items() if v not in (None, [], "")),
            }
            s.add(_audit_row(STAFF_AUDIT, AuditAction.CONTACT_SET, by, now, detail))
        return row

    def contact(self, actor: str) -> StaffContact | None:
        """One staff member's contact details."""
        with self.store.session() as s:
            return s.get(StaffContact, actor)

    def contacts(self) -> list[StaffContact]:
        """Every staff contact, by actor."""
        with self.store.session() as s:
            return sorted(s.exec(select(StaffContact)).all(), key=lambda c: c.actor)

    # --- sites ---------------------------------------------------------------------------------

    def set_site(self, site: SiteInput, *, by: str) -> SiteRow:
        """Create or replace a site's details; audited (which fields, not their values)."""
        now = _now()
        with self.store.session() as s:
            values = site.model_dump(exclude={"site"})
            row = _stamped(s, SiteRow, {"site": site.site}, values, by, now)
            detail = {"site": site.site, "fields": sorted(values)}
            s.add(_audit_row(STAFF_AUDIT, AuditAction.SITE_SET, by, now, detail))
        return row

    def site(self, site: str | None) -> SiteRow | None:
        """A site's details (None for no site, or one the directory does not know)."""
        if not site:
            return None
        with self.store.session() as s:
            return s.get(SiteRow, site.lower())

    def sites(self) -> list[SiteRow]:
        """Every site, by id."""
        with self.store.session() as s:
            return sorted(s.exec(select(SiteRow)).all(), key=lambda r: r.site)

    def site_of_case(self, case_id: str) -> SiteRow | None:
        """The site a case is at (accepted) or sent to, from its projection."""
        with self.store.session() as s:
            row = s.get(JourneyRow, case_id)
            return s.get(SiteRow, row.site) if row is not None and row.site else None

    # --- assignments ---------------------------------------------------------------------------

    def assign(self, a: AssignmentInput, *, by: str) -> RoleAssignment:
        """Record who holds a role where and when; audited.

        Raises:
            CaseStoreError: an on-call entry overlapping another for the same site.
        """
        now = _now()
        new = Assignment(**a.model_dump())
        with self.store.session() as s:
            if a.role is AssignedRole.ON_CALL:
                for other in self._rows(s, AssignedRole.ON_CALL, a.site):
                    if new.overlaps(other):
                        raise CaseStoreError(
                            f"valid_from/valid_until: overlaps the on-call entry of "
                            f"{other.actor} at {a.site} ({_span(other)}); nothing was stored"
                        )
            row = RoleAssignment(
                role=a.role.value,
                actor=a.actor,
                site=a.site,
                program=a.program,
                valid_from=a.valid_from,
                valid_until=a.valid_until,
                assigned_by=by,
                assigned_at=now,
            )
            s.add(row)
            detail: dict[str, Any] = {
                "role": a.role.value,
                "staff": a.actor,
                "site": a.site,
                "program": a.program,
                "from": a.valid_from.isoformat() if a.valid_from else None,
                "until": a.valid_until.isoformat() if a.valid_until else None,
            }
            s.add(_audit_row(STAFF_AUDIT, AuditAction.ROLE_ASSIGNED, by, now, detail))
        return row

    @staticmethod
    def _rows(s: Any, role: AssignedRole | None, site: str | None) -> list[Assignment]:
        query = select(RoleAssignment)
        if role is not None:
            query = query.where(RoleAssignment.role == role.value)
        if site is not None:
            query = query.where(RoleAssignment.site == site)
        return [
            Assignment(
                role=AssignedRole(r.role),
                actor=r.actor,
                site=r.site,
                program=r.program,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
            )
            for r in s.exec(query).all()
        ]

    def assignments(
        self, role: AssignedRole | None = None, site: str | None = None
    ) -> list[Assignment]:
        """Assignments, optionally of one role and one site."""
        with self.store.session() as s:
            rows = self._rows(s, role, site)
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: (r.role, r.site or "", r.valid_from or far, r.actor))

    def holders(
        self, role: AssignedRole, *, site: str | None, program: str | None, at: datetime
    ) -> list[str]:
        """Who holds `role` for a case at `site` in `program` at `at` (most specific wins)."""
        with self.store.session() as s:
            rows = self._rows(s, role, None)
        return most_specific(rows, role, site=site, program=program, at=at)

    # --- the family -----------------------------------------------------------------------------

    def family(self, patient_ref: str) -> Patient | None:
        """The patient's row (identifying details, language, caregiver); read at send time."""
        return self.store.patient(patient_ref)

    def case_context(self, case_id: str) -> tuple[str | None, str | None]:
        """The case's current site and program, from the journey's projection."""
        with self.store.session() as s:
            row = s.get(JourneyRow, case_id)
            if row is None:
                return None, None
            return row.site, row.program

    def coordinator_of(self, case_id: str) -> str | None:
        """The case's coordinator, from the journey's projection."""
        with self.store.session() as s:
            row = s.get(JourneyRow, case_id)
        return row.coordinator if row else None

    def patient_ref_of(self, case_id: str) -> str | None:
        """The patient reference of a case."""
        with self.store.session() as s:
            row = s.get(Case, case_id)
        return row.patient_ref if row else None


def _span(a: Assignment) -> str:
    start = f"{a.valid_from:%Y-%m-%d %H:%M}" if a.valid_from else "always"
    end = f"{a.valid_until:%Y-%m-%d %H:%M}" if a.valid_until else "open-ended"
    return f"{start} – {end} UTC"


class Deliveries:
    """The delivery ledger: one row per notification, person and channel."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def begin(self, key: str, case_id: str, person: str, channel: str, message_id: str) -> Delivery:
        """The ledger row for one delivery, created on first use; an attempt is counted."""
        with self.store.session() as s:
            # A new row is created with its first attempt counted: one INSERT, no UPDATE.
            row, created = self._row(s, key, case_id, person, channel, message_id, attempts=1)
            if not created and row.delivered_at is None:
                row.attempts += 1
            return row

    def _row(
        self,
        s: Any,
        key: str,
        case_id: str,
        person: str,
        channel: str,
        message_id: str,
        attempts: int = 0,
    ) -> tuple[Delivery, bool]:
        """The ledger row and whether this call created it (with `attempts`); a concurrent
        creation is read back."""
        row = self._get(s, key, person, channel)
        if row is not None:
            return row, False
        row = Delivery(
            idempotency_key=key,
            case_id=case_id,
            person=person,
            channel=channel,
            message_id=message_id,
            created_at=_now(),
            attempts=attempts,
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # another attempt created it a moment ago
            s.rollback()
            found = self._get(s, key, person, channel)
            assert found is not None
            return found, False
        return row, True

    @staticmethod
    def _get(s: Any, key: str, person: str, channel: str) -> Delivery | None:
        return s.exec(
            select(Delivery).where(
                Delivery.idempotency_key == key,
                Delivery.person == person,
                Delivery.channel == channel,
            )
        ).first()

    def delivered(self, key: str, person: str, channel: str, at: datetime) -> None:
        """Mark a delivery done (the first time only), and its outbox row delivered if it was
        not yet (when the notification first reached someone), in one transaction."""
        with self.store.session() as s:
            # UPDATEs guarded by `delivered_at IS NULL`, no reads first: once per message sent.
            s.connection().execute(
                sa.update(Delivery)
                .where(
                    Delivery.idempotency_key == key,  # type: ignore[arg-type]
                    Delivery.person == person,  # type: ignore[arg-type]
                    Delivery.channel == channel,  # type: ignore[arg-type]
                    Delivery.delivered_at.is_(None),  # type: ignore[union-attr]
                )
                .values(delivered_at=at, last_error="")
            )
            CaseStore.mark_delivered_in(s, key, at)

    def failed(self, key: str, person: str, channel: str, error: str) -> None:
        """Record why the last attempt failed (kept short)."""
        with self.store.session() as s:
            row = self._get(s, key, person, channel)
            if row is not None:
                row.last_error = error[:500]

    def held(
        self, key: str, case_id: str, person: str, channels: list[tuple[str, str]], until: datetime
    ) -> None:
        """Record that quiet hours hold a person's deliveries (channel, message id) until
        `until` (their morning); the outbox command shows it."""
        with self.store.session() as s:
            for channel, message_id in channels:
                self._row(s, key, case_id, person, channel, message_id)[0].held_until = until

    def of(self, key: str) -> list[Delivery]:
        """A notification's deliveries."""
        with self.store.session() as s:
            return list(s.exec(select(Delivery).where(Delivery.idempotency_key == key)).all())

    def of_case(self, case_id: str) -> list[Delivery]:
        """Every delivery of a case, in the order they were first tried."""
        with self.store.session() as s:
            query = select(Delivery).where(Delivery.case_id == case_id)
            return list(s.exec(query.order_by(Delivery.id)).all())  # type: ignore[arg-type]
