"""`JourneyState`: everything a journey knows, carried whole across continue-as-new."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from models.calendar import BusinessCalendar
from models.capacity import Booking
from models.custody import CustodyLink, Shipment
from models.deadlines import DeadlineBook
from models.enums import (
    ConsentType,
    MilestoneKind,
    Outcome,
    Phase,
    RecordType,
    SignatureMeaning,
)
from models.messages import (
    AdverseEventRecord,
    Alert,
    MilestoneEvent,
    ObservationInput,
    RejectedSignal,
    Relapse,
    SaeReport,
    ToxicityView,
    Translation,
)
from models.money import Payment, Quote
from models.protocol import ProtocolConfig


class Product(BaseModel):
    """The cell product to infuse: released by manufacturing or reserved off the shelf."""

    lot: str
    coi_id: str
    source: str  # "released" (autologous) or "reserved" (allogeneic)


class ObservationRecord(BaseModel):
    """An accepted observation as stored in the journey (the input plus when it was recorded)."""

    observation: ObservationInput
    observed_at: datetime
    recorded_at: datetime
    crs_grade: int | None = None
    icans_grade: int | None = None
    gvhd_grade: int | None = None
    flags: list[str] = Field(default_factory=list)
    anc_grade: int | None = None
    platelet_grade: int | None = None
    anaemia_grade: int | None = None
    icaht_grade: int | None = None
    tumour_lysis: str | None = None


class ConsentRecord(BaseModel):
    """A signed consent as the journey keeps it (the document stays outside Temporal)."""

    consent_type: ConsentType
    form_version: str
    signer: str
    document_sha256: str
    interpreter_language: str | None = None
    witness: str | None = None
    signed_at: datetime
    recorded_by: str
    withdrawn_at: datetime | None = None


class Readiness(BaseModel):
    """The readiness checklist before conditioning, as recorded so far."""

    tls_prophylaxis_started_at: datetime | None = None
    tocilizumab_doses: int | None = None
    icu_bed_confirmed: bool | None = None
    caregiver_present: bool | None = None


class Signature(BaseModel):
    """A signed clinical decision: who signed, when, and what the signature means."""

    decision: str
    signer: str
    meaning: SignatureMeaning
    signed_at: datetime
    detail: str = ""
    # A decision received in writing and transcribed: who transcribed it, from which document.
    transcribed_by: str | None = None
    document_sha256: str | None = None


class JourneyState(BaseModel):
    """The journey's facts, deadlines, alerts and timeline.

    Fields are added with defaults only, so a state serialised by an older run still loads.
    """

    protocol: ProtocolConfig
    # Which rules the journey runs under: 1 = as first released, 2 = graded monitoring,
    # restriction windows and long-term follow-up. Raised by the workflow behind
    # `workflow.patched`, so runs recorded under version 1 replay unchanged.
    rules_version: int = 1
    calendar: BusinessCalendar | None = None
    phase: Phase = Phase.INTAKE
    outcome: Outcome | None = None
    revision: int = 0
    run_count: int = 1

    records_on_file: list[RecordType] = Field(default_factory=list)
    current_site: str | None = None
    submitted_site: str | None = None
    declined_sites: list[str] = Field(default_factory=list)
    logistics_done: list[MilestoneKind] = Field(default_factory=list)
    letter_site: str | None = None
    visa_valid_until: date | None = None
    arrival_date: date | None = None
    arrived_at: datetime | None = None
    accommodation_registered: bool = False
    cleared: bool = False
    apheresis_coi: str | None = None
    manufacturing_started: bool = False
    manufacturing_failures: int = 0
    product: Product | None = None
    conditioning_started_at: datetime | None = None
    conditioning_completed_at: datetime | None = None
    thawed_at: datetime | None = None
    infused_at: datetime | None = None
    discharged_at: datetime | None = None
    returned_home: bool = False
    telemedicine_months: list[int] = Field(default_factory=list)
    responses: list[str] = Field(default_factory=list)
    registry_reported: list[str] = Field(default_factory=list)
    check_in_years: list[int] = Field(default_factory=list)
    toxicity: ToxicityView = Field(default_factory=ToxicityView)
    baseline_ferritin_ng_ml: float | None = None

    observations: list[ObservationRecord] = Field(default_factory=list)
    book: DeadlineBook = Field(default_factory=DeadlineBook)
    alerts: list[Alert] = Field(default_factory=list)
    timeline: list[MilestoneEvent] = Field(default_factory=list)
    rejected: list[RejectedSignal] = Field(default_factory=list)
    rejected_total: int = 0
    # Of `rejected_total`, signals counted but never read: they arrived in a flood while the
    # run had to continue as new to stay under Temporal's limits (each is in that run's history).
    rejected_unread: int = 0
    # Timeline entries a fresh run no longer carries (a flood of milestones would otherwise
    # grow the carried state past Temporal's 2 MB payload limit): how many, the latest time
    # among their milestones, and digests of those with an id (idempotency), most recent last.
    # Each entry is whole in the case store's audit log.
    timeline_archived: int = 0
    archived_last_occurred: datetime | None = None
    archived_ids: dict[str, str] = Field(default_factory=dict)

    # Rules version 5 (a journey started under it): consent, checklists, signatures, hand-over.
    consents: list[ConsentRecord] = Field(default_factory=list)
    # The trial's current consent form version (the first trial consent's, or the last
    # `consent_version_changed`).
    trial_consent_version: str | None = None
    eligibility_failing: list[str] = Field(default_factory=list)
    readiness: Readiness = Field(default_factory=Readiness)
    signatures: list[Signature] = Field(default_factory=list)
    handover_sent_at: datetime | None = None
    # In intensive care since, and why (runs under `AFTER_INFUSION`); None: not in the ICU.
    icu_since: datetime | None = None
    icu_reason: str | None = None
    icu_stays: int = 0

    # After infusion, watched (runs under `WATCHED`): conditions now present, each alerted
    # once when it begins (`neutropenic_fever`, `tumour_lysis`, `prolonged_cytopenia`, …);
    # adverse events; reports to the sponsor (pending and done); death; relapse; responses
    # by month with MRD; bridging therapy's end.
    watching: list[str] = Field(default_factory=list)
    adverse_events: list[AdverseEventRecord] = Field(default_factory=list)
    sae_reports: list[SaeReport] = Field(default_factory=list)
    died_at: datetime | None = None
    death_cause: str | None = None
    relapses: list[Relapse] = Field(default_factory=list)
    response_months_done: list[int] = Field(default_factory=list)
    bridging_until: datetime | None = None
    re_referral_decision: str | None = None
    # Set by the first run under `WATCHED` that finds the journey before conditioning: it
    # takes the after-infusion follow-up track (`Journey.tracked`).
    watched_track: bool = False
    # Records and the family (runs under `RECORDS`): translations for the PI, by record.
    translations: list[Translation] = Field(default_factory=list)
    # The family's money (runs under `LEDGER`): every quote version, the one accepted, and
    # what was received or refunded.
    quotes: list[Quote] = Field(default_factory=list)
    accepted_quote: int | None = None
    payments: list[Payment] = Field(default_factory=list)
    # Chain of custody (runs under `CUSTODY`).
    custody: list[CustodyLink] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    # A site's resources the journey holds, and the last it gave back (runs under `CAPACITY`).
    bookings: list[Booking] = Field(default_factory=list)
