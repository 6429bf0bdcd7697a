"""Payloads that cross Temporal: workflow input, updates, signals, queries, acks and views.

These are the public contract (README, docs/architecture.md). Message *inputs* (`MilestoneInput`,
`ObservationInput`) are deliberately lenient in their types: a signal whose payload fails to
decode would be dropped by the SDK, and an update would be refused with a pydantic dump instead
of a sentence. The journey validates them itself (`models.pathway`) and explains refusals in
the coordinator's words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from models.capacity import Booking, ChainStep
from models.custody import CustodyLink, Shipment
from models.deadlines import DeadlineView
from models.enums import (
    CellSource,
    Outcome,
    Phase,
    Program,
    Severity,
    SignatureMeaning,
    Therapy,
)
from models.money import LedgerView

# The activity payloads are part of this contract: re-exported from `models.writes`.
from models.writes import (
    AuditBatch as AuditBatch,
)
from models.writes import (
    AuditEntry as AuditEntry,
)
from models.writes import (
    CalendarRequest as CalendarRequest,
)
from models.writes import (
    JourneyProjection as JourneyProjection,
)
from models.writes import (
    JourneyWrite as JourneyWrite,
)
from models.writes import (
    Notification as Notification,
)
from models.writes import (
    NotificationBatch as NotificationBatch,
)
from models.writes import (
    StoreResult as StoreResult,
)
from models.writes import (
    WriteResult as WriteResult,
)

NOTE_MAX_CHARS = 2000


class MilestoneInput(BaseModel):
    """A coordinator's record that something happened (`record_milestone`, `milestone`).

    `occurred_at` defaults to now; `milestone_id` is an idempotency key: the same id twice is
    acknowledged once.
    """

    kind: str
    actor: str = ""
    occurred_at: datetime | None = None
    note: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    milestone_id: str | None = None


class MilestoneEvent(BaseModel):
    """One entry of the journey's timeline: who recorded what, when it happened, when recorded.

    Besides milestones, the timeline records `reschedule` and `withdraw` actions, so the audit
    question "who moved this deadline, and why" is answered in the same place.
    """

    kind: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
    note: str = ""
    milestone_id: str | None = None


class MilestoneAck(BaseModel):
    """The answer to an accepted milestone (or withdrawal)."""

    accepted: bool
    duplicate: bool = False
    phase: Phase
    next_deadlines: list[DeadlineView] = Field(default_factory=list)


class ObservationInput(BaseModel):
    """A monitoring observation at the bedside. Grades are computed, never typed (see
    docs/clinical-rules.md, "Toxicity grading")."""

    actor: str = ""
    observed_at: datetime | None = None
    temperature_c: float | None = None
    systolic_bp: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    spo2: float | None = None
    oxygen_device: str = "none"
    oxygen_flow_l_min: float | None = None
    vasopressors: int = 0
    vasopressin: bool = False
    fever_other_cause: bool = False
    anticytokine_or_antipyretic_given: bool = False
    ice_score: int | None = None
    consciousness: str = "awake"
    seizure: str = "none"
    motor_weakness: bool = False
    cerebral_edema: str = "none"
    ferritin_ng_ml: float | None = None
    gvhd_skin_bsa_pct: float | None = None
    bilirubin_mg_dl: float | None = None
    stool_ml_day: float | None = None
    # After infusion (runs under `WATCHED`): laboratory and clinical findings, all optional,
    # units in the name. An observation with these and no vital signs is a laboratory result
    # (taken in monitoring and follow-up; the vital signs are required at the bedside only).
    anc_per_ul: float | None = None
    platelets_per_ul: float | None = None
    hemoglobin_g_dl: float | None = None
    igg_mg_dl: float | None = None
    creatinine_mg_dl: float | None = None
    potassium_mmol_l: float | None = None
    phosphate_mg_dl: float | None = None
    uric_acid_mg_dl: float | None = None
    calcium_mg_dl: float | None = None
    ldh_u_l: float | None = None
    # {"site": "lung", "organism": "E. coli" (if known), "treated": true}
    infection: dict[str, Any] | None = None
    # CTCAE 0–5, in the first hours after infusion.
    infusion_reaction_grade: int | None = None
    ivig_given: bool = False
    # What was transfused: red_cells, platelets (either or both).
    transfusion: list[str] | None = None
    # A cardiac arrhythmia (clinical tumour lysis, Cairo–Bishop).
    arrhythmia: bool = False
    note: str = ""
    observation_id: str | None = None


class ObservationAck(BaseModel):
    """The answer to an accepted observation: its computed grades and the alerts it raised.

    `crs_grade` and `icans_grade` are 0 when there is none; `gvhd_grade` is None for autologous
    products and when no GvHD organ was assessed (0 would claim it was, and found none). Flags
    name findings a physician should see (`hlh_like`, `capd_required`, `seizure`).
    """

    accepted: bool
    duplicate: bool = False
    crs_grade: int | None = None
    icans_grade: int | None = None
    gvhd_grade: int | None = None
    flags: list[str] = Field(default_factory=list)
    # Laboratory results (runs under `WATCHED`): CTCAE grades of the counts given, the ICAHT
    # grade so far, tumour lysis ("laboratory" / "clinical").
    anc_grade: int | None = None
    platelet_grade: int | None = None
    anaemia_grade: int | None = None
    icaht_grade: int | None = None
    tumour_lysis: str | None = None
    alerts: list[Alert] = Field(default_factory=list)
    next_observation_due: datetime | None = None


class RescheduleInput(BaseModel):
    """Move an open deadline (`reschedule` update)."""

    deadline: str
    due_at: datetime
    reason: str
    actor: str


class WithdrawInput(BaseModel):
    """Close the journey at the patient's or the team's request (`withdraw` update)."""

    reason: str
    actor: str


class HistoryImport(BaseModel):
    """A journey's past, for a patient already mid-treatment (`import_history` update).

    Every milestone carries its `occurred_at` and every observation its `observed_at`; they are
    applied oldest first and checked exactly as live ones. Deadlines are evaluated once, after
    the whole history is in: what fell due in the past goes to the coordinator in one summary,
    not as escalations one by one. All or nothing: one refused item refuses the import.
    """

    actor: str
    note: str = ""
    milestones: list[MilestoneInput] = Field(default_factory=list)
    observations: list[ObservationInput] = Field(default_factory=list)


class HistoryImportAck(BaseModel):
    """What an imported history did: counts, the phase reached, and the summary sent."""

    milestones: int
    observations: int
    phase: Phase
    summary: str
    next_deadlines: list[DeadlineView] = Field(default_factory=list)


class FieldHint(BaseModel):
    """One data field of an expected milestone: its name, whether required, what it takes."""

    name: str
    required: bool
    takes: str


class ExpectedMilestone(BaseModel):
    """A milestone the journey is waiting for now (`optional`: may be recorded, never awaited),
    with its data fields and what must be recorded first (`after`)."""

    kind: str
    fields: list[FieldHint] = Field(default_factory=list)
    optional: bool = False
    after: list[str] = Field(default_factory=list)


class Alert(BaseModel):
    """Something a person must look at now (a toxicity grade, a breached clinical window).

    A critical alert is sent again every few minutes (`repeats` counts the resends) until a
    physician acknowledges it; who acknowledged, when and with what note is kept here.
    """

    id: str
    kind: str
    severity: Severity
    raised_at: datetime
    text: str
    acknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    acknowledgement_note: str = ""
    repeats: int = 0
    last_sent_at: datetime | None = None
    # Closed by the journey itself when the condition cleared (e.g. a visa extension now
    # covers the stay), with the reason; an acknowledgement is a person's, a resolution not.
    resolved_at: datetime | None = None
    resolution: str = ""
    # The deadline whose breach raised it (a breached clinical window), if any: meeting that
    # deadline on time, recorded late, resolves it.
    deadline: str | None = None

    @property
    def open(self) -> bool:
        """Neither acknowledged by a person nor resolved by the journey."""
        return not self.acknowledged and self.resolved_at is None


class AcknowledgeAlertInput(BaseModel):
    """A physician's acknowledgement of an alert (`acknowledge_alert` update)."""

    alert_id: str
    actor: str
    note: str = ""
    # Rules version 5: acknowledging a critical alert is a signed decision.
    signature_meaning: SignatureMeaning | None = None


