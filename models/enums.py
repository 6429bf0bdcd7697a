"""Enumerations of the cellpath vocabulary.

The string values are the public contract (README): coordinators type them, scripts parse
them and running journeys store them, so a value is never renamed without a migration.
"""

from __future__ import annotations

from enum import StrEnum


class Therapy(StrEnum):
    """The cell therapy a journey is for."""

    CAR_T = "car_t"
    CAR_NK = "car_nk"


class CellSource(StrEnum):
    """Where the cells come from: the patient's own (manufactured) or a donor's (off the shelf)."""

    AUTOLOGOUS = "autologous"
    ALLOGENEIC = "allogeneic"


class Program(StrEnum):
    """Whether the patient is treated within a clinical trial or as a hospital patient."""

    TRIAL = "trial"
    HOSPITAL = "hospital"


class Phase(StrEnum):
    """Phases of a journey, in pathway order (collection and manufacturing: autologous only)."""

    INTAKE = "intake"
    PRE_ASSESSMENT = "pre_assessment"
    PI_REVIEW = "pi_review"
    LOGISTICS = "logistics"
    ARRIVAL = "arrival"
    COLLECTION = "collection"
    MANUFACTURING = "manufacturing"
    CONDITIONING = "conditioning"
    INFUSION = "infusion"
    MONITORING = "monitoring"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


class Outcome(StrEnum):
    """Why a journey closed."""

    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    INELIGIBLE = "ineligible"
    DECLINED = "declined"
    NOT_CLEARED = "not_cleared"
    MANUFACTURING_FAILED = "manufacturing_failed"
    # Runs under `WATCHED`: the patient died (in a trial, once the death's SAE is reported).
    DIED = "died"


class RecordType(StrEnum):
    """Types of medical record collected at intake (docs/clinical-rules.md)."""

    PATHOLOGY = "pathology"
    IMAGING = "imaging"
    TREATMENT_HISTORY = "treatment_history"
    LABS = "labs"
    INFECTION_SCREENING = "infection_screening"
    PHYSICIAN_SUMMARY = "physician_summary"
    IMMUNOPHENOTYPING = "immunophenotyping"
    MOLECULAR = "molecular"
    BONE_MARROW = "bone_marrow"
    ANTIGEN_TESTING = "antigen_testing"
    MEDICATION_LIST = "medication_list"
    DISCHARGE_SUMMARIES = "discharge_summaries"


