"""Protocol configuration: every duration, SLA and schedule a journey follows.

Values a hospital or trial protocol sets live here, never in workflow code. A `ProtocolConfig`
travels inside the workflow input, so each journey keeps the protocol it started with even when
the presets below change later (the CLI resolves preset names before starting a journey).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.enums import CellSource, EligibilityItem, ReadinessItem, RecordType, Therapy

# Bounds keep every computed instant far from datetime's limits (a protocol of `1e8` days must
# be refused at intake, not overflow in a journey's first task) while admitting any real
# protocol: 15 years of follow-up is 5,475 days.
MAX_DAYS = 20 * 365


class RegistryWindow(BaseModel):
    """A registry follow-up window, in days after infusion (e.g. day 100 ± 15 → 85–115)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    label: str = Field(min_length=1, max_length=80)
    opens_day: int = Field(ge=0, le=MAX_DAYS)
    closes_day: int = Field(ge=1, le=MAX_DAYS)

    @model_validator(mode="after")
    def _ordered(self) -> RegistryWindow:
        if self.closes_day <= self.opens_day:
            raise ValueError(f"registry window {self.name}: closes_day must be > opens_day")
        return self


class BridgingRegimen(BaseModel):
    """A bridging regimen the protocol knows, and how long it delays conditioning (days)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    days: int = Field(ge=0, le=90)


# What the product assumes when a protocol names none: a course's usual length before
# lymphodepletion may start (a protocol sets its own; docs/clinical-rules.md).
DEFAULT_BRIDGING_REGIMENS = (
    BridgingRegimen(name="steroids", days=5),
    BridgingRegimen(name="radiotherapy", days=14),
    BridgingRegimen(name="chemotherapy", days=21),
    BridgingRegimen(name="targeted", days=14),
)

DEFAULT_REGISTRY_WINDOWS = (
    RegistryWindow(name="day_100", label="day 100 ± 15", opens_day=85, closes_day=115),
    RegistryWindow(name="month_6", label="6 months ± 30 days", opens_day=150, closes_day=210),
    RegistryWindow(name="year_1", label="1 year (day 365–425)", opens_day=365, closes_day=425),
)


class ProtocolConfig(BaseModel):
    """Durations and schedules of one protocol (docs/clinical-rules.md); defaults: `default`.

    Days are 24-hour periods unless a field says business days; "month" in follow-up scheduling
    is `follow_up_month_days` days, so every deadline is exact and reproducible.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    required_records: list[RecordType] = Field(
        default_factory=lambda: [
            RecordType.PATHOLOGY,
            RecordType.IMAGING,
            RecordType.TREATMENT_HISTORY,
            RecordType.LABS,
        ],
        max_length=len(RecordType),
    )
    records_sla_days: int = Field(default=14, ge=1, le=365)
    records_reminder_every_days: int = Field(default=3, ge=1, le=90)

    # Checked against the `holidays` package and the time-zone database at intake (not here:
    # this model is decoded inside running journeys, and those tables change with upgrades).
    business_calendar_country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    team_timezone: str = Field(default="Asia/Shanghai", pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{1,63}$")
    site_timezone: str = Field(default="Asia/Shanghai", pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{1,63}$")
    pre_assessment_business_days: int = Field(default=5, ge=1, le=60)
    pre_assessment_reminder_business_days: int = Field(default=3, ge=0, le=59)
    pi_submission_business_days: int = Field(default=5, ge=1, le=60)
    pi_review_sla_days: int = Field(default=21, ge=1, le=180)
    pi_review_reminder_every_days: int = Field(default=7, ge=1, le=60)

    logistics_sla_days: int = Field(default=28, ge=1, le=365)
    accommodation_registration_hours: int | None = Field(default=24, ge=1, le=168)
    pretreatment_clearance_days: int = Field(default=7, ge=1, le=60)
    visa_extension_days_before: int = Field(default=7, ge=1, le=60)
    expected_stay_days_autologous: int = Field(default=90, ge=1, le=730)
    expected_stay_days_allogeneic: int = Field(default=56, ge=1, le=730)
    visa_buffer_days: int = Field(default=28, ge=0, le=365)

    apheresis_days: int = Field(default=7, ge=1, le=60)
    manufacturing_expected_days: int = Field(default=28, ge=1, le=180)
    manufacturing_escalate_days: int = Field(default=35, ge=1, le=365)
    manufacturing_attempts: int = Field(default=2, ge=1, le=5)

    conditioning_days: int = Field(default=3, ge=1, le=14)
    conditioning_escalate_days: int = Field(default=5, ge=1, le=30)
    infusion_window_opens_hours: int = Field(default=24, ge=0, le=168)
    infusion_window_closes_hours: int = Field(default=48, ge=1, le=336)
    thaw_to_infusion_minutes: int = Field(default=60, ge=1, le=1440)

    daily_monitoring_days: int = Field(default=14, ge=0, le=90)
    twice_weekly_after_daily: bool = True
    observation_reminder_hours_before: int = Field(default=2, ge=0, le=48)
    # A missed observation reaches the lead coordinator at its due time, the director after:
    observation_level2_after_hours: int = Field(default=12, ge=1, le=168)
    earliest_discharge_day: int = Field(default=28, ge=0, le=180)
    stay_near_centre_days: int = Field(default=42, ge=0, le=365)
    no_driving_days: int | None = Field(default=None, ge=1, le=365)

    # Reminders to the family during the proximity and no-driving windows after infusion.
    restriction_reminder_every_days: int = Field(default=7, ge=1, le=60)

    # Toxicity escalation (docs/clinical-rules.md): at or above the urgent grade the site's on-call
    # physician is alerted at once; at or above the critical grade the alert repeats every
    # `critical_alert_repeat_minutes` until a physician acknowledges it. Any seizure and the
    # HLH-like flag are critical whatever the grade. GvHD thresholds are the product's choice
    # (no source sets them): grade II urgent, grade III–IV critical.
    crs_urgent_grade: int = Field(default=2, ge=1, le=5)
    crs_critical_grade: int = Field(default=3, ge=1, le=5)
    icans_urgent_grade: int = Field(default=1, ge=1, le=4)
    icans_critical_grade: int = Field(default=2, ge=1, le=4)
    gvhd_urgent_grade: int = Field(default=2, ge=1, le=4)
    gvhd_critical_grade: int = Field(default=3, ge=1, le=4)
    critical_alert_repeat_minutes: int = Field(default=15, ge=1, le=1440)

    # Discharge needs no CRS or ICANS above this grade in the last `discharge_clear_hours`.
    discharge_max_recent_grade: int = Field(default=1, ge=0, le=4)
    discharge_clear_hours: int = Field(default=48, ge=0, le=720)

    telemedicine_months: int = Field(default=12, ge=0, le=120)
    response_assessment_month: int = Field(default=3, ge=1, le=60)
    follow_up_month_days: int = Field(default=30, ge=28, le=31)
    registry_windows: tuple[RegistryWindow, ...] = Field(
        default=DEFAULT_REGISTRY_WINDOWS, max_length=10
    )
    # Yearly check-ins from year 2 to this year (year 1 is the registry's 1-year window), for
    # the therapies below: integrating-vector products (CAR-T) are followed for 15 years.
    long_term_follow_up_years: int = Field(default=15, ge=1, le=30)
    long_term_follow_up_therapies: tuple[Therapy, ...] = Field(
        default=(Therapy.CAR_T,), max_length=2
    )
    long_term_check_in_window_days: int = Field(default=60, ge=1, le=365)
    follow_up_completion_days: int = Field(default=30, ge=1, le=365)

    escalation_level2_after_hours: int = Field(default=48, ge=1, le=720)
    # A breached clinical window cannot wait two days for the medical director.
    clinical_level2_after_minutes: int = Field(default=60, ge=1, le=1440)
    # Clock skew tolerated between a coordinator's device and the workflow's clock.
    future_skew_minutes: int = Field(default=5, ge=0, le=60)
    # A deadline opened already past due (recording the past) escalates only this long after
    # it opened, unless the milestone that meets it is recorded first (rules version 4).
    backfill_grace_minutes: int = Field(default=30, ge=0, le=1440)

    # --- gates (rules version 5); every preset has them on, a protocol may turn one off ----
    # `conditioning_started` needs a valid treatment consent (and, in a trial, the trial's
    # consent at its current version); registry deadlines open only with registry consent.
    consent_gate: bool = True
    # What `eligibility_assessed` with outcome=eligible must show, item by item.
    eligibility_checklist: tuple[EligibilityItem, ...] = Field(
        default=(
            EligibilityItem.PRIOR_LINES,
            EligibilityItem.ECOG,
            EligibilityItem.ORGAN_FUNCTION,
            EligibilityItem.NO_ACTIVE_INFECTION,
            EligibilityItem.NO_ACTIVE_CNS_DISEASE,
            EligibilityItem.ANTIGEN_CONFIRMED,
        ),
        max_length=len(EligibilityItem),
    )
    # Relapsed or refractory after at least this many lines (seed 004: ≥ 2).
    min_prior_lines: int = Field(default=2, ge=0, le=20)
    max_ecog: int = Field(default=1, ge=0, le=4)
    # Age bounds, for a protocol that has them (then `age` belongs in the checklist).
    min_age_years: int | None = Field(default=None, ge=0, le=120)
    max_age_years: int | None = Field(default=None, ge=0, le=120)
    # What must be ready before conditioning starts.
    readiness_checklist: tuple[ReadinessItem, ...] = Field(
        default=tuple(ReadinessItem), max_length=len(ReadinessItem)
    )
    # Tumour-lysis prophylaxis started at least this long before conditioning.
    tls_prophylaxis_lead_hours: int = Field(default=24, ge=0, le=336)
    # Tocilizumab doses on hand for the patient (the legacy REMS asked for two).
    tocilizumab_doses: int = Field(default=2, ge=1, le=10)
    # Days after the product is released (or the patient cleared, with a reserved product)
    # for the readiness checklist to be complete.
    readiness_days: int = Field(default=3, ge=1, le=60)
    # Days after discharge for the hand-over summary to reach the home oncologist.
    handover_summary_days: int = Field(default=3, ge=1, le=60)

    # --- after infusion, watched (runs under `WATCHED`; docs/clinical-rules.md) -------------
    # IgG below this (mg/dL) raises `low_igg` and a monthly `ivig_review` while it stays low.
    igg_threshold_mg_dl: int = Field(default=400, ge=50, le=2000)
    # Prolonged cytopenia: ANC or platelets below these on or after this day after infusion.
    prolonged_cytopenia_day: int = Field(default=28, ge=7, le=365)
    prolonged_anc_per_ul: int = Field(default=500, ge=100, le=2000)
    prolonged_platelets_per_ul: int = Field(default=20_000, ge=5_000, le=100_000)
    # A fever and an ANC this close together make neutropenic fever (the IDSA's "expected to
    # fall below 500 within 48 h" reads an ANC up to 48 h from the fever).
    neutropenic_fever_window_hours: int = Field(default=48, ge=1, le=168)
    # Cairo–Bishop counts laboratory changes to 7 days after therapy (here: the infusion).
    tls_watch_days: int = Field(default=7, ge=1, le=30)
    # Creatinine's upper limit of normal (clinical TLS: ≥ 1.5 × it).
    creatinine_uln_mg_dl: float = Field(default=1.2, ge=0.5, le=3.0)
    # An infusion reaction is graded this long after the infusion at most.
    infusion_reaction_hours: int = Field(default=24, ge=1, le=72)
    # A serious adverse event reaches the sponsor within this many hours of awareness.
    sae_report_hours: int = Field(default=24, ge=1, le=168)
    # Response assessed at these months after infusion (`response_month_N`).
    response_months: tuple[int, ...] = Field(default=(1, 3, 6, 12), max_length=24)
    # Days to decide the way back after a relapse or progression (`re_referral`).
    re_referral_days: int = Field(default=14, ge=1, le=90)
    # Records and the family (runs under `RECORDS`): the language the treating site reads
    # records in (a record in another language is translated for the PI), and how many
    # business days a requested translation may take (`translation_<record>`).
    working_language: str = Field(default="zh", min_length=2, max_length=16)
    translation_business_days: int = Field(default=5, ge=1, le=30)
    # The family's money (runs under `LEDGER`): the milestone a quote's deposit must be paid
    # before (None: no deposit gate), and the days after the quote's acceptance it is due.
    deposit_before: Literal["patient_arrived", "apheresis_completed"] | None = None
    deposit_days: int = Field(default=14, ge=1, le=120)
    # Chain of custody (runs under `CUSTODY`): require it from the start (else custody is
    # checked for a product once any custody or shipment record exists for it).
    custody_required: bool = False
    bridging_regimens: tuple[BridgingRegimen, ...] = Field(
        default=DEFAULT_BRIDGING_REGIMENS, max_length=20
    )
    # The registry's track with registry consent: the pre-infusion form before conditioning,
    # the infusion form within `registry_infusion_days`, then `registry_windows`, then yearly
    # to `long_term_follow_up_years` for the long-term therapies. Without consent only the
    # windows named here (none by default).
    registry_infusion_days: int = Field(default=14, ge=1, le=60)
    registry_minimal_track: tuple[str, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> ProtocolConfig:
        if self.manufacturing_escalate_days < self.manufacturing_expected_days:
            raise ValueError("manufacturing_escalate_days must be ≥ manufacturing_expected_days")
        if self.conditioning_escalate_days < self.conditioning_days:
            raise ValueError("conditioning_escalate_days must be ≥ conditioning_days")
        if self.infusion_window_closes_hours <= self.infusion_window_opens_hours:
            raise ValueError("infusion_window_closes_hours must be > infusion_window_opens_hours")
        for syndrome in ("crs", "icans", "gvhd"):
            if getattr(self, f"{syndrome}_critical_grade") < getattr(
                self, f"{syndrome}_urgent_grade"
            ):
                raise ValueError(f"{syndrome}_critical_grade must be ≥ {syndrome}_urgent_grade")
        if len({w.name for w in self.registry_windows}) != len(self.registry_windows):
            raise ValueError("registry window names must be distinct")
        has_bounds = self.min_age_years is not None or self.max_age_years is not None
        if (EligibilityItem.AGE in self.eligibility_checklist) != has_bounds:
            raise ValueError(
                "eligibility item 'age' and min_age_years/max_age_years go together: "
                "a checklist with age needs a bound, a bound needs age in the checklist"
            )
        if (
            self.min_age_years is not None
            and self.max_age_years is not None
            and self.max_age_years < self.min_age_years
        ):
            raise ValueError("max_age_years must be ≥ min_age_years")
        for name in ("eligibility_checklist", "readiness_checklist"):
            items = getattr(self, name)
            if len(set(items)) != len(items):
                raise ValueError(f"{name} lists an item twice")
        if sorted(set(self.response_months)) != list(self.response_months) or any(
            not 1 <= m <= 120 for m in self.response_months
        ):
            raise ValueError("response_months must be distinct months 1–120, in order")
        if len({r.name for r in self.bridging_regimens}) != len(self.bridging_regimens):
            raise ValueError("bridging regimen names must be distinct")
        if self.pre_assessment_reminder_business_days >= self.pre_assessment_business_days:
            raise ValueError(
                "pre_assessment_reminder_business_days must be < pre_assessment_business_days"
            )
        return self

    def gates_off(self) -> list[str]:
        """The rules-version-5 gates this protocol turns off, in words (status shows them)."""
        off = [] if self.consent_gate else ["consent before conditioning and registry"]
        if not self.eligibility_checklist:
            off.append("eligibility checklist")
        if not self.readiness_checklist:
            off.append("readiness checklist")
        return off

    def expected_stay_days(self, cell_source: CellSource) -> int:
        """Days in the country the visa must cover, manufacturing-failure buffer included."""
        if cell_source is CellSource.AUTOLOGOUS:
            return self.expected_stay_days_autologous + self.visa_buffer_days
        return self.expected_stay_days_allogeneic


PRESETS: dict[str, ProtocolConfig] = {
    "default": ProtocolConfig(),
    # FDA safety communication, 26 Jun 2025: REMS eliminated; ≥ 2 weeks of monitoring with daily
    # monitoring ≥ 1 week, 2 weeks near the centre and without driving.
    "us_label_2025": ProtocolConfig(
        name="us_label_2025",
        accommodation_registration_hours=None,
        daily_monitoring_days=7,
        twice_weekly_after_daily=False,
        earliest_discharge_day=14,
        stay_near_centre_days=14,
        no_driving_days=14,
    ),
    # The legacy REMS: 4 weeks near the centre, 8 weeks without driving.
    "us_rems_legacy": ProtocolConfig(
        name="us_rems_legacy",
        accommodation_registration_hours=None,
        daily_monitoring_days=7,
        twice_weekly_after_daily=False,
        earliest_discharge_day=28,
        stay_near_centre_days=28,
        no_driving_days=56,
    ),
}


def resolve_protocol(protocol: str | ProtocolConfig) -> ProtocolConfig:
    """Turn a preset name into its full config; a full config is returned unchanged.

    Raises:
        ValueError: the name is not a preset; the message lists the presets.
    """
    if isinstance(protocol, ProtocolConfig):
        return protocol
    try:
        return PRESETS[protocol]
    except KeyError:
        raise ValueError(
            f"unknown protocol preset {protocol!r}; expected one of: {', '.join(PRESETS)}"
        ) from None
