"""A person's caseload: their worklist, one case as a whole, and who the patient is.

What the console shows, assembled from the same sources as the CLI: visibility for lists, the
journey's queries for a case, the case store for notifications and identifying details. Who
sees what is decided here, not in the page: a coordinator's worklist holds their own cases, a
physician's or nurse's the cases of their sites (all sites when none are set), a viewer's and
an administrator's every case; identifying details only for the care team, and every look at
them is audited.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio.service import RPCError, RPCStatusCode

from cellpath.services import casefile, journeys
from cellpath.services.authority import authorise, record_event
from cellpath.services.base import Session, Unreachable, refusing
from cellpath.services.casefile import JourneyRow
from cellpath.services.directory import OutboxLine, outbox
from cellpath.store import STAFF_AUDIT, CaseStore
from cellpath.store.access import Covers, Identities
from cellpath.store.alerts import AlertCounts, OpenAlerts
from cellpath.store.directory import Directory
from cellpath.store.tables import JourneyRow as ProjectionRow
from cellpath.store.tables import Patient
from models.enums import AuditAction, Phase, Program
from models.errors import RefusalCode, Refused
from models.messages import AuditEntry, JourneyStatus, MilestoneEvent
from models.pathway.projection import ProjectedStep
from models.roles import Action, CaseFacts, Role, check_permission
from models.state import ObservationRecord

PAGE_SIZE = 50
# Overdue or escalated journeys shown above the pages (a caseload with more has bigger
# problems than a worklist can solve; the count says so).
ATTENTION_LIMIT = 100


class Filters(BaseModel):
    """The worklist's filters (each narrows the person's own scope)."""

    phase: Phase | None = None
    site: str | None = Field(default=None, max_length=64)
    coordinator: str | None = Field(default=None, max_length=64)
    program: Program | None = None


class Worklist(BaseModel):
    """One page of a person's worklist: what needs attention first, then the rest by page."""

    scope: str
    attention: list[JourneyRow]
    rows: list[JourneyRow]
    next_page: str | None = None
    timezone: str = "UTC"


def _scope(session: Session, colleague: str | None = None) -> tuple[str, str | None, list[str]]:
    """(description, coordinator, sites) of the signed-in person's caseload; a coordinator
    covering `colleague` now (`staff_cover`) may ask for the colleague's instead."""
    store = session.case_store()
    member = store.member(session.actor)
    if member is None:
        return "nobody's cases", session.actor, []
    role = Role(member.role)
    if role is Role.COORDINATOR:
        if colleague and colleague != session.actor:
            if colleague in Covers(store).colleagues(session.actor):
                return f"{colleague}'s cases (you cover them)", colleague, []
        return "your cases", session.actor, []
    if role in (Role.PHYSICIAN, Role.SITE_STAFF) and member.sites:
        return "cases at " + ", ".join(member.sites), None, list(member.sites)
    return "every case", None, []


def viewer_timezone(session: Session) -> str:
    """The time zone the signed-in person reads times in (their contact's; else UTC)."""
    contact = Directory(session.case_store()).contact(session.actor)
    return contact.timezone if contact is not None and contact.timezone else "UTC"


def _query(filters: Filters, coordinator: str | None, sites: list[str], extra: str = "") -> str:
    query = casefile.list_query(
        phase=filters.phase.value if filters.phase else None,
        site=filters.site.lower() if filters.site else None,  # site ids are lower case
        coordinator=filters.coordinator or coordinator,
        program=filters.program.value if filters.program else None,
        sites=sites,
        # A closed journey's workflow has completed: asked for, it is listed.
        include_closed=filters.phase is Phase.CLOSED,
    )
    if coordinator and filters.coordinator and filters.coordinator != coordinator:
        # A coordinator's worklist is their own; another coordinator's filter shows nothing
        # rather than widening the scope.
        query += " AND WorkflowId = ''"
    return query + extra