class ToxicityView(BaseModel):
    """Current (latest observation) and worst grades per syndrome, as `status()` shows them."""

    crs_current: int | None = None
    crs_worst: int | None = None
    icans_current: int | None = None
    icans_worst: int | None = None
    gvhd_current: int | None = None
    gvhd_worst: int | None = None
    last_observed_at: datetime | None = None
    flags: list[str] = Field(default_factory=list)


class RejectedSignal(BaseModel):
    """A `milestone` signal that was refused: kept with its reason, never dropped silently.

    Only a bounded summary is kept in the journey (the whole signal stays in the workflow's
    history): kind, actor and reason shortened, the data's field names, the message's size,
    and the milestone itself when it is small.
    """

    kind: str
    actor: str
    received_at: datetime
    reason: str
    milestone: MilestoneInput | None = None
    milestone_id: str | None = None
    data_fields: list[str] = Field(default_factory=list)
    size_bytes: int | None = None


class GateItem(BaseModel):
    """One item of a gate's checklist (readiness before conditioning): done or not, and why."""

    item: str
    done: bool
    detail: str = ""


class ConsentView(BaseModel):
    """A signed consent as status shows it (no document: its hash only)."""

    consent_type: str
    form_version: str
    signer: str
    signed_at: datetime
    document_sha256: str
    interpreter_language: str | None = None
    witness: str | None = None
    valid: bool = True
    withdrawn_at: datetime | None = None