class MilestoneKind(StrEnum):
    """Every milestone a coordinator can record (docs/clinical-rules.md, "Milestones, by phase")."""

    RECORD_RECEIVED = "record_received"
    RECORDS_COMPLETE = "records_complete"
    ELIGIBILITY_ASSESSED = "eligibility_assessed"
    SUBMITTED_TO_PI = "submitted_to_pi"
    PI_DECISION = "pi_decision"
    COST_ESTIMATE_ACCEPTED = "cost_estimate_accepted"
    INVITATION_LETTER_ISSUED = "invitation_letter_issued"
    VISA_ISSUED = "visa_issued"
    TRAVEL_BOOKED = "travel_booked"
    INTERPRETER_ARRANGED = "interpreter_arranged"
    ACCOMMODATION_BOOKED = "accommodation_booked"
    PRODUCT_RESERVED = "product_reserved"
    PATIENT_ARRIVED = "patient_arrived"
    ACCOMMODATION_REGISTERED = "accommodation_registered"
    PRETREATMENT_CLEARED = "pretreatment_cleared"
    APHERESIS_COMPLETED = "apheresis_completed"
    MANUFACTURING_STARTED = "manufacturing_started"
    BRIDGING_THERAPY_STARTED = "bridging_therapy_started"
    PRODUCT_RELEASED = "product_released"
    MANUFACTURING_FAILED = "manufacturing_failed"
    CONDITIONING_STARTED = "conditioning_started"
    CONDITIONING_COMPLETED = "conditioning_completed"
    PRODUCT_THAWED = "product_thawed"
    INFUSION_COMPLETED = "infusion_completed"
    DISCHARGED = "discharged"
    VISA_EXTENDED = "visa_extended"
    RETURNED_HOME = "returned_home"
    TELEMEDICINE_COMPLETED = "telemedicine_completed"
    RESPONSE_ASSESSED = "response_assessed"
    REGISTRY_REPORTED = "registry_reported"
    LONG_TERM_CHECK_IN = "long_term_check_in"
    FOLLOW_UP_COMPLETED = "follow_up_completed"
    # Rules version 5: consent, readiness and the hand-over to the home team.
    CONSENT_SIGNED = "consent_signed"
    CONSENT_VERSION_CHANGED = "consent_version_changed"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    READINESS_CHECKED = "readiness_checked"
    HANDOVER_SENT = "handover_sent"
    # After infusion (runs under `AFTER_INFUSION`): where the patient is.
    ICU_ADMITTED = "icu_admitted"
    ICU_DISCHARGED = "icu_discharged"
    # After infusion, watched (runs under `WATCHED`): adverse events and their reports to the
    # sponsor, death, relapse and the way back.
    ADVERSE_EVENT = "adverse_event"
    SAE_REPORTED = "sae_reported"
    DEATH = "death"
    RELAPSE_DETECTED = "relapse_detected"
    RE_REFERRAL_DECIDED = "re_referral_decided"
    # Records and the family (runs under `RECORDS`): a record's translation for the PI,
    # requested, uploaded and verified; a symptom the family reports from their page.
    TRANSLATION_REQUESTED = "translation_requested"
    RECORD_TRANSLATED = "record_translated"
    TRANSLATION_VERIFIED = "translation_verified"
    SYMPTOM_REPORTED = "symptom_reported"
    # The family's money (runs under `LEDGER`): versioned quotes, deposits, payments, refunds.
    QUOTE_ISSUED = "quote_issued"
    DEPOSIT_RECEIVED = "deposit_received"
    PAYMENT_RECORDED = "payment_recorded"
    REFUND_ISSUED = "refund_issued"
    # Chain of custody and condition (runs under `CUSTODY`): who holds the product, where, how
    # it travelled, and QA's word on a temperature excursion.
    CUSTODY_TRANSFERRED = "custody_transferred"
    SHIPMENT_DISPATCHED = "shipment_dispatched"
    SHIPMENT_RECEIVED = "shipment_received"
    QA_DISPOSITION = "qa_disposition"
    # A site's scarce resources (runs under `CAPACITY`): what the journey holds, booked in the
    # case store first (where two journeys cannot both take the last slot).
    SLOT_BOOKED = "slot_booked"
    SLOT_RELEASED = "slot_released"
    # Who coordinates the case (runs under `REASSIGNED`): a colleague takes it over.
    COORDINATOR_CHANGED = "coordinator_changed"


class Severity(StrEnum):
    """How loudly an alert must be heard. Urgent and critical go to the on-call physician."""

    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"
    CRITICAL = "critical"


class NotificationKind(StrEnum):
    """What a notification in the outbox is."""

    REMINDER = "reminder"
    ESCALATION = "escalation"
    ALERT = "alert"
    # An escalation sent for a deadline later recorded as met on time: whoever was paged may
    # stand down.
    RESOLUTION = "resolution"
    # One message instead of many: what an imported history left due in the past.
    SUMMARY = "summary"
    # Someone outside a case's care team broke the glass to open it (to its coordinator).
    ACCESS = "access"
    # The family sent a record or a message, or reported a symptom past its hourly limit (to
    # the coordinator; their words stay in the case store).
    FAMILY = "family"


class Recipient(StrEnum):
    """Roles a notification is addressed to; the address book maps them to people."""

    COORDINATOR = "coordinator"
    LEAD_COORDINATOR = "lead_coordinator"
    MEDICAL_DIRECTOR = "medical_director"
    ON_CALL_PHYSICIAN = "on_call_physician"
    SITE_COORDINATOR = "site_coordinator"
    # The patient and family, through the navigation service's usual channel (addressed by
    # patient_ref; the address book holds the contact details).
    PATIENT_FAMILY = "patient_family"


