"""The family's side: a sign-in link by e-mail, their page, their uploads, their messages and
the symptoms they report.

- **Sign-in.** A link to the e-mail on the intake file (the patient's and the caregiver's),
  asked for by the coordinator (`cellpath family link CASE`, the case page) or by the family
  from the page's sign-in form (by their e-mail address; the answer never says whether the
  address is on a file). Only the SHA-256 of the link's token is kept; it works once, for
  `family_link_minutes`; at most `family_links_per_hour` are sent per case per hour. With an
  SMS URL and a phone on file, a 6-digit code by text message is the second factor
  (`send_code`, `check_code`; its salted SHA-256 kept, once, `family_code_tries` tries).
- **Scope.** A family session is for one case, and only while its journey is open. Every
  function here takes the case from the session (`FamilySession`), never from the request.
- **What they do.** Read where they are in plain words (`view`), upload a record (waiting for
  the coordinator), send a message, report a symptom (fever, breathing, confusion, bleeding,
  other): `symptom_reported` raises an urgent alert to the on-call physician at once. Past
  `family_symptom_reports_per_hour`, a report is kept as a message and the coordinator is
  told, but no new alert is raised: a flood cannot page a physician without end, and the first
  reports already did.

Every refusal is audited on the case with its reason; nothing refused is kept.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cellpath.delivery import channels
from cellpath.delivery.messages import family_language, render_family
from cellpath.handover import ics
from cellpath.services import journeys, notes, records
from cellpath.services.authority import authorise
from cellpath.services.base import Refusal, Session, Unreachable
from cellpath.services.notices import tell_coordinator
from cellpath.store.directory import Directory
from cellpath.store.records import RecordRows
from cellpath.store.tables import CaseNote, JourneyRow, Patient, RecordFile, SiteRow
from models.enums import AuditAction, NotificationKind, Phase, Severity
from models.errors import RefusalCode
from models.messages import DeadlineView, JourneyStatus
from models.money import PayerBalance
from models.pathway.data_records import SYMPTOMS
from models.roles import Action
from models.schedule import ProjectedStep

# Deadlines a family is told of (their dates), by name or prefix.
FAMILY_DATES = (
    "arrival",
    "telemedicine",
    "stay_near_centre",
    "no_driving",
    "visa_extension",
    "long_term_check_in",
    "response_month_",
    "response_assessment",
)


def family_actor(case: str) -> str:
    """The actor a family's actions are recorded under (never the family's name)."""
    return f"family@{case.lower()}"[:64]


@dataclass(frozen=True)
class FamilySession:
    """A signed-in family: their case, and the service session acting as them."""

    case: str
    session: Session


@dataclass
class FamilyView:
    """What the family page shows (in the family's language: the page's templates)."""

    language: str
    phase: str
    outcome: str | None
    records_missing: list[str]
    dates: list[DeadlineView]
    centre: SiteRow | None
    uploads: list[RecordFile]
    messages: list[CaseNote]
    alerts_open: int
    timezone: str
    infused: bool
    family_name: str | None = None
    sent: list[str] = field(default_factory=list)
    # The family's own share of the estimate and what they paid (the trial's and an
    # insurer's shares are the team's business), with the quote's currency and deposit.
    costs: PayerBalance | None = None
    currency: str | None = None
    quote_version: int | None = None
    deposit: Decimal | None = None
    deposit_paid: Decimal | None = None
    # When to expect the arrival, the infusion, leaving hospital and going home (estimates).
    expected: list[ProjectedStep] = field(default_factory=list)


def _rows(session: Session) -> RecordRows:
    return RecordRows(session.case_store())


def _refused(session: Session, case: str, message: str, code: RefusalCode) -> Refusal:
    _rows(session).audit(case, AuditAction.FAMILY_REFUSED, session.actor, {}, message)
    return Refusal(message, code)


def open_case(session: Session, case: str) -> bool:
    """Whether the case's journey is open (by its projection)."""
    with session.case_store().session() as s:
        row = s.get(JourneyRow, case)
    return row is not None and row.phase != Phase.CLOSED


# --- sign-in -------------------------------------------------------------------------------