class OptionHint(BaseModel):
    """A consideration for the reviewing physician (seed 001's decision framework): a
    suggestion with its source, never a decision and never a gate."""

    fact: str
    consider: str
    source: str


class SignatureView(BaseModel):
    """A signed clinical decision: who, when, what it means; for a transcribed one, who
    transcribed it and the signed document's SHA-256."""

    decision: str
    signer: str
    meaning: str
    signed_at: datetime
    detail: str = ""
    transcribed_by: str | None = None
    document_sha256: str | None = None


class AdverseEventRecord(BaseModel):
    """An adverse event as the journey keeps it (CTCAE term and grade; no identifying detail)."""

    term: str
    grade: int
    serious: bool
    related_to_product: bool
    occurred_at: datetime
    aware_at: datetime
    recorded_by: str


class SaeReport(BaseModel):
    """A serious adverse event the sponsor must hear of within `sae_report_hours` of awareness:
    what it was, when the team became aware, and once reported, when and under which
    sponsor reference."""

    id: str
    what: str
    aware_at: datetime
    reported_at: datetime | None = None
    sponsor_reference: str | None = None


class Relapse(BaseModel):
    """A relapse or progression: when, how found, what the disease shows (antigen status)."""

    detected_at: datetime
    source: str  # "relapse_detected" or "response_assessed PD"
    antigen_status: str | None = None


class Translation(BaseModel):
    """One record's translation for the PI (runs under `RECORDS`): the record by its SHA-256,
    its type and language; requested, translated (the translation's own SHA-256), verified —
    each by whom and when. The files stay in the records store."""

    sha256: str
    record_type: str
    language: str
    state: str  # "requested", "translated" or "verified"
    requested_by: str
    requested_at: datetime
    translation_sha256: str | None = None
    translated_by: str | None = None
    translated_at: datetime | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None

    @property
    def short(self) -> str:
        """The record's short hash: its deadline's suffix (`translation_<short>`)."""
        return self.sha256[:12]


class LabView(BaseModel):
    """The latest value of one laboratory finding, in its unit, and when it was observed."""

    name: str
    value: float
    unit: str
    observed_at: datetime