class DeadlineName(StrEnum):
    """The stable names of a journey's deadlines (public: `DeadlineView.name`).

    Registry windows are named by the protocol: `registry_deadline("day_100")` is
    `registry_day_100`.
    """

    RECORDS = "records"
    PRE_ASSESSMENT = "pre_assessment"
    PI_SUBMISSION = "pi_submission"
    PI_DECISION = "pi_decision"
    LOGISTICS = "logistics"
    ARRIVAL = "arrival"
    ACCOMMODATION_REGISTRATION = "accommodation_registration"
    PRETREATMENT_CLEARANCE = "pretreatment_clearance"
    VISA_EXTENSION = "visa_extension"
    APHERESIS = "apheresis"
    MANUFACTURING = "manufacturing"
    CONDITIONING = "conditioning"
    INFUSION_WINDOW = "infusion_window"
    THAW_TO_INFUSION = "thaw_to_infusion"
    OBSERVATION = "observation"
    STAY_NEAR_CENTRE = "stay_near_centre"
    NO_DRIVING = "no_driving"
    TELEMEDICINE = "telemedicine"
    RESPONSE_ASSESSMENT = "response_assessment"
    LONG_TERM_CHECK_IN = "long_term_check_in"
    FOLLOW_UP_COMPLETION = "follow_up_completion"
    # Rules version 5.
    READINESS = "readiness"
    HANDOVER_SUMMARY = "handover_summary"
    # After infusion, watched (runs under `WATCHED`). Response assessments are
    # `response_month_N` (`response_deadline(N)`), registry forms `registry_<window>`.
    IVIG_REVIEW = "ivig_review"
    SAE_REPORT = "sae_report"
    RE_REFERRAL = "re_referral"
    # The family's money (runs under `LEDGER`).
    DEPOSIT = "deposit"
    # Chain of custody (runs under `CUSTODY`): one per shipment, `shipment_<id>`.


def response_deadline(month: int) -> str:
    """The deadline of the response assessment at month N (e.g. `response_month_3`)."""
    return f"response_month_{month}"


def shipment_deadline(shipment: str) -> str:
    """The deadline of a shipment's arrival (e.g. `shipment_SH-1042`)."""
    return f"shipment_{shipment}"


def translation_deadline(record: str) -> str:
    """The deadline of one record's translation, by the record's short hash (e.g.
    `translation_3f9a0c12d4e5`): the first 12 hex digits of its SHA-256."""
    return f"translation_{record}"


def registry_deadline(window: str) -> str:
    """The deadline of a registry window the protocol names (e.g. `registry_day_100`)."""
    return f"registry_{window}"


class AlertKind(StrEnum):
    """What an alert is about."""

    CRS = "crs"
    ICANS = "icans"
    GVHD = "gvhd"
    HLH_LIKE = "hlh_like"
    PROTOCOL_DEVIATION = "protocol_deviation"
    DEADLINE_BREACHED = "deadline_breached"
    VISA_VALIDITY_SHORT = "visa_validity_short"
    # After infusion, watched (docs/clinical-rules.md, "After infusion").
    NEUTROPENIC_FEVER = "neutropenic_fever"
    TUMOUR_LYSIS = "tumour_lysis"
    INFUSION_REACTION = "infusion_reaction"
    PROLONGED_CYTOPENIA = "prolonged_cytopenia"
    LOW_IGG = "low_igg"
    RELAPSE = "relapse"
    SERIOUS_ADVERSE_EVENT = "serious_adverse_event"
    # The family reported a symptom from their page (runs under `RECORDS`).
    FAMILY_SYMPTOM = "family_symptom"
    # A shipment's temperature left its range (runs under `CUSTODY`): QA must decide.
    TEMPERATURE_EXCURSION = "temperature_excursion"