async def send_link(session: Session, case: str) -> str:
    """A coordinator (or physician) sends the family a sign-in link; says to whom."""
    authorise(session, Action.MILESTONE, case=case)
    return await _send_link(session, case)


async def request_link(session: Session, email: str) -> None:
    """The family asks for a link by their e-mail address. Nothing is said either way: a link
    goes to every open case whose patient or caregiver has this address (within the limit)."""
    wanted = email.strip().lower()
    if "@" not in wanted:
        return
    store = session.case_store()
    from sqlalchemy import func
    from sqlmodel import or_, select

    from cellpath.store.tables import Case

    with store.session() as s:
        refs = [
            p.patient_ref
            for p in s.exec(
                select(Patient).where(
                    or_(
                        func.lower(Patient.email) == wanted,
                        func.lower(Patient.caregiver_email) == wanted,
                    )
                )
            )
        ]
        cases = [c.case_id for c in s.exec(select(Case).where(Case.patient_ref.in_(refs)))]  # type: ignore[attr-defined]
    for case in cases:
        if not open_case(session, case):
            continue
        try:
            await _send_link(session, case)
        except (Refusal, Unreachable):
            continue  # audited; the person asking is told nothing more


async def _send_link(session: Session, case: str) -> str:
    rows, settings = _rows(session), session.settings
    since = datetime.now(UTC) - timedelta(hours=1)
    if rows.links_since(case, since) >= settings.family_links_per_hour:
        message = (
            f"{settings.family_links_per_hour} sign-in links were sent for this case in the "
            "last hour; expected the family to use one of them (try again later)"
        )
        rows.audit(case, AuditAction.FAMILY_LINK_REFUSED, session.actor, {}, message)
        raise Refusal(message, RefusalCode.PATHWAY_RULE)
    if not open_case(session, case):
        raise _refused(session, case, f"case {case} is closed or unknown", RefusalCode.CLOSED)
    patient = session.case_store().patient_of_case(case)
    if not notes.family_addresses(patient):
        raise _refused(
            session,
            case,
            "the intake file has no e-mail for the patient or the caregiver; "
            "expected one to send the sign-in link to",
            RefusalCode.MISSING_FIELD,
        )
    assert patient is not None
    token = secrets.token_urlsafe(32)
    rows.new_link(case, token, "family", session.actor, settings.family_link_minutes)
    link = f"{settings.console_url.rstrip('/')}/family/sign-in/{token}"
    try:
        centre = centre_of(
            session.case_store(), case, await journeys.status_for_family(session, case)
        )
    except Unreachable:  # the link still goes; the centre's details are on the page
        centre = None
    message = render_family(
        "sign_in",
        patient.preferred_language,
        link=link,
        minutes=f"{settings.family_link_minutes:g}",
        family_name=patient.full_name,
        centre=centre,
    )
    state, error = await notes.send_to_family(
        session, patient, message.subject, message.body, f"{case}:family-link:{token[:8]}"
    )
    if state != "sent":
        raise Unreachable(f"the sign-in link could not be e-mailed: {error}")
    return "a sign-in link was e-mailed to the family (patient and caregiver on file)"


def link_language(session: Session, token: str) -> str | None:
    """The language of the family a sign-in link was sent to (its page before signing in
    speaks it); None for a link not known."""
    case = _rows(session).link_case(token)
    patient = session.case_store().patient_of_case(case) if case else None
    return family_language(patient.preferred_language) if patient else None


def sign_in(session: Session, token: str) -> str:
    """Spend a sign-in link: the case it opens, or a refusal saying why not (audited)."""
    rows = _rows(session)
    case, why = rows.use_link(token)
    if case is None or why:
        rows.audit(case or "family", AuditAction.FAMILY_REFUSED, session.actor, {}, why)
        raise Refusal(why, RefusalCode.PERMISSION)
    if not open_case(session, case):
        raise _refused(
            session, case, "this case is closed; the page is no longer open", RefusalCode.CLOSED
        )
    rows.audit(case, AuditAction.FAMILY_SIGNED_IN, family_actor(case), {"link": True})
    return case


