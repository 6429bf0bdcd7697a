"""What a journey shows: its status (queries, the CLI, the console) and the case store's
row for it. Read-only views of `Journey`, kept apart from the rules that change it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.capacity import chain_for
from models.enums import Phase, Severity
from models.messages import (
    ConsentView,
    JourneyProjection,
    JourneyStatus,
    LabView,
    SignatureView,
)
from models.pathway import expected, gates, options
from models.pathway.data import LABS
from models.pathway.milestones import money

if TYPE_CHECKING:
    from models.pathway.journey import Journey

# Where status lists the readiness checklist: from arrival until conditioning starts.
READY_PHASES = (Phase.ARRIVAL, Phase.COLLECTION, Phase.MANUFACTURING, Phase.CONDITIONING)


def status(j: Journey) -> JourneyStatus:
    """The journey at a glance (what `cellpath status` and the console show)."""
    s = j.state
    return JourneyStatus(
        case_id=j.facts.case_id,
        patient_ref=j.facts.patient_ref,
        phase=s.phase,
        outcome=s.outcome,
        current_site=s.current_site,
        submitted_site=s.submitted_site,
        coordinator=j.facts.coordinator,
        therapy=j.facts.therapy,
        cell_source=j.facts.cell_source,
        program=j.facts.program,
        protocol=s.protocol.name,
        expected=expected.expected(j),
        records_missing=expected.records_missing(j),
        open_deadlines=j.open_deadlines(),
        alerts=list(s.alerts),
        milestone_count=s.timeline_archived + len(s.timeline),
        rejected=list(s.rejected),
        rejected_total=s.rejected_total,
        rejected_unread=s.rejected_unread,
        records_on_file=[r.value for r in s.records_on_file],
        manufacturing_failures=s.manufacturing_failures,
        infused_at=s.infused_at,
        observation_count=len(s.observations),
        run_count=s.run_count,
        toxicity=s.toxicity,
        rules_version=s.rules_version,
        gates_off=s.protocol.gates_off() if j.v5 else [],
        consents=[
            ConsentView(
                **c.model_dump(exclude={"recorded_by"}),
                valid=gates.valid_consent(j, c.consent_type) is c,
            )
            for c in s.consents
        ],
        trial_consent_version=s.trial_consent_version,
        consent_missing=gates.consent_missing(j),
        readiness=(
            gates.readiness(j, None)
            if j.v5 and s.conditioning_started_at is None and s.phase in READY_PHASES
            else []
        ),
        eligibility_failing=list(s.eligibility_failing),
        signatures=[SignatureView(**g.model_dump()) for g in s.signatures],
        options=options.options(j),
        discharged_at=s.discharged_at,
        handover_sent_at=s.handover_sent_at,
        family_timezone=j.family_timezone(),
        centre_timezone=j.protocol.site_timezone,
        home_timezone=j.facts.home_timezone,
        indication=j.facts.indication,
        target_antigens=list(j.facts.target_antigens),
        icu_since=s.icu_since,
        icu_reason=s.icu_reason,
        watched=j.watched,
        labs=latest_labs(j),
        watching=list(s.watching),
        adverse_events=list(s.adverse_events),
        sae_reports=list(s.sae_reports),
        died_at=s.died_at,
        death_cause=s.death_cause,
        relapses=list(s.relapses),
        re_referral_decision=s.re_referral_decision,
        records=j.records,
        translations=list(s.translations),
        working_language=j.protocol.working_language,
        sites=list(j.facts.sites),
        custody_rules=j.custody,
        custody_holder=s.custody[-1].to_party if s.custody else None,
        custody=list(s.custody),
        shipments=list(s.shipments),
        ledger_rules=j.ledger,
        ledger=money.ledger_view(j),
        capacity_rules=j.capacity,
        reassign_rules=j.reassigned,
        bookings=list(s.bookings),
        chain=chain_for(j.protocol, j.facts.cell_source) if j.capacity else [],
        response_months_done=list(s.response_months_done),
    )


def latest_labs(j: Journey) -> list[LabView]:
    """The latest value of each laboratory finding recorded, in `LABS` order."""
    out = []
    for name, lab in LABS.items():
        found = [
            (r.observed_at, v)
            for r in j.state.observations
            if (v := getattr(r.observation, name)) is not None
        ]
        if found:
            at, value = max(found, key=lambda f: f[0])
            out.append(LabView(name=name, value=value, unit=lab.unit, observed_at=at))
    return out


def projection(j: Journey, now: datetime) -> JourneyProjection:
    """The case store's row for this journey (the worklist's, the care team's facts)."""
    open_ = j.open_deadlines()
    nxt = open_[0] if open_ else None
    open_alerts = [a for a in j.state.alerts if a.open]
    ranks = list(Severity)  # in order of loudness
    return JourneyProjection(
        case_id=j.facts.case_id,
        patient_ref=j.facts.patient_ref,
        revision=j.state.revision,
        phase=j.state.phase,
        outcome=j.state.outcome,
        therapy=j.facts.therapy,
        cell_source=j.facts.cell_source,
        program=j.facts.program,
        site=j.state.current_site or j.state.submitted_site,
        coordinator=j.facts.coordinator,
        next_deadline=nxt.name if nxt else None,
        next_deadline_at=nxt.due_at if nxt else None,
        overdue=any(v.overdue for v in open_),
        escalation_level=max((v.escalation_level for v in open_), default=0),
        updated_at=now,
        open_alerts=len(open_alerts),
        top_alert=max((a.severity for a in open_alerts), key=ranks.index, default=None),
        critical_alerts=sum(a.severity is Severity.CRITICAL for a in open_alerts),
        urgent_alerts=sum(a.severity is Severity.URGENT for a in open_alerts),
        bookings=[b.booking_id for b in j.state.bookings if b.active] if j.capacity else None,
    )