class AuditAction(StrEnum):
    """What an audit entry records. Milestones are `milestone:<kind>` and refusals
    `refused:<what>` (`milestone_action`, `refused_action`)."""

    JOURNEY_STARTED = "journey_started"
    RULES_UPGRADED = "rules_upgraded"
    OBSERVATION_RECORDED = "observation_recorded"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    ALERT_RESOLVED = "alert_resolved"
    RESCHEDULE = "reschedule"
    WITHDRAW = "withdraw"
    SIGNAL_REJECTED = "signal_rejected"
    PATIENT_ERASED = "patient_erased"
    ROLE_CHANGED = "role_changed"
    WRITE_SET_ASIDE = "write_set_aside"
    JOURNEY_RESET = "journey_reset"
    ESCALATION_RESOLVED = "escalation_resolved"
    HISTORY_IMPORTED = "history_imported"
    # The directory and delivery (case store only).
    CONTACT_SET = "contact_set"
    SITE_SET = "site_set"
    ROLE_ASSIGNED = "role_assigned"
    DELIVERY_ESCALATED = "delivery_escalated"
    DELIVERY_HELD = "delivery_held"
    UNDELIVERABLE = "undeliverable"
    # The console (case store only): sign-ins, passwords, sites, and every look at a
    # patient's identifying details (who saw whose, when).
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    PASSWORD_SET = "password_set"
    SITES_SET = "staff_sites_set"
    PATIENT_VIEWED = "patient_viewed"
    # A clinical decision signed: who, when and what the signature means (Part 11).
    SIGNED = "signed"
    # A signed decision received in writing, recorded by someone else (never their signature).
    TRANSCRIBED = "transcribed"
    # A person re-entered their password to sign in the console (21 CFR 11.200).
    SIGNING_REAUTHENTICATED = "signing_reauthenticated"
    # The hand-over bundle or calendar exported (who took which case's data out).
    EXPORTED = "exported"
    # The care team (case store only): someone added to or removed from a case's team, and
    # emergency access by someone outside it (a reason given, for a limited time).
    CARE_TEAM_CHANGED = "care_team_changed"
    # A coordinator covers a colleague's cases for a period (added or ended early).
    COVER_SET = "cover_set"
    BREAK_GLASS = "break_glass"
    # Records and the family (case store only): a file added, refused, downloaded, accepted
    # from the family, erased; a note or message in the case's thread; the family's sign-in
    # links and sessions; a symptom report past the family's hourly limit.
    RECORD_ADDED = "record_added"
    RECORD_REFUSED = "record_refused"
    RECORD_VIEWED = "record_viewed"
    RECORD_ACCEPTED = "record_accepted"
    RECORDS_ERASED = "records_erased"
    NOTE_ADDED = "note_added"
    FAMILY_LINK_SENT = "family_link_sent"
    FAMILY_LINK_REFUSED = "family_link_refused"
    FAMILY_SIGNED_IN = "family_signed_in"
    FAMILY_REFUSED = "family_refused"
    # A site's resources (case store): a resource declared or changed; slots held for a case
    # (before its journey records them), freed, or lost (a hold that expired before the
    # journey's write confirmed it, and whose place was taken meanwhile).
    RESOURCE_SET = "resource_set"
    SLOT_HELD = "slot_held"
    SLOT_FREED = "slot_freed"
    SLOT_LOST = "slot_lost"


class ConsentType(StrEnum):
    """What a signed consent covers."""

    TREATMENT = "treatment"
    # The trial's informed-consent form (its version is the trial's current one).
    TRIAL = "trial"
    REGISTRY = "registry"
    # Cross-border transfer of medical data (PIPL, GDPR).
    DATA_TRANSFER = "data_transfer"


class SignatureMeaning(StrEnum):
    """What a signature on a clinical decision means (21 CFR Part 11.50)."""

    REVIEWED = "reviewed"
    APPROVED = "approved"
    RESPONSIBLE = "responsible"


class EligibilityItem(StrEnum):
    """The eligibility criteria a protocol's checklist may hold (seed 004, DOMAIN §1)."""

    PRIOR_LINES = "prior_lines"
    ECOG = "ecog"
    ORGAN_FUNCTION = "organ_function"
    NO_ACTIVE_INFECTION = "no_active_infection"
    NO_ACTIVE_CNS_DISEASE = "no_active_cns_disease"
    ANTIGEN_CONFIRMED = "antigen_confirmed"
    AGE = "age"


class ReadinessItem(StrEnum):
    """The safety preparations a protocol may require before conditioning."""

    TLS_PROPHYLAXIS = "tls_prophylaxis"
    TOCILIZUMAB = "tocilizumab"
    ICU_BED = "icu_bed"
    CAREGIVER = "caregiver"


def milestone_action(kind: str) -> str:
    """The audit action of an accepted milestone."""
    return f"milestone:{kind}"


def refused_action(what: str) -> str:
    """The audit action of a refusal (by role, by a journey's validation, by the store)."""
    return f"refused:{what}"