async def send_code(session: Session, token: str, case: str) -> tuple[int, str] | None:
    """The second factor, when configured (`family_second_factor`, an SMS URL) and the family
    has a phone on file: a 6-digit code by text message to it. Returns the link's id and the
    phone's last digits to say where it went; None when the link alone signs in."""
    settings = session.settings
    patient = session.case_store().patient_of_case(case)
    phones = [p for p in (patient.phone, patient.caregiver_phone) if p] if patient else []
    if not settings.family_second_factor or settings.sms_url is None or not phones:
        return None
    rows = _rows(session)
    link_id = rows.link_id(token)
    assert link_id is not None  # the link was just spent
    code = f"{secrets.randbelow(10**6):06d}"
    rows.set_code(link_id, code, settings.family_code_minutes)
    assert patient is not None
    message = render_family(
        "code", patient.preferred_language, code=code, minutes=f"{settings.family_code_minutes:g}"
    )
    sent = []
    for phone in phones:
        url = settings.sms_url.get_secret_value().replace("{phone}", "".join(phone.split()))
        try:
            await asyncio.to_thread(channels.send, url, subject=message.subject, body=message.body)
            sent.append(phone)
        except channels.ChannelError:
            continue
    if not sent:
        raise Unreachable("the sign-in code could not be sent by text message; call the centre")
    rows.audit(case, AuditAction.FAMILY_LINK_SENT, family_actor(case), {"code_to": "phone"})
    return link_id, sent[0][-4:]


def check_code(session: Session, link_id: int, code: str) -> str:
    """The second factor's code: the case it opens, or a refusal saying why (audited)."""
    rows = _rows(session)
    case, why = rows.check_code(link_id, code, session.settings.family_code_tries)
    if case is None or why:
        rows.audit(case or "family", AuditAction.FAMILY_REFUSED, session.actor, {}, why)
        raise Refusal(why, RefusalCode.PERMISSION)
    rows.audit(case, AuditAction.FAMILY_SIGNED_IN, family_actor(case), {"second_factor": True})
    return case


def check_open(f: FamilySession) -> None:
    """Refuse everything on a case that closed since the family signed in."""
    if not open_case(f.session, f.case):
        raise Refusal("this case is closed; the page is no longer open", RefusalCode.CLOSED)


# --- the page ------------------------------------------------------------------------------


async def view(f: FamilySession) -> FamilyView:
    """Where the family is, what is next, what the team needs from them, their dates."""
    check_open(f)
    s, store = f.session, f.session.case_store()
    status = await journeys.status_for_family(s, f.case)
    patient = store.patient_of_case(f.case)
    now = datetime.now(UTC)
    thread = [
        n for n in _rows(s).notes(f.case) if n.kind in ("to_family", "from_family", "symptom")
    ]
    return FamilyView(
        language=family_language(patient.preferred_language if patient else None) or "en",
        phase=str(status.phase),
        outcome=str(status.outcome) if status.outcome else None,
        records_missing=list(status.records_missing),
        dates=sorted(
            (d for d in status.open_deadlines if _family_date(d.name) and d.due_at > now),
            key=lambda d: d.due_at,
        ),
        centre=centre_of(store, f.case, status),
        uploads=[r for r in _rows(s).of_case(f.case) if r.source == "family"],
        messages=thread,
        alerts_open=sum(1 for a in status.alerts if a.open),
        timezone=status.family_timezone,
        infused=status.infused_at is not None,
        family_name=patient.full_name if patient else None,
        expected=[
            p for p in await journeys.projected(s, f.case, family=True) if p.step in FAMILY_STEPS
        ],
        **_costs(status),
    )


# The steps a family plans around (`view`): travel, the infusion, leaving hospital, home.
FAMILY_STEPS = ("patient_arrived", "infusion_completed", "discharged", "returned_home")


def _costs(status: JourneyStatus) -> dict[str, Any]:
    ledger = status.ledger
    if ledger is None:
        return {}
    mine = next((b for b in ledger.balances if b.payer == "patient"), None)
    return {
        "costs": mine,
        "currency": ledger.currency,
        "quote_version": ledger.accepted_version or ledger.latest_version,
        "deposit": ledger.deposit,
        "deposit_paid": ledger.deposit_paid,
    }


