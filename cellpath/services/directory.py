"""The directory and the outbox as services: contacts, role assignments and on-call rotas
(administrators; a member of staff may set their own contact details), and what happened to
each notification (any role).

Every change and every refused attempt is audited under `staff` (`cellpath audit staff`); an
address is never written to the audit, only which fields changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, ValidationError

from cellpath.delivery import channels
from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session, refusing
from cellpath.store import STAFF_AUDIT
from cellpath.store.directory import Deliveries, Directory
from cellpath.store.tables import Delivery, NotificationRow, SiteRow, StaffContact
from models.directory import (
    AssignedRole,
    Assignment,
    AssignmentInput,
    ContactInput,
    SiteInput,
    rota_gaps,
)
from models.errors import CaseStoreError, RefusalCode
from models.pathway.data import describe_validation_error
from models.roles import Action


def _refused(
    session: Session, what: str, reason: str | Refusal, detail: dict[str, object]
) -> Refusal:
    record_refusal(session, STAFF_AUDIT, what, None, str(reason), detail=dict(detail))
    return reason if isinstance(reason, Refusal) else Refusal(reason, RefusalCode.INVALID_DATA)


CHANNELS = ("email", "phone", "urls")


def set_contact(session: Session, fields: dict[str, object]) -> StaffContact:
    """Set a staff member's contact details: administrators, or the member themselves.

    Only the fields given change (`--timezone` alone keeps the e-mail); a channel is removed
    by giving it empty (`""`, `[]`) or None. Refused (audited, nothing stored) naming the
    field: an invalid address, phone, URL (one Apprise cannot send to), time zone or
    quiet-hours span; and removing the last channel of someone who holds a recipient role
    (lead coordinator, medical director, on call), naming the role — they would silently
    become unreachable.
    """
    actor = str(fields.get("actor") or "")
    if actor != session.actor:
        authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    directory = Directory(session.case_store())
    existing = directory.contact(actor)
    if existing is not None:
        kept = {k: getattr(existing, k) for k in ContactInput.model_fields if k != "actor"}
        fields = kept | fields
    try:
        contact = ContactInput.model_validate(fields)
    except ValidationError as e:
        raise _refused(
            session, "contacts", describe_validation_error(e, ContactInput), {"staff": actor}
        ) from None
    for n, url in enumerate(contact.urls, start=1):
        if not channels.valid_url(url):
            raise _refused(
                session,
                "contacts",
                refusing(
                    "url[{n}]: Apprise cannot send to a {scheme}:// URL like this "
                    "one; see https://github.com/caronc/apprise/wiki for each service's form",
                    RefusalCode.INVALID_DATA,
                    n=n,
                    scheme=channels.scheme(url),
                ),
                {"staff": actor},
            )
    store = session.case_store()
    if store.role_of(contact.actor) is None:
        raise _refused(
            session,
            "contacts",
            refusing(
                "actor: {actor} is not registered staff (cellpath staff add)",
                RefusalCode.INVALID_DATA,
                actor=repr(contact.actor),
            ),
            {"staff": actor},
        )
    reachable = bool(contact.email or contact.phone or contact.urls)
    had = existing is not None and bool(existing.email or existing.phone or existing.urls)
    if had and not reachable:
        now = datetime.now(UTC)
        held = sorted(
            {
                a.role.value + (f" at {a.site}" if a.site else "")
                for a in directory.assignments()
                if a.actor == actor and (a.valid_until is None or a.valid_until > now)
            }
        )
        if held:
            raise _refused(
                session,
                "contacts",
                refusing(
                    "{actor} holds {roles}: removing their last channel would leave "
                    "that role unreachable; keep an e-mail, phone or URL, or assign the role to "
                    "someone else first (cellpath assign)",
                    RefusalCode.INVALID_DATA,
                    actor=actor,
                    roles=", ".join(held),
                ),
                {"staff": actor},
            )
    return directory.set_contact(contact, by=session.actor)


def set_site(session: Session, fields: dict[str, object]) -> SiteRow:
    """Set a treatment site's name, day-and-night phone and address (administrators); refused
    (audited, nothing stored) naming the field."""
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    try:
        site = SiteInput.model_validate(fields)
    except ValidationError as e:
        raise _refused(
            session, "sites", describe_validation_error(e, SiteInput), {"site": "?"}
        ) from None
    return Directory(session.case_store()).set_site(site, by=session.actor)


def sites(session: Session) -> list[SiteRow]:
    """Every treatment site (any role: what families are told is no secret)."""
    authorise(session, Action.READ, case="list")
    return Directory(session.case_store()).sites()


def contacts(session: Session) -> list[StaffContact]:
    """Every staff member's contact details (administrators: they hold addresses)."""
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    return Directory(session.case_store()).contacts()