class JourneyStatus(BaseModel):
    """The journey at a glance (`status` query; also the workflow's result when it closes)."""

    case_id: str
    patient_ref: str
    phase: Phase
    outcome: Outcome | None = None
    current_site: str | None = None
    # The site whose PI is reviewing the case now (before any site accepted).
    submitted_site: str | None = None
    coordinator: str
    therapy: Therapy
    cell_source: CellSource
    program: Program
    protocol: str
    # What's next: the milestones the journey waits for now, with their fields.
    expected: list[ExpectedMilestone] = Field(default_factory=list)
    records_missing: list[str] = Field(default_factory=list)
    open_deadlines: list[DeadlineView] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)
    milestone_count: int = 0
    rejected: list[RejectedSignal] = Field(default_factory=list)
    # Refused signals ever received (`rejected` keeps the most recent ones only).
    rejected_total: int = 0
    # Of those, signals never read (a flood while the run had to continue as new).
    rejected_unread: int = 0
    # Signals received and not read yet (a flood is read a batch per workflow task).
    signals_waiting: int = 0
    records_on_file: list[str] = Field(default_factory=list)
    manufacturing_failures: int = 0
    infused_at: datetime | None = None
    observation_count: int = 0
    run_count: int = 1
    toxicity: ToxicityView = Field(default_factory=ToxicityView)
    # Rules version 5: whether the journey has the gates, the ones its protocol turns off.
    rules_version: int = 1
    gates_off: list[str] = Field(default_factory=list)
    consents: list[ConsentView] = Field(default_factory=list)
    # The trial's current consent form version, and whether the patient must re-consent.
    trial_consent_version: str | None = None
    consent_missing: list[str] = Field(default_factory=list)
    readiness: list[GateItem] = Field(default_factory=list)
    eligibility_failing: list[str] = Field(default_factory=list)
    signatures: list[SignatureView] = Field(default_factory=list)
    options: list[OptionHint] = Field(default_factory=list)
    discharged_at: datetime | None = None
    handover_sent_at: datetime | None = None
    # Where the family is (the centre's zone during treatment, home once returned).
    family_timezone: str = "UTC"
    # The zones of the centre (the site's) and of the family's home, for their calendar.
    centre_timezone: str = "UTC"
    home_timezone: str = "UTC"
    # What is treated (not who): the discharge letter and the hand-over name them.
    indication: str | None = None
    target_antigens: list[str] = Field(default_factory=list)
    # Where the patient is: in intensive care since (and why), or None.
    icu_since: datetime | None = None
    icu_reason: str | None = None
    # After infusion, watched (runs under `WATCHED`): the latest laboratory values, the
    # conditions present now (`neutropenic_fever`, `low_igg`, …), adverse events, reports to
    # the sponsor, death, relapses and the way back, response months recorded.
    watched: bool = False
    labs: list[LabView] = Field(default_factory=list)
    watching: list[str] = Field(default_factory=list)
    adverse_events: list[AdverseEventRecord] = Field(default_factory=list)
    sae_reports: list[SaeReport] = Field(default_factory=list)
    died_at: datetime | None = None
    death_cause: str | None = None
    relapses: list[Relapse] = Field(default_factory=list)
    re_referral_decision: str | None = None
    # Records and the family (runs under `RECORDS`).
    records: bool = False
    translations: list[Translation] = Field(default_factory=list)
    # The language the treating site reads records in (a record in another is translated).
    working_language: str = "zh"
    # The case's candidate sites, in the order given at intake.
    sites: list[str] = Field(default_factory=list)
    # Chain of custody (runs under `CUSTODY`, `custody_rules`): holder, links, shipments.
    custody_rules: bool = False
    custody_holder: str | None = None
    custody: list[CustodyLink] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    # The family's money (runs under `LEDGER`, `ledger_rules`): None before any quote.
    ledger_rules: bool = False
    ledger: LedgerView | None = None
    # Site resources (runs under `CAPACITY`): bookings held, then given back; the chain's steps.
    capacity_rules: bool = False
    bookings: list[Booking] = Field(default_factory=list)
    chain: list[ChainStep] = Field(default_factory=list)
    reassign_rules: bool = False  # a colleague may take the case over (`REASSIGNED`)
    response_months_done: list[int] = Field(default_factory=list)