# Page links are signed: Temporal's own page tokens are opaque to us, and one edited by hand
# made the visibility store fail (and the SDK retry) instead of answering. With a configured
# console secret the links hold across processes; without one, within this process.
_PAGE_KEY = secrets.token_bytes(32)


def _page_key(session: Session) -> bytes:
    secret = session.settings.console_secret
    return secret.get_secret_value().encode() if secret is not None else _PAGE_KEY


def _page_link(session: Session, token: bytes) -> str:
    mac = hmac.new(_page_key(session), token, hashlib.sha256).hexdigest()[:32]
    return base64.urlsafe_b64encode(token).decode("ascii") + "." + mac


def _token(session: Session, text: str | None) -> bytes | None:
    if not text:
        return None
    refused = refusing(
        "the page link is not valid; start again from the first page", RefusalCode.INVALID_DATA
    )
    body, _, mac = text.partition(".")
    try:
        token = base64.urlsafe_b64decode(body.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise refused from None
    expected = hmac.new(_page_key(session), token, hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, mac):
        raise refused
    return token


async def worklist(session: Session, filters: Filters, page: str | None = None) -> Worklist:
    """The person's worklist: first what needs attention — unacknowledged critical and urgent
    alerts (most critical first), then overdue and escalated journeys (soonest deadline first)
    — then every journey of their scope, `PAGE_SIZE` at a time (`page`: the previous page's
    `next_page`)."""
    authorise(session, Action.READ)
    scope, coordinator, sites = _scope(session, filters.coordinator)
    client = await session.temporal()
    base = _query(filters, coordinator, sites)
    attention_query = base + " AND (Overdue = true OR EscalationLevel >= 1)"
    listed = client.list_workflows(base, page_size=PAGE_SIZE, next_page_token=_token(session, page))
    try:
        attention, _ = await asyncio.gather(
            casefile.list_journeys(client, attention_query, limit=ATTENTION_LIMIT),
            listed.fetch_next_page(),
        )
    except RPCError as e:
        if page and e.status is RPCStatusCode.INVALID_ARGUMENT:
            # A page link that Temporal cannot read (edited, or from another server): an
            # answer, not an outage.
            raise refusing(
                "the page link is not valid; start again from the first page",
                RefusalCode.INVALID_DATA,
            ) from None
        raise Unreachable(f"cannot list journeys: {e}") from None
    store = session.case_store()
    # Alerts live in the case store (visibility has no attribute for them): a case with a
    # critical alert waiting is on top whichever page Temporal would list it on.
    pressing = [_row_of_projection(r) for r in _alerting(store, filters, coordinator, sites)]
    first = {r.case_id for r in pressing}
    attention = pressing + [r for r in attention if r.case_id not in first]
    first |= {r.case_id for r in attention}
    rows = [casefile.row_of(e) for e in listed.current_page or []]
    rows = [r for r in rows if r.case_id not in first]
    alerts = OpenAlerts(store).open_alerts([r.case_id for r in [*attention, *rows]])
    for r in [*attention, *rows]:
        r.alerts = alerts.get(r.case_id, AlertCounts())
    attention.sort(
        key=lambda r: (
            -r.alerts.critical,
            -r.alerts.urgent,
            not r.overdue,
            -r.escalation_level,
            *_due(r.next_deadline_at),
        )
    )
    rows.sort(key=lambda r: _due(r.next_deadline_at))
    name_rows(session, [*attention, *rows], via="worklist")
    token = listed.next_page_token
    return Worklist(
        scope=scope,
        attention=attention,
        rows=rows,
        next_page=_page_link(session, token) if token else None,
        timezone=viewer_timezone(session),
    )


# How long a look at a patient's name on a list stands before another is audited.
LOOK_AGAIN = timedelta(hours=1)


def name_rows(session: Session, rows: list[JourneyRow], *, via: str) -> None:
    """Put the patient's name and country on the rows of cases whose care team the reader is
    in (one query for the names, four for the team); every name shown is a look at who the
    patient is, audited (`patient_viewed`, `via`) in one write. Others see no name."""
    allowed = permissions(session)
    if allowed.role is None or not allowed.may(Action.READ_IDENTITY) or not rows:
        return
    store = session.case_store()
    people = Identities(store)
    facts = [
        CaseFacts(
            case_id=r.case_id, coordinator=r.coordinator or "", site=r.site, program=r.program
        )
        for r in rows
    ]
    team = people.in_care_team(session.actor, allowed.role, facts)
    names = people.names([r.case_id for r in rows if r.case_id in team])
    now = datetime.now(UTC)
    # A worklist refreshes itself every minute: a name looked at within the hour is not
    # audited again (the first look of the hour is).
    seen = people.viewed_since(session.actor, list(names), now - LOOK_AGAIN)
    looks = []
    for r in rows:
        if r.case_id not in names:
            continue
        r.name, r.country = names[r.case_id]
        if r.case_id in seen:
            continue
        looks.append(
            AuditEntry(
                event_id=f"{r.case_id}:{AuditAction.PATIENT_VIEWED}:{uuid.uuid4()}",
                case_id=r.case_id,
                action=AuditAction.PATIENT_VIEWED,
                actor=session.actor,
                occurred_at=now,
                recorded_at=now,
                detail={"via": via, "fields": ["full_name", "nationality"]},
            )
        )
    if looks:
        store.append_audit(looks)


def search(session: Session, text: str, limit: int = 50) -> list[JourneyRow]:
    """Cases by case id, or — for the care team — by the patient's name or passport number
    (accents, case, spaces and script do not matter: `jose nunez`, `wang wei`, `王伟`). Others
    find a case by its id only: a search by name must not tell them who is a patient."""
    authorise(session, Action.READ, case="list")
    text = text.strip()
    if len(text) < 2:
        raise refusing("search: expected at least 2 characters", RefusalCode.INVALID_DATA)
    if len(text) > 100:
        raise refusing("search: expected at most 100 characters", RefusalCode.TOO_LARGE)
    allowed = permissions(session)
    people = Identities(session.case_store())
    found = people.search(text, limit=limit * 4)
    identity = allowed.role is not None and allowed.may(Action.READ_IDENTITY)
    team = (
        people.in_care_team(session.actor, allowed.role, found)
        if identity and allowed.role
        else set()
    )
    by_id = text.lower()
    rows = [
        _row_of_projection(r) for r in found if r.case_id in team or by_id in r.case_id.lower()
    ][:limit]
    name_rows(session, rows, via="search")
    return rows


def _alerting(
    store: CaseStore, filters: Filters, coordinator: str | None, sites: list[str]
) -> list[ProjectionRow]:
    """The scope's journeys with a critical or urgent alert waiting (as `_query` scopes)."""
    if coordinator and filters.coordinator and filters.coordinator != coordinator:
        return []  # another coordinator's filter on one's own worklist shows nothing
    return OpenAlerts(store).alerting(
        coordinator=filters.coordinator or coordinator,
        sites=sites,
        phase=filters.phase.value if filters.phase else None,
        site=filters.site.lower() if filters.site else None,
        program=filters.program.value if filters.program else None,
        limit=ATTENTION_LIMIT,
    )


def _row_of_projection(r: ProjectionRow) -> casefile.JourneyRow:
    """A worklist row from the case store's projection of a journey."""
    return casefile.JourneyRow(
        case_id=r.case_id,
        status="running",
        phase=r.phase,
        outcome=r.outcome,
        therapy=r.therapy,
        cell_source=r.cell_source,
        program=r.program,
        site=r.site,
        coordinator=r.coordinator,
        next_deadline_at=r.next_deadline_at,
        escalation_level=r.escalation_level,
        overdue=r.overdue,
    )


def _due(at: datetime | None) -> tuple[bool, datetime]:
    """A sort key: soonest first, none last (a store may hand back naive UTC times)."""
    if at is None:
        return True, datetime.max.replace(tzinfo=UTC)
    return False, at if at.tzinfo else at.replace(tzinfo=UTC)


class PatientCard(BaseModel):
    """Who the patient is, for the care team (identifying details: never in Temporal)."""

    patient_ref: str
    full_name: str | None = None
    birth_date: date | None = None
    nationality: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_language: str | None = None
    caregiver_name: str | None = None
    caregiver_phone: str | None = None
    home_oncologist_name: str | None = None
    home_oncologist_institution: str | None = None
    home_oncologist_email: str | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class Permissions:
    """What the signed-in person may do, from one look at their role (nothing audited: a
    page asks only to decide what to offer; the service checks again, audited, when done)."""

    actor: str
    role: Role | None

    def may(
        self,
        action: Action,
        *,
        milestone: str | None = None,
        critical: bool = False,
        transcribed: bool = False,
    ) -> bool:
        """Whether `action` (on this milestone, this critical alert; a signed decision
        `transcribed` from its document) is theirs."""
        try:
            check_permission(
                self.actor,
                self.role,
                action,
                milestone=milestone,
                critical_alert=critical,
                transcribed=transcribed,
            )
        except Refused:
            return False
        return True


def permissions(session: Session) -> Permissions:
    """The signed-in person's permissions."""
    return Permissions(session.actor, session.case_store().role_of(session.actor))


def patient(session: Session, case: str, allowed: Permissions | None = None) -> PatientCard | None:
    """The case's patient for the care team (None for other roles, or an unknown case); each
    look is audited (`patient_viewed`: who, which case, when)."""
    if not (allowed or permissions(session)).may(Action.READ_IDENTITY):
        return None
    row = viewed_patient(session, case, via="console")
    return None if row is None else PatientCard.model_validate(row, from_attributes=True)


def viewed_patient(session: Session, case: str, *, via: str) -> Patient | None:
    """The case's patient row, the look audited first (`patient_viewed`: who, which case,
    when, through what) — a look that cannot be audited is not given. The caller has checked
    that the role may see who the patient is."""
    row = session.case_store().patient_of_case(case)
    if row is not None:
        record_event(
            session, case, AuditAction.PATIENT_VIEWED, {"patient_ref": row.patient_ref, "via": via}
        )
    return row


class CaseView(BaseModel):
    """One case as a whole: its status, timeline, observations and notifications."""

    status: JourneyStatus
    timeline: list[MilestoneEvent]
    observations: list[ObservationRecord]
    notifications: list[OutboxLine]
    timezone: str = "UTC"
    # The site the case is at (or sent to), as its family is told of it: name, phone, address.
    centre: dict[str, str] | None = None
    # The steps ahead, expected when (`models.pathway.projection`).
    projected: list[ProjectedStep] = Field(default_factory=list)


async def case_view(session: Session, case: str) -> CaseView:
    """Everything the case page shows (any role), the journey's four queries at once."""
    status, timeline, observations, projected = await asyncio.gather(
        journeys.status(session, case),
        journeys.timeline(session, case),
        journeys.observations(session, case),
        journeys.projected(session, case),
    )
    return CaseView(
        status=status,
        timeline=timeline,
        observations=observations,
        projected=projected,
        notifications=outbox(session, case),
        timezone=viewer_timezone(session),
        centre=_centre(session, status.current_site or status.submitted_site),
    )


def _centre(session: Session, site: str | None) -> dict[str, str] | None:
    row = Directory(session.case_store()).site(site)
    if row is None:
        return None
    return {"site": row.site, "name": row.name, "phone": row.phone, "address": row.address}


def audit_sign_in(session: Session, action: AuditAction, detail: dict[str, str]) -> None:
    """Audit a sign-in or sign-out under the `staff` audit case."""
    try:
        record_event(session, STAFF_AUDIT, action, detail)
    except Exception as e:  # the sign-in stands; failing to audit it must be visible
        session.warn(f"the sign-in could not be written to the audit log: {e}")


# For the board (`services.board`): the worklist's scope and rows.
scope = _scope
row_of_projection = _row_of_projection