def assign(session: Session, fields: dict[str, object]) -> Assignment:
    """Record who holds a role where and when (administrators); an overlapping on-call entry
    or an invalid range is refused (audited, nothing stored), naming the field."""
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    try:
        a = AssignmentInput.model_validate(fields)
    except ValidationError as e:
        raise _refused(
            session, "assign", describe_validation_error(e, AssignmentInput), {"fields": "?"}
        ) from None
    store = session.case_store()
    if store.role_of(a.actor) is None:
        raise _refused(
            session,
            "assign",
            refusing(
                "actor: {actor} is not registered staff (cellpath staff add)",
                RefusalCode.INVALID_DATA,
                actor=repr(a.actor),
            ),
            {"staff": a.actor},
        )
    try:
        Directory(store).assign(a, by=session.actor)
    except CaseStoreError as e:
        raise _refused(session, "assign", str(e), {"staff": a.actor}) from None
    return Assignment(**a.model_dump())


class Rota(BaseModel):
    """A site's on-call rota over a span, with the gaps nobody covers."""

    site: str
    start: datetime
    end: datetime
    entries: list[Assignment] = Field(default_factory=list)
    gaps: list[tuple[datetime, datetime]] = Field(default_factory=list)


def rota(session: Session, site: str, *, days: int = 1, start: datetime | None = None) -> Rota:
    """Who is on call at `site` from now (or `start`) for `days`, and the gaps (any role)."""
    authorise(session, Action.READ, case=STAFF_AUDIT)
    begin = start or datetime.now(UTC).replace(second=0, microsecond=0)
    end = begin + timedelta(days=days)
    entries = [
        e
        for e in Directory(session.case_store()).assignments(AssignedRole.ON_CALL, site)
        if (e.valid_until is None or e.valid_until > begin)
        and (e.valid_from is None or e.valid_from < end)
    ]
    return Rota(
        site=site, start=begin, end=end, entries=entries, gaps=rota_gaps(entries, begin, end)
    )


class OutboxLine(BaseModel):
    """One notification and its deliveries (per person and channel)."""

    key: str
    case_id: str
    kind: str
    recipient: str
    deadline: str | None
    level: int
    severity: str
    scheduled_for: datetime
    delivered_at: datetime | None
    deliveries: list[Delivery] = Field(default_factory=list)


def outbox(session: Session, case: str | None, *, undelivered: bool = False) -> list[OutboxLine]:
    """Notifications (of a case, or all) with recipients, channels, attempts, delivered_at
    and the last error (any role)."""
    authorise(session, Action.READ, case=case or STAFF_AUDIT)
    store = session.case_store()
    rows: list[NotificationRow] = (
        store.notifications(case) if case else store.all_notifications(limit=500)
    )
    ledger = Deliveries(store)
    lines = []
    for r in rows:
        if undelivered and r.delivered_at is not None:
            continue
        lines.append(
            OutboxLine(
                key=r.idempotency_key,
                case_id=r.case_id,
                kind=r.kind,
                recipient=r.recipient,
                deadline=r.deadline,
                level=r.level,
                severity=r.severity,
                scheduled_for=r.scheduled_for,
                delivered_at=r.delivered_at,
                deliveries=ledger.of(r.idempotency_key),
            )
        )
    return lines
