"""The hand-over to the home team: the FHIR bundle, the family's calendar, and sending it.

- `bundle` builds the hand-over Bundle from the journey (status, timeline, observations). It
  names the patient only for a role that may see who it is (the look is audited as
  `patient_viewed`); anyone else gets the pseudonymous bundle (patient_ref only). Every export
  is audited (`exported`: who took which case's data, in which form).
- `calendar` is the family's `.ics` in their time zone.
- `send` builds the identified bundle, sends it by e-mail (Apprise, the delivery channels'
  SMTP server) to the home oncologist named at intake, and records `handover_sent` on the
  journey with the bundle's SHA-256, which meets the `handover_summary` deadline.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cellpath.delivery import channels
from cellpath.handover import fhir, ics
from cellpath.services import caseload, journeys
from cellpath.services.authority import authorise, record_event, record_refusal
from cellpath.services.base import Session, Unreachable, refusing
from models.enums import AuditAction, MilestoneKind
from models.errors import RefusalCode
from models.messages import MilestoneAck, MilestoneInput
from models.roles import Action


@dataclass
class Export:
    """An exported bundle: its bytes, its hash, its resource counts, whether it names anyone."""

    data: bytes
    sha256: str
    counts: dict[str, int]
    identified: bool


def _identity(session: Session, case: str) -> fhir.Identity | None:
    row = caseload.viewed_patient(session, case, via="handover")
    if row is None:
        return None
    return fhir.Identity(
        full_name=row.full_name,
        birth_date=row.birth_date,
        oncologist_name=row.home_oncologist_name,
        oncologist_institution=row.home_oncologist_institution,
        oncologist_email=row.home_oncologist_email,
    )


async def _facts(session: Session, case: str, identify: bool) -> fhir.HandoverFacts:
    status = await journeys.status(session, case)
    return fhir.HandoverFacts(
        status=status,
        timeline=await journeys.timeline(session, case),
        observations=await journeys.observations(session, case),
        generated_at=datetime.now(UTC),
        identity=_identity(session, case) if identify else None,
    )


async def bundle(session: Session, case: str, *, identify: bool = True) -> Export:
    """The hand-over bundle; identified only when asked and the role may see who it is."""
    authorise(session, Action.READ, case=case)
    identified = identify and caseload.permissions(session).may(Action.READ_IDENTITY)
    facts = await _facts(session, case, identified)
    data = fhir.encode(fhir.build(facts))
    export = Export(data, fhir.sha256(data), fhir.counts(fhir.check_json(data)), identified)
    record_event(
        session,
        case,
        AuditAction.EXPORTED,
        {"form": "fhir", "identified": identified, "sha256": export.sha256},
    )
    return export


async def calendar(session: Session, case: str) -> bytes:
    """The family's appointments and follow-up deadlines as an iCalendar file."""
    authorise(session, Action.READ, case=case)
    status = await journeys.status(session, case)
    data = ics.calendar(status, status.family_timezone, datetime.now(UTC))
    record_event(session, case, AuditAction.EXPORTED, {"form": "ical"})
    return data


async def send(session: Session, case: str, *, actor: str | None = None) -> MilestoneAck:
    """Send the hand-over bundle to the home oncologist and record `handover_sent`."""
    who = actor or session.actor
    kind = MilestoneKind.HANDOVER_SENT.value
    request = MilestoneInput(kind=kind, actor=who)
    authorise(session, Action.MILESTONE, case=case, request=request, milestone=kind, actor=who)
    authorise(session, Action.READ_IDENTITY, case=case, request=request, actor=who)
    facts = await _facts(session, case, identify=True)
    to = facts.identity.oncologist_email if facts.identity else None
    if not to:
        refusal = refusing(
            "case {case} names no home oncologist to send the hand-over to; expected "
            "patient.home_oncologist (name, institution, email) in the case's intake details",
            RefusalCode.MISSING_FIELD,
            case=case,
        )
        record_refusal(session, case, "handover", request, str(refusal), actor=who)
        raise refusal
    document = fhir.build(facts)
    data = fhir.encode(document)
    digest = fhir.sha256(data)
    smtp = session.settings.smtp_url
    if smtp is None:
        raise refusing("CELLPATH_SMTP_URL is not set: the hand-over cannot be e-mailed")
    url = channels.email_url(smtp.get_secret_value(), session.settings.mail_from, to)
    # On a thread: Apprise's SMTP client blocks, and the console serves others meanwhile.
    try:
        await asyncio.to_thread(
            functools.partial(
                channels.send,
                url,
                subject=f"Hand-over summary, case {case}",
                body=_cover_letter(facts, fhir.counts(document)),
                msg_id=channels.message_id(f"{case}:handover:{digest}", "home_oncologist", "email"),
                attachments=[(f"handover-{case}.fhir.json", data, "application/json")],
            )
        )
    except channels.ChannelError as e:
        # Nothing recorded: the deadline stays open and the coordinator may try again.
        raise Unreachable(f"the hand-over could not be e-mailed: {e}") from None
    return await journeys.record_milestone(
        session,
        case,
        request.model_copy(
            update={
                "data": {
                    "bundle_sha256": digest,
                    "resources": len(document["entry"]),
                    "channel": "email",
                },
                "milestone_id": f"handover-{digest[:16]}",
            }
        ),
    )


def _cover_letter(facts: fhir.HandoverFacts, counts: dict[str, Any]) -> str:
    s = facts.status
    resources = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return (
        f"Dear colleague,\n\nattached is the hand-over summary of case {s.case_id} "
        f"({s.therapy}, infused {s.infused_at:%Y-%m-%d} UTC): an HL7 FHIR R4 bundle with "
        f"{resources}. The follow-up plan and its due dates are its CarePlan and Tasks; the "
        "discharge letter is its DocumentReference.\n\n— the cellpath navigation team\n"
    )