def centre_of(store: Any, case: str, status: JourneyStatus) -> SiteRow | None:
    """The centre the family is told of: the case's site, else the first of its sites."""
    directory = Directory(store)
    site = directory.site_of_case(case)
    if site is None and status.sites:
        site = directory.site(status.current_site or status.submitted_site or status.sites[0])
    return site


def _family_date(name: str) -> bool:
    return any(name == d or (d.endswith("_") and name.startswith(d)) for d in FAMILY_DATES)


async def calendar(f: FamilySession) -> bytes:
    """The family's calendar (`.ics`), as the hand-over's."""
    check_open(f)
    status: JourneyStatus = await journeys.status_for_family(f.session, f.case)
    data = ics.calendar(status, status.family_timezone, datetime.now(UTC))
    _rows(f.session).audit(f.case, AuditAction.EXPORTED, f.session.actor, {"form": "ical"})
    return data


async def upload(
    f: FamilySession,
    data: bytes,
    *,
    record_type: str,
    filename: str = "",
    declared: str | None = None,
) -> records.Added:
    """A record the family sends: checked as staff's are, waiting for the coordinator."""
    check_open(f)
    added = await records.add(
        f.session,
        f.case,
        data,
        record_type=record_type,
        filename=filename,
        declared=declared,
        source="family",
    )
    if not added.duplicate:
        await _tell(f, "The family sent a record; accept or decline it on the case page.")
    return added


async def message(f: FamilySession, text: str) -> CaseNote:
    """A message from the family to their care team (the coordinator is told, without it)."""
    check_open(f)
    note = _rows(f.session).add_note(
        CaseNote(
            case_id=f.case,
            kind="from_family",
            author=f.session.actor,
            text=notes.checked_text(text),
            created_at=datetime.now(UTC),
        )
    )
    await _tell(f, "The family sent a message; read it on the case page.")
    return note


async def report_symptom(f: FamilySession, symptom: str, text: str = "") -> bool:
    """A symptom the family reports: an urgent alert to the on-call physician at once.

    Returns whether an alert was raised (False past the hourly limit: the report is kept
    and the coordinator told). The family's own words stay in the case store.
    """
    check_open(f)
    if symptom not in SYMPTOMS:
        raise _refused(
            f.session,
            f.case,
            f"unknown symptom {symptom!r}; expected one of: " + ", ".join(SYMPTOMS),
            RefusalCode.UNKNOWN_NAME,
        )
    rows, limit = _rows(f.session), f.session.settings.family_symptom_reports_per_hour
    recent = rows.count_since(f.case, "symptom", datetime.now(UTC) - timedelta(hours=1))
    rows.add_note(
        CaseNote(
            case_id=f.case,
            kind="symptom",
            author=f.session.actor,
            text=f"[{symptom}] {text.strip()[: notes.MAX_TEXT]}".strip(),
            created_at=datetime.now(UTC),
        )
    )
    if recent >= limit:
        rows.audit(
            f.case,
            AuditAction.FAMILY_REFUSED,
            f.session.actor,
            {"symptom": symptom},
            f"more than {limit} symptom reports in an hour: kept, no new alert",
        )
        await _tell(
            f,
            f"The family reported another symptom ({symptom}); call them back.",
            severity=Severity.URGENT,
        )
        return False
    try:
        await journeys.symptom_from_family(f.session, f.case, symptom)
    except Refusal:
        # A journey from before the records patch does not take the report: the coordinator
        # is told at once instead, urgently (the report is kept in the thread).
        await _tell(
            f, f"The family reports {symptom}: call them back now.", severity=Severity.URGENT
        )
    return True


async def _tell(f: FamilySession, text: str, severity: Severity = Severity.WARNING) -> None:
    with f.session.case_store().session() as s:
        row = s.get(JourneyRow, f.case)
    if row is None:
        return
    await tell_coordinator(
        f.session,
        f.case,
        row.coordinator,
        f"Case {f.case}: {text}",
        kind=NotificationKind.FAMILY,
        severity=severity,
    )
