"""Protocol configuration: every duration, SLA and schedule a journey follows.

Values a hospital or trial protocol sets live here, never in workflow code. A `ProtocolConfig`
travels inside the workflow input, so each journey keeps the protocol it started with even when
the presets below change later (the CLI resolves preset names before starting a journey).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.enums import CellSource, RecordType


class ProtocolConfig(BaseModel):
    """Durations and schedules of one protocol (DOMAIN.md §2). Defaults are the `default` preset.

    Days are 24-hour periods unless a field says business days; "month" in follow-up scheduling
    is `follow_up_month_days` days, so every deadline is exact and reproducible.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    required_records: list[RecordType] = Field(
        default_factory=lambda: [
            RecordType.PATHOLOGY,
            RecordType.IMAGING,
            RecordType.TREATMENT_HISTORY,
            RecordType.LABS,
        ]
    )
    records_sla_days: int = Field(14, ge=1)
    records_reminder_every_days: int = Field(3, ge=1)

    business_calendar_country: str = "CN"
    team_timezone: str = "Asia/Shanghai"
    site_timezone: str = "Asia/Shanghai"
    pre_assessment_business_days: int = Field(5, ge=1)
    pre_assessment_reminder_business_days: int = Field(3, ge=0)
    pi_submission_business_days: int = Field(5, ge=1)
    pi_review_sla_days: int = Field(21, ge=1)
    pi_review_reminder_every_days: int = Field(7, ge=1)

    logistics_sla_days: int = Field(28, ge=1)
    accommodation_registration_hours: int | None = Field(24, ge=1)
    pretreatment_clearance_days: int = Field(7, ge=1)
    visa_extension_days_before: int = Field(7, ge=1)
    expected_stay_days_autologous: int = Field(90, ge=1)
    expected_stay_days_allogeneic: int = Field(56, ge=1)
    visa_buffer_days: int = Field(28, ge=0)

    apheresis_days: int = Field(7, ge=1)
    manufacturing_expected_days: int = Field(28, ge=1)
    manufacturing_escalate_days: int = Field(35, ge=1)
    manufacturing_attempts: int = Field(2, ge=1)

    conditioning_days: int = Field(3, ge=1)
    conditioning_escalate_days: int = Field(5, ge=1)
    infusion_window_opens_hours: int = Field(24, ge=0)
    infusion_window_closes_hours: int = Field(48, ge=1)
    thaw_to_infusion_minutes: int = Field(60, ge=1)

    daily_monitoring_days: int = Field(14, ge=0)
    twice_weekly_after_daily: bool = True
    observation_reminder_hours_before: int = Field(2, ge=0)
    # A missed observation reaches the lead coordinator at its due time, the director after:
    observation_level2_after_hours: int = Field(12, ge=1)
    earliest_discharge_day: int = Field(28, ge=0)
    stay_near_centre_days: int = Field(42, ge=0)
    no_driving_days: int | None = Field(None, ge=1)

    telemedicine_months: int = Field(12, ge=0)
    response_assessment_month: int = Field(3, ge=1)
    follow_up_month_days: int = Field(30, ge=28)

    escalation_level2_after_hours: int = Field(48, ge=1)
    # A breached clinical window cannot wait two days for the medical director.
    clinical_level2_after_minutes: int = Field(60, ge=1)
    # Clock skew tolerated between a coordinator's device and the workflow's clock.
    future_skew_minutes: int = Field(5, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> ProtocolConfig:
        if self.manufacturing_escalate_days < self.manufacturing_expected_days:
            raise ValueError("manufacturing_escalate_days must be ≥ manufacturing_expected_days")
        if self.conditioning_escalate_days < self.conditioning_days:
            raise ValueError("conditioning_escalate_days must be ≥ conditioning_days")
        if self.infusion_window_closes_hours <= self.infusion_window_opens_hours:
            raise ValueError("infusion_window_closes_hours must be > infusion_window_opens_hours")
        if self.pre_assessment_reminder_business_days >= self.pre_assessment_business_days:
            raise ValueError(
                "pre_assessment_reminder_business_days must be < pre_assessment_business_days"
            )
        return self

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
