"""The pathway's rules, pure: which milestone is accepted when, and what it changes.

`Journey` wraps one `JourneyState` and is the only code that changes it. Each message has a
`check_*` method that raises `Refused` with a sentence naming what was wrong and what was
expected, and changes nothing; and an `apply_*` method, called only after its check passed,
that changes the state and queues what must be sent (notifications, audit entries). The
workflow calls check from its update validators and again in the handler (state may have moved
between the two), then apply. Nothing here touches Temporal, a clock or a database: `now` and
new ids are passed in, so every rule is tested in microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models import bounds
from models.deadlines import DeadlineEvent, DeadlineView
from models.enums import (
    CellSource,
    MilestoneKind,
    NotificationKind,
    Outcome,
    Phase,
    Recipient,
    RecordType,
    Severity,
)
from models.errors import RefusalCode, Refused
from models.grading import (
    CerebralEdema,
    Consciousness,
    GradingError,
    OxygenDevice,
    Seizure,
    crs_grade,
    gvhd_grade,
    hlh_like,
    icans_grade,
)
from models.journey import JourneyInput
from models.messages import (
    NOTE_MAX_CHARS,
    AcknowledgeAlertInput,
    Alert,
    AuditEntry,
    JourneyProjection,
    JourneyStatus,
    MilestoneAck,
    MilestoneEvent,
    MilestoneInput,
    Notification,
    ObservationAck,
    ObservationInput,
    RejectedSignal,
    RescheduleInput,
    ToxicityView,
    WithdrawInput,
)
from models.protocol import ProtocolConfig
from models.state import JourneyState, ObservationRecord, Product

UTC = ZoneInfo("UTC")

# --- milestone data, one model per kind --------------------------------------------------------


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _NoData(_Data):
    pass


class RecordReceivedData(_Data):
    record_type: RecordType
    note: str | None = None


class RecordsCompleteData(_Data):
    records: list[RecordType]


class EligibilityAssessedData(_Data):
    outcome: Literal["eligible", "ineligible", "more_info_needed"]
    reviewer: str = Field(min_length=1)


class SiteData(_Data):
    site: str = Field(min_length=1)


class PiDecisionData(_Data):
    site: str = Field(min_length=1)
    decision: Literal["accepted", "declined", "more_info_needed"]


class CostEstimateData(_Data):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total: float = Field(ge=0)
    items: list[dict[str, Any]] | dict[str, Any] | None = None


class VisaIssuedData(_Data):
    visa_type: str = Field(min_length=1)
    valid_until: date


class TravelBookedData(_Data):
    arrival_date: date


class InterpreterData(_Data):
    language: str | None = None


class ProductData(_Data):
    lot: str = Field(min_length=1)
    coi_id: str = Field(min_length=1)


class PretreatmentData(_Data):
    outcome: Literal["cleared", "not_cleared"]


class CoiData(_Data):
    coi_id: str = Field(min_length=1)


class RegimenData(_Data):
    regimen: str | None = None


class ReasonData(_Data):
    reason: str = Field(min_length=1)


class LotData(_Data):
    lot: str = Field(min_length=1)


class ValidUntilData(_Data):
    valid_until: date


class TelemedicineData(_Data):
    month: int = Field(ge=1)


class ResponseData(_Data):
    response: Literal["CR", "PR", "SD", "PD"]
    method: str | None = None


class RegistryData(_Data):
    window: str = Field(min_length=1, description="a registry window of the protocol, e.g. day_100")


class CheckInData(_Data):
    year: int = Field(ge=2, le=30)


IN_COUNTRY = (
    Phase.ARRIVAL,
    Phase.COLLECTION,
    Phase.MANUFACTURING,
    Phase.CONDITIONING,
    Phase.INFUSION,
    Phase.MONITORING,
    Phase.FOLLOW_UP,
)


class MilestoneSpec(BaseModel):
    """Where a milestone kind is accepted, what data it carries, which products it applies to."""

    phases: tuple[Phase, ...]
    data: type[_Data]
    cell_source: CellSource | None = None


K = MilestoneKind
P = Phase
SPECS: dict[MilestoneKind, MilestoneSpec] = {
    K.RECORD_RECEIVED: MilestoneSpec(phases=(P.INTAKE,), data=RecordReceivedData),
    K.RECORDS_COMPLETE: MilestoneSpec(phases=(P.INTAKE,), data=RecordsCompleteData),
    K.ELIGIBILITY_ASSESSED: MilestoneSpec(phases=(P.PRE_ASSESSMENT,), data=EligibilityAssessedData),
    K.SUBMITTED_TO_PI: MilestoneSpec(phases=(P.PI_REVIEW,), data=SiteData),
    K.PI_DECISION: MilestoneSpec(phases=(P.PI_REVIEW,), data=PiDecisionData),
    K.COST_ESTIMATE_ACCEPTED: MilestoneSpec(phases=(P.LOGISTICS,), data=CostEstimateData),
    K.INVITATION_LETTER_ISSUED: MilestoneSpec(phases=(P.LOGISTICS,), data=SiteData),
    K.VISA_ISSUED: MilestoneSpec(phases=(P.LOGISTICS,), data=VisaIssuedData),
    K.TRAVEL_BOOKED: MilestoneSpec(phases=(P.LOGISTICS,), data=TravelBookedData),
    K.INTERPRETER_ARRANGED: MilestoneSpec(phases=(P.LOGISTICS,), data=InterpreterData),
    K.ACCOMMODATION_BOOKED: MilestoneSpec(phases=(P.LOGISTICS,), data=_NoData),
    K.PRODUCT_RESERVED: MilestoneSpec(
        phases=(P.LOGISTICS,), data=ProductData, cell_source=CellSource.ALLOGENEIC
    ),
    K.PATIENT_ARRIVED: MilestoneSpec(phases=(P.ARRIVAL,), data=_NoData),
    K.ACCOMMODATION_REGISTERED: MilestoneSpec(phases=(P.ARRIVAL,), data=_NoData),
    K.PRETREATMENT_CLEARED: MilestoneSpec(phases=(P.ARRIVAL,), data=PretreatmentData),
    K.APHERESIS_COMPLETED: MilestoneSpec(
        phases=(P.COLLECTION,), data=CoiData, cell_source=CellSource.AUTOLOGOUS
    ),
    K.MANUFACTURING_STARTED: MilestoneSpec(
        phases=(P.MANUFACTURING,), data=_NoData, cell_source=CellSource.AUTOLOGOUS
    ),
    K.BRIDGING_THERAPY_STARTED: MilestoneSpec(
        phases=(P.MANUFACTURING,), data=RegimenData, cell_source=CellSource.AUTOLOGOUS
    ),
    K.PRODUCT_RELEASED: MilestoneSpec(
        phases=(P.MANUFACTURING,), data=ProductData, cell_source=CellSource.AUTOLOGOUS
    ),
    K.MANUFACTURING_FAILED: MilestoneSpec(
        phases=(P.MANUFACTURING,), data=ReasonData, cell_source=CellSource.AUTOLOGOUS
    ),
    K.CONDITIONING_STARTED: MilestoneSpec(phases=(P.CONDITIONING,), data=RegimenData),
    K.CONDITIONING_COMPLETED: MilestoneSpec(phases=(P.CONDITIONING,), data=_NoData),
    K.PRODUCT_THAWED: MilestoneSpec(
        phases=(P.INFUSION,), data=LotData, cell_source=CellSource.ALLOGENEIC
    ),
    K.INFUSION_COMPLETED: MilestoneSpec(phases=(P.INFUSION,), data=ProductData),
    K.DISCHARGED: MilestoneSpec(phases=(P.MONITORING,), data=_NoData),
    K.VISA_EXTENDED: MilestoneSpec(phases=IN_COUNTRY, data=ValidUntilData),
    K.RETURNED_HOME: MilestoneSpec(phases=(P.FOLLOW_UP,), data=_NoData),
    K.TELEMEDICINE_COMPLETED: MilestoneSpec(phases=(P.FOLLOW_UP,), data=TelemedicineData),
    K.RESPONSE_ASSESSED: MilestoneSpec(phases=(P.FOLLOW_UP,), data=ResponseData),
    K.REGISTRY_REPORTED: MilestoneSpec(phases=(P.FOLLOW_UP,), data=RegistryData),
    K.LONG_TERM_CHECK_IN: MilestoneSpec(phases=(P.FOLLOW_UP,), data=CheckInData),
    K.FOLLOW_UP_COMPLETED: MilestoneSpec(phases=(P.FOLLOW_UP,), data=_NoData),
}

MILESTONE_KINDS = frozenset(k.value for k in MilestoneKind)

LOGISTICS_REQUIRED = (
    K.COST_ESTIMATE_ACCEPTED,
    K.INVITATION_LETTER_ISSUED,
    K.VISA_ISSUED,
    K.TRAVEL_BOOKED,
    K.ACCOMMODATION_BOOKED,
)


class ValidObservation(BaseModel):
    """Physiological ranges an observation must fall in (a typo is refused, not graded)."""

    model_config = ConfigDict(extra="ignore")

    temperature_c: float = Field(ge=30, le=45)
    systolic_bp: int = Field(ge=30, le=300)
    heart_rate: int | None = Field(None, ge=20, le=300)
    respiratory_rate: int | None = Field(None, ge=2, le=80)
    spo2: float | None = Field(None, ge=40, le=100)
    oxygen_device: OxygenDevice = OxygenDevice.NONE
    oxygen_flow_l_min: float | None = Field(None, ge=0, le=80)
    vasopressors: int = Field(0, ge=0, le=10)
    vasopressin: bool = False
    ice_score: int | None = Field(None, ge=0, le=10)
    consciousness: Consciousness = Consciousness.AWAKE
    seizure: Seizure = Seizure.NONE
    cerebral_edema: CerebralEdema = CerebralEdema.NONE
    ferritin_ng_ml: float | None = Field(None, ge=0, le=1_000_000)
    gvhd_skin_bsa_pct: float | None = Field(None, ge=0, le=100)
    bilirubin_mg_dl: float | None = Field(None, ge=0, le=100)
    stool_ml_day: float | None = Field(None, ge=0, le=20_000)


def describe_validation_error(error: ValidationError) -> str:
    """A pydantic error as one readable sentence: `field: problem (got value)`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "value"
        got = "" if item["type"] == "missing" else f" (got {item.get('input')!r})"
        parts.append(f"{where}: {item['msg'].lower()}{got}")
    return "; ".join(parts)


def expected_fields(model: type[BaseModel]) -> str:
    """The fields a data model expects, optional ones marked with `?`."""
    names = [name if f.is_required() else f"{name}?" for name, f in model.model_fields.items()]
    return ", ".join(names) if names else "no data"


class ObservationGrades(BaseModel):
    """What grading found in one observation."""

    crs_grade: int
    icans_grade: int
    gvhd_grade: int | None = None
    flags: list[str] = Field(default_factory=list)


class Accepted(BaseModel):
    """A milestone that passed its checks, with its data parsed."""

    kind: MilestoneKind | None  # None only for a duplicate of an unknown kind
    occurred_at: datetime
    data: _Data
    raw: MilestoneInput
    duplicate: bool = False


class Journey:
    """The pathway rules applied to one journey's state.

    Args:
        facts: the journey's input (case id, sites, cell source, coordinator…).
        state: its state; changed in place by the `apply_*` methods.
        new_id: a source of unique ids (the workflow passes `workflow.uuid4`).
    """

    def __init__(self, facts: JourneyInput, state: JourneyState, new_id: Callable[[], str]) -> None:
        self.facts = facts
        self.state = state
        self.new_id = new_id
        self.notifications: list[Notification] = []
        self.audit: list[AuditEntry] = []
        # States carried from runs before rejected signals were bounded may hold whole (and
        # huge) messages: keep only bounded summaries, so the state always fits in a payload.
        _trim_rejected(state)

    # --- reading ------------------------------------------------------------------------------

    @property
    def protocol(self) -> ProtocolConfig:
        """The protocol this journey started with."""
        return self.state.protocol

    @property
    def closed(self) -> bool:
        """Whether the journey has closed (with an outcome)."""
        return self.state.phase is Phase.CLOSED

    @property
    def v2(self) -> bool:
        """Rules version 2: graded monitoring, restriction windows, long-term follow-up."""
        return self.state.rules_version >= 2

    @property
    def v3(self) -> bool:
        """Rules version 3: bounded messages, conflicting idempotency keys refused, follow-up
        completion checked, visa warnings resolved by an extension, a timeline that never
        goes backwards."""
        return self.state.rules_version >= 3

    def upgrade_rules(self, now: datetime, *, carried: bool, to: int = 2) -> None:
        """Move the journey to rules version `to` (the workflow calls this behind a patch).

        A journey started under version 1 and carried into a new run gets the deadlines that
        version 1 never opened for its phase (restriction windows in monitoring, registry
        windows and long-term check-ins in follow-up); the upgrade is audited.
        """
        s = self.state
        if s.rules_version >= to:
            return
        before, s.rules_version = s.rules_version, to
        if not carried:
            return
        if before < 2:
            if s.phase is Phase.MONITORING:
                self._open_restrictions(now, notify=False)
            elif s.phase is Phase.FOLLOW_UP:
                self._open_registry(now)
                self._open_long_term(now)
                self._maybe_follow_up_done(now)
        self._audit("rules_upgraded", "system", now, now, detail={"rules_version": to})
        self._touch()

    def next_event_at(self) -> datetime | None:
        """When the workflow must next wake: a deadline's event or a critical alert's resend."""
        times = [t for t in (self.state.book.next_event_at(), self._next_alert_resend()) if t]
        return min(times) if times else None

    def next_event_summary(self) -> str:
        """What the next wake-up is for (the timer's summary in the Temporal UI; no PHI)."""
        resend = self._next_alert_resend()
        book = self.state.book.next_event_at()
        if resend is not None and (book is None or resend < book):
            return f"Resend unacknowledged critical alert at {resend:%Y-%m-%d %H:%M} UTC"
        return self.state.book.next_event_summary()

    def open_deadlines(self) -> list[DeadlineView]:
        """Open deadlines, soonest first."""
        views = [d.view() for d in self.state.book.deadlines.values()]
        return sorted(views, key=lambda v: (v.due_at, v.name))

    def status(self) -> JourneyStatus:
        """The journey at a glance."""
        s = self.state
        return JourneyStatus(
            case_id=self.facts.case_id,
            patient_ref=self.facts.patient_ref,
            phase=s.phase,
            outcome=s.outcome,
            current_site=s.current_site,
            coordinator=self.facts.coordinator,
            therapy=self.facts.therapy,
            cell_source=self.facts.cell_source,
            program=self.facts.program,
            protocol=s.protocol.name,
            open_deadlines=self.open_deadlines(),
            alerts=list(s.alerts),
            milestone_count=len(s.timeline),
            rejected=list(s.rejected),
            rejected_total=s.rejected_total,
            records_on_file=[r.value for r in s.records_on_file],
            manufacturing_failures=s.manufacturing_failures,
            infused_at=s.infused_at,
            observation_count=len(s.observations),
            run_count=s.run_count,
            toxicity=s.toxicity,
        )

    def projection(self, now: datetime) -> JourneyProjection:
        """The case store's row for this journey."""
        views = self.open_deadlines()
        nxt = views[0] if views else None
        return JourneyProjection(
            case_id=self.facts.case_id,
            patient_ref=self.facts.patient_ref,
            revision=self.state.revision,
            phase=self.state.phase,
            outcome=self.state.outcome,
            therapy=self.facts.therapy,
            cell_source=self.facts.cell_source,
            program=self.facts.program,
            site=self.state.current_site or self.state.submitted_site,
            coordinator=self.facts.coordinator,
            next_deadline=nxt.name if nxt else None,
            next_deadline_at=nxt.due_at if nxt else None,
            overdue=any(v.overdue for v in views),
            escalation_level=max((v.escalation_level for v in views), default=0),
            updated_at=now,
        )

    def ack(self, duplicate: bool = False) -> MilestoneAck:
        """The acknowledgement of an accepted (or duplicate) milestone."""
        return MilestoneAck(
            accepted=True,
            duplicate=duplicate,
            phase=self.state.phase,
            next_deadlines=self.open_deadlines(),
        )

    def expected_kinds(self) -> list[str]:
        """Milestone kinds the current phase accepts for this cell source."""
        return [
            kind.value
            for kind, spec in SPECS.items()
            if self.state.phase in spec.phases
            and spec.cell_source in (None, self.facts.cell_source)
        ]

    def take_outbox(self) -> tuple[list[Notification], list[AuditEntry]]:
        """Hand over (and forget) what was queued for the case store."""
        out = (self.notifications, self.audit)
        self.notifications, self.audit = [], []
        return out

    # --- starting ----------------------------------------------------------------------------

    def start(self, now: datetime) -> None:
        """Open the intake deadline of a new journey and audit its start."""
        self._enter(Phase.INTAKE, now, now)
        self._audit(
            "journey_started",
            self.facts.coordinator,
            now,
            now,
            detail={
                "therapy": self.facts.therapy.value,
                "cell_source": self.facts.cell_source.value,
                "program": self.facts.program.value,
                "protocol": self.protocol.name,
            },
        )
        self._touch()

    # --- milestones ---------------------------------------------------------------------------

    def is_duplicate(self, milestone_id: str | None) -> bool:
        """Whether a milestone with this idempotency key was already accepted."""
        return self._event_with_id(milestone_id) is not None

    def _event_with_id(self, milestone_id: str | None) -> MilestoneEvent | None:
        if milestone_id is None:
            return None
        return next((e for e in self.state.timeline if e.milestone_id == milestone_id), None)

    def check_milestone(self, m: MilestoneInput, now: datetime) -> Accepted:
        """Check a milestone against the pathway; raise `Refused` saying what was expected."""
        if self.v3:
            check_message_fields(m.actor, m.note, "who recorded this milestone")
            bounds.check_text(m.kind, "kind", limit=64)
            bounds.check_id(m.milestone_id, "milestone_id")
            bounds.check_shape(m.data, "data")
            bounds.check_data_values(m.data, "data")
        earlier = self._event_with_id(m.milestone_id)
        if earlier is not None:
            if self.v3:
                self._check_same_milestone(m, earlier)
            return Accepted(
                kind=MilestoneKind(m.kind) if m.kind in MILESTONE_KINDS else None,
                occurred_at=now,
                data=_NoData(),
                raw=m,
                duplicate=True,
            )
        if self.closed:
            raise Refused(
                f"the journey is closed ({self.state.outcome}); no milestone is expected",
                RefusalCode.CLOSED,
            )
        try:
            kind = MilestoneKind(m.kind)
        except ValueError:
            raise Refused(
                f"unknown milestone kind {m.kind!r}; expected one of: "
                + ", ".join(self.expected_kinds()),
                RefusalCode.UNKNOWN_NAME,
            ) from None
        spec = SPECS[kind]
        if spec.cell_source is not None and spec.cell_source is not self.facts.cell_source:
            raise Refused(
                f"milestone '{kind}' applies to {spec.cell_source} products only; "
                f"this journey's product is {self.facts.cell_source}",
                RefusalCode.WRONG_PRODUCT,
            )
        if self.state.phase not in spec.phases:
            raise Refused(
                f"milestone '{kind}' is not expected in phase '{self.state.phase}'; "
                f"expected one of: {', '.join(self.expected_kinds())}",
                RefusalCode.WRONG_PHASE,
            )
        _check_actor_and_note(m.actor, m.note, "who recorded this milestone")
        occurred = self._check_time(m.occurred_at, now, "occurred_at")
        data = self._parse_data(kind, m.data)
        accepted = Accepted(kind=kind, occurred_at=occurred, data=data, raw=m)
        self._check_rules(accepted)
        return accepted

    def _parse_data(self, kind: MilestoneKind, data: dict[str, Any]) -> _Data:
        spec = SPECS[kind]
        try:
            return spec.data.model_validate(data)
        except ValidationError as e:
            raise Refused(
                f"data for '{kind}' is invalid: {describe_validation_error(e)}; "
                f"expected: {expected_fields(spec.data)}",
                RefusalCode.INVALID_DATA,
            ) from None

    def _check_same_milestone(self, m: MilestoneInput, earlier: MilestoneEvent) -> None:
        """A repeated idempotency key must carry the same milestone, else it is a conflict."""
        differs: list[str] = []
        if m.kind != earlier.kind:
            differs.append(f"kind ({m.kind!r}, not {earlier.kind!r})")
        else:
            try:
                data = self._parse_data(MilestoneKind(m.kind), m.data)
                same = data.model_dump(mode="json", exclude_none=True) == earlier.data
            except (Refused, ValueError):
                same = False
            if not same:
                differs.append("data")
        if m.occurred_at is not None:
            at = bounds.check_instant(m.occurred_at, "occurred_at")
            if at != earlier.occurred_at:
                differs.append(f"occurred_at ({at:%Y-%m-%d %H:%M} UTC)")
        if differs:
            raise Refused(
                f"milestone_id {m.milestone_id!r} was already used for '{earlier.kind}' "
                f"recorded {earlier.recorded_at:%Y-%m-%d %H:%M} UTC, with a different "
                f"{' and '.join(differs)}; expected the same milestone to repeat it, or a "
                "new milestone_id",
                RefusalCode.DUPLICATE_CONFLICT,
            )

    def _check_time(self, at: datetime | None, now: datetime, field: str) -> datetime:
        last = self._last_occurred()
        if at is None:
            # A time within the clock-skew tolerance may lie a little ahead of `now`: the
            # next milestone without a time of its own must not land before it.
            return max(now, last) if self.v3 and last is not None else now
        if self.v3:
            at = bounds.check_instant(at, field)
        elif at.tzinfo is None:
            raise Refused(
                f"{field} must include a UTC offset, e.g. 2026-11-21T10:00:00+08:00",
                RefusalCode.INVALID_TIME,
            )
        else:
            try:
                at = at.astimezone(UTC)
            except OverflowError:
                raise Refused(
                    f"{field} {at.isoformat()} is out of range; expected a time near now",
                    RefusalCode.INVALID_TIME,
                ) from None
        if at > now + timedelta(minutes=self.protocol.future_skew_minutes):
            raise Refused(
                f"{field} {at:%Y-%m-%d %H:%M} UTC is in the future; expected a time at or "
                f"before now ({now:%Y-%m-%d %H:%M} UTC)",
                RefusalCode.FUTURE_TIME,
            )
        if last is not None and at < last:
            raise Refused(
                f"{field} {at:%Y-%m-%d %H:%M} UTC is before the previous milestone "
                f"({last:%Y-%m-%d %H:%M} UTC); expected a time at or after it",
                RefusalCode.OUT_OF_ORDER,
            )
        return at

    def _last_occurred(self) -> datetime | None:
        times = [e.occurred_at for e in self.state.timeline if e.kind in MILESTONE_KINDS]
        return max(times) if times else None

    def _check_rules(self, a: Accepted) -> None:
        """The "after" column of the contract, and the chain-of-identity checks."""
        s, d = self.state, a.data
        match a.kind:
            case K.RECORDS_COMPLETE:
                assert isinstance(d, RecordsCompleteData)
                on_file = set(s.records_on_file) | set(d.records)
                missing = [r.value for r in self.protocol.required_records if r not in on_file]
                if missing:
                    raise Refused(
                        "records are not complete: the protocol requires "
                        f"{', '.join(missing)} (not on file); record them with "
                        "record_received or list them in data.records",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.SUBMITTED_TO_PI:
                assert isinstance(d, SiteData)
                if d.site not in self.facts.sites:
                    raise Refused(
                        f"site {d.site!r} is not one of this case's sites; expected one of: "
                        + ", ".join(self._remaining_sites()),
                        RefusalCode.UNKNOWN_NAME,
                    )
                if d.site in s.declined_sites:
                    raise Refused(
                        f"site {d.site!r} already declined this case; expected one of: "
                        + ", ".join(self._remaining_sites()),
                        RefusalCode.PATHWAY_RULE,
                    )
                if s.submitted_site is not None:
                    raise Refused(
                        f"the case is awaiting the PI decision of {s.submitted_site!r}; "
                        "expected pi_decision for that site first",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.PI_DECISION:
                assert isinstance(d, PiDecisionData)
                if s.submitted_site is None:
                    raise Refused(
                        "no submission awaits a decision; expected submitted_to_pi first",
                        RefusalCode.PATHWAY_RULE,
                    )
                if d.site != s.submitted_site:
                    raise Refused(
                        f"the case was submitted to {s.submitted_site!r}, not {d.site!r}; "
                        f"expected site={s.submitted_site}",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.INVITATION_LETTER_ISSUED:
                assert isinstance(d, SiteData)
                if d.site != s.current_site:
                    raise Refused(
                        f"the invitation letter must come from the accepting site "
                        f"{s.current_site!r}, not {d.site!r}",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.VISA_ISSUED:
                if K.INVITATION_LETTER_ISSUED not in s.logistics_done:
                    raise Refused(
                        "a visa needs the hospital's invitation letter; expected "
                        "invitation_letter_issued first",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.TRAVEL_BOOKED:
                assert isinstance(d, TravelBookedData)
                if K.COST_ESTIMATE_ACCEPTED not in s.logistics_done:
                    raise Refused(
                        "travel is booked only after the family accepted the cost estimate; "
                        "expected cost_estimate_accepted first",
                        RefusalCode.PATHWAY_RULE,
                    )
                if d.arrival_date < a.occurred_at.date() - timedelta(days=1):
                    raise Refused(
                        f"arrival_date {d.arrival_date} is before the booking; expected a "
                        "date on or after it",
                        RefusalCode.INVALID_DATA,
                    )
            case K.ACCOMMODATION_REGISTERED | K.PRETREATMENT_CLEARED:
                if s.arrived_at is None:
                    raise Refused(
                        f"'{a.kind}' needs the patient to have arrived; "
                        "expected patient_arrived first",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.PRODUCT_RELEASED:
                assert isinstance(d, ProductData)
                if not s.manufacturing_started:
                    raise Refused(
                        "expected manufacturing_started before product_released",
                        RefusalCode.PATHWAY_RULE,
                    )
                if d.coi_id != s.apheresis_coi:
                    raise Refused(
                        f"chain of identity mismatch: the released product's coi_id "
                        f"{d.coi_id!r} does not equal the apheresis coi_id "
                        f"{s.apheresis_coi!r}; expected coi_id={s.apheresis_coi}",
                        RefusalCode.CHAIN_OF_IDENTITY,
                    )
            case K.MANUFACTURING_FAILED:
                if not s.manufacturing_started:
                    raise Refused(
                        "expected manufacturing_started before manufacturing_failed",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.CONDITIONING_COMPLETED:
                if s.conditioning_started_at is None:
                    raise Refused(
                        "expected conditioning_started before conditioning_completed",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.PRODUCT_THAWED:
                assert isinstance(d, LotData)
                if s.product is None or d.lot != s.product.lot:
                    raise Refused(
                        f"lot {d.lot!r} is not the reserved lot "
                        f"{s.product.lot if s.product else None!r}; expected that lot",
                        RefusalCode.CHAIN_OF_IDENTITY,
                    )
            case K.INFUSION_COMPLETED:
                assert isinstance(d, ProductData)
                if self.facts.cell_source is CellSource.ALLOGENEIC and s.thawed_at is None:
                    raise Refused(
                        "expected product_thawed before infusion_completed",
                        RefusalCode.PATHWAY_RULE,
                    )
                product = s.product
                if product is None:
                    raise Refused(
                        "no product was released or reserved for this journey",
                        RefusalCode.PATHWAY_RULE,
                    )
                if d.lot != product.lot or d.coi_id != product.coi_id:
                    raise Refused(
                        "chain of identity mismatch: infusion lot/coi_id "
                        f"{d.lot!r}/{d.coi_id!r} do not equal the {product.source} product's "
                        f"{product.lot!r}/{product.coi_id!r}; verify the patient and the bag",
                        RefusalCode.CHAIN_OF_IDENTITY,
                    )
            case K.DISCHARGED:
                problems = self._discharge_problems(a.occurred_at)
                if problems:
                    raise Refused(
                        "discharge refused: " + "; ".join(problems),
                        RefusalCode.DISCHARGE_CONDITIONS,
                    )
            case K.REGISTRY_REPORTED:
                assert isinstance(d, RegistryData)
                windows = {w.name: w for w in self.protocol.registry_windows}
                if d.window not in windows:
                    raise Refused(
                        f"unknown registry window {d.window!r}; expected one of: "
                        + ", ".join(windows),
                        RefusalCode.UNKNOWN_NAME,
                    )
                if d.window in s.registry_reported:
                    raise Refused(
                        f"registry window {d.window!r} is already reported",
                        RefusalCode.ALREADY_DONE,
                    )
                opens = self._day(windows[d.window].opens_day)
                if a.occurred_at < opens:
                    raise Refused(
                        f"the {windows[d.window].label} registry window opens "
                        f"{opens:%Y-%m-%d} (day {windows[d.window].opens_day}); expected a "
                        "report on or after that day",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.LONG_TERM_CHECK_IN:
                assert isinstance(d, CheckInData)
                p = self.protocol
                if self.facts.therapy not in p.long_term_follow_up_therapies:
                    raise Refused(
                        f"long-term check-ins apply to "
                        f"{', '.join(t.value for t in p.long_term_follow_up_therapies)} "
                        f"journeys; this one is {self.facts.therapy}",
                        RefusalCode.WRONG_PRODUCT,
                    )
                if d.year > p.long_term_follow_up_years:
                    raise Refused(
                        f"long-term follow-up runs to year {p.long_term_follow_up_years}; "
                        f"got year {d.year}",
                        RefusalCode.INVALID_DATA,
                    )
                if d.year in s.check_in_years:
                    raise Refused(
                        f"the year-{d.year} check-in is already recorded", RefusalCode.ALREADY_DONE
                    )
                opens = self._day(365 * d.year)
                if a.occurred_at < opens:
                    raise Refused(
                        f"the year-{d.year} check-in window opens {opens:%Y-%m-%d}; expected "
                        "a check-in on or after that day",
                        RefusalCode.PATHWAY_RULE,
                    )
            case K.VISA_EXTENDED:
                assert isinstance(d, ValidUntilData)
                if s.arrived_at is None or s.returned_home:
                    raise Refused(
                        "a visa extension applies between arrival and return home",
                        RefusalCode.PATHWAY_RULE,
                    )
                if s.visa_valid_until is not None and d.valid_until <= s.visa_valid_until:
                    raise Refused(
                        f"valid_until {d.valid_until} is not later than the current visa's "
                        f"{s.visa_valid_until}; expected a later date",
                        RefusalCode.INVALID_DATA,
                    )
            case K.FOLLOW_UP_COMPLETED if self.v3:
                missing = self._follow_up_missing()
                if missing:
                    raise Refused(
                        "follow-up is not complete: " + "; ".join(missing) + "; expected each "
                        "recorded before follow_up_completed (or withdraw the journey, with "
                        "the reason, when follow-up ends early)",
                        RefusalCode.FOLLOW_UP_INCOMPLETE,
                    )
            case K.TELEMEDICINE_COMPLETED:
                assert isinstance(d, TelemedicineData)
                if d.month in s.telemedicine_months:
                    raise Refused(
                        f"telemedicine for month {d.month} is already recorded; expected "
                        f"month {self._next_telemedicine_month() or 'none (all done)'}",
                        RefusalCode.ALREADY_DONE,
                    )
            case _:
                pass

    def _discharge_problems(self, at: datetime) -> list[str]:
        """Every discharge condition that fails at `at`, each as a sentence."""
        s, p = self.state, self.protocol
        problems = []
        earliest = self._day(p.earliest_discharge_day)
        if at < earliest:
            assert s.infused_at is not None
            day = (at - s.infused_at) // timedelta(hours=24)
            problems.append(
                f"discharge is allowed from day {p.earliest_discharge_day}"
                f" after infusion ({earliest:%Y-%m-%d %H:%M} UTC); it is day {day}"
            )
        if not self.v2:
            return problems
        critical = [a for a in s.alerts if a.severity is Severity.CRITICAL and a.open]
        if critical:
            problems.append(
                f"{len(critical)} critical alert(s) not acknowledged by a physician ("
                + "; ".join(f"{a.id}: {a.text}" for a in critical)
                + ")"
            )
        since = at - timedelta(hours=p.discharge_clear_hours)
        limit = p.discharge_max_recent_grade
        for r in s.observations:
            if not since <= r.observed_at <= at:
                continue
            for name, grade in (("CRS", r.crs_grade), ("ICANS", r.icans_grade)):
                if grade is not None and grade > limit:
                    problems.append(
                        f"{name} grade {grade} observed {r.observed_at:%Y-%m-%d %H:%M} UTC, "
                        f"within the last {p.discharge_clear_hours} h (at most grade {limit} "
                        "expected)"
                    )
        return problems

    def _remaining_sites(self) -> list[str]:
        return [x for x in self.facts.sites if x not in self.state.declined_sites]

    def apply_milestone(self, a: Accepted, now: datetime) -> MilestoneAck:
        """Record an accepted milestone and move the journey on; returns its acknowledgement."""
        if a.duplicate or a.kind is None:
            return self.ack(duplicate=True)
        event = MilestoneEvent(
            kind=a.kind.value,
            actor=a.raw.actor.strip(),
            occurred_at=a.occurred_at,
            recorded_at=now,
            data=a.data.model_dump(mode="json", exclude_none=True),
            note=a.raw.note,
            milestone_id=a.raw.milestone_id,
        )
        self.state.timeline.append(event)
        self._audit(
            f"milestone:{a.kind}",
            event.actor,
            a.occurred_at,
            now,
            detail=event.data,
            reason=a.raw.note,
            event_id=a.raw.milestone_id,
        )
        self._effect(a, now)
        self._touch()
        return self.ack()

    def _effect(self, a: Accepted, now: datetime) -> None:
        """What each milestone changes (the "effect" column of the contract)."""
        s, d, at, p = self.state, a.data, a.occurred_at, self.protocol
        match a.kind:
            case K.RECORD_RECEIVED:
                assert isinstance(d, RecordReceivedData)
                if d.record_type not in s.records_on_file:
                    s.records_on_file.append(d.record_type)
            case K.RECORDS_COMPLETE:
                assert isinstance(d, RecordsCompleteData)
                for r in d.records:
                    if r not in s.records_on_file:
                        s.records_on_file.append(r)
                self._enter(Phase.PRE_ASSESSMENT, at, now)
            case K.ELIGIBILITY_ASSESSED:
                assert isinstance(d, EligibilityAssessedData)
                if d.outcome == "eligible":
                    self._enter(Phase.PI_REVIEW, at, now)
                elif d.outcome == "ineligible":
                    self._close(Outcome.INELIGIBLE)
                else:
                    self._enter(Phase.INTAKE, at, now)
            case K.SUBMITTED_TO_PI:
                assert isinstance(d, SiteData)
                s.submitted_site = d.site
                s.book.close("pi_submission")
                self._open_pi_decision(at, now)
            case K.PI_DECISION:
                assert isinstance(d, PiDecisionData)
                if d.decision == "accepted":
                    s.current_site, s.submitted_site = d.site, None
                    self._enter(Phase.LOGISTICS, at, now)
                elif d.decision == "declined":
                    s.declined_sites.append(d.site)
                    s.submitted_site = None
                    s.book.close("pi_decision")
                    if self._remaining_sites():
                        self._open_pi_submission(at, now)
                    else:
                        self._close(Outcome.DECLINED)
                else:
                    self._open_pi_decision(at, now)
            case (
                K.COST_ESTIMATE_ACCEPTED
                | K.INVITATION_LETTER_ISSUED
                | K.VISA_ISSUED
                | K.TRAVEL_BOOKED
                | K.INTERPRETER_ARRANGED
                | K.ACCOMMODATION_BOOKED
                | K.PRODUCT_RESERVED
            ):
                self._logistics(a, now)
            case K.PATIENT_ARRIVED:
                s.arrived_at = at
                s.book.close("arrival")
                if p.accommodation_registration_hours is not None:
                    s.book.open(
                        "accommodation_registration",
                        now=now,
                        start=at,
                        due_at=at + timedelta(hours=p.accommodation_registration_hours),
                        summary=(
                            "Register accommodation with police within "
                            f"{p.accommodation_registration_hours} h of arrival"
                        ),
                        before=[timedelta(hours=4)],
                        clinical=True,
                        level2_after=timedelta(minutes=p.clinical_level2_after_minutes),
                    )
                s.book.open(
                    "pretreatment_clearance",
                    now=now,
                    start=at,
                    due_at=at + timedelta(days=p.pretreatment_clearance_days),
                    summary=f"Pre-treatment assessment, {p.pretreatment_clearance_days} days",
                    before=[timedelta(days=2)],
                    level2_after=self._level2_after(),
                )
                self._open_visa_extension(now)
                self._maybe_leave_arrival(at, now)
            case K.ACCOMMODATION_REGISTERED:
                s.accommodation_registered = True
                s.book.close("accommodation_registration")
                self._maybe_leave_arrival(at, now)
            case K.PRETREATMENT_CLEARED:
                assert isinstance(d, PretreatmentData)
                if d.outcome == "not_cleared":
                    self._close(Outcome.NOT_CLEARED)
                else:
                    s.cleared = True
                    s.book.close("pretreatment_clearance")
                    self._maybe_leave_arrival(at, now)
            case K.APHERESIS_COMPLETED:
                assert isinstance(d, CoiData)
                s.apheresis_coi = d.coi_id
                self._enter(Phase.MANUFACTURING, at, now)
            case K.MANUFACTURING_STARTED:
                s.manufacturing_started = True
            case K.BRIDGING_THERAPY_STARTED:
                pass
            case K.PRODUCT_RELEASED:
                assert isinstance(d, ProductData)
                s.product = Product(lot=d.lot, coi_id=d.coi_id, source="released")
                self._enter(Phase.CONDITIONING, at, now)
            case K.MANUFACTURING_FAILED:
                s.manufacturing_failures += 1
                s.manufacturing_started = False
                if s.manufacturing_failures < p.manufacturing_attempts:
                    s.apheresis_coi = None
                    self._enter(Phase.COLLECTION, at, now)
                else:
                    self._close(Outcome.MANUFACTURING_FAILED)
            case K.CONDITIONING_STARTED:
                s.conditioning_started_at = at
            case K.CONDITIONING_COMPLETED:
                s.conditioning_completed_at = at
                self._enter(Phase.INFUSION, at, now)
            case K.PRODUCT_THAWED:
                s.thawed_at = at
                s.book.open(
                    "thaw_to_infusion",
                    now=now,
                    start=at,
                    due_at=at + timedelta(minutes=p.thaw_to_infusion_minutes),
                    summary=f"Infuse within {p.thaw_to_infusion_minutes} min of thawing",
                    before=[timedelta(minutes=15)],
                    clinical=True,
                    level2_after=timedelta(minutes=p.clinical_level2_after_minutes),
                )
            case K.INFUSION_COMPLETED:
                self._check_infusion_windows(at, now)
                s.infused_at = at
                self._enter(Phase.MONITORING, at, now)
            case K.DISCHARGED:
                s.discharged_at = at
                self._enter(Phase.FOLLOW_UP, at, now)
            case K.VISA_EXTENDED:
                assert isinstance(d, ValidUntilData)
                s.visa_valid_until = d.valid_until
                self._open_visa_extension(now)
                if self.v3:
                    self._resolve_visa_warning(now)
            case K.RETURNED_HOME:
                s.returned_home = True
                s.book.close("visa_extension")
                window = s.book.get("stay_near_centre")
                if self.v2 and window is not None and at < window.due_at:
                    assert s.infused_at is not None
                    day = (at - s.infused_at) // timedelta(hours=24)
                    self._alert(
                        "protocol_deviation",
                        Severity.WARNING,
                        now,
                        f"Returned home on day {day}, before the end of the "
                        f"{p.stay_near_centre_days}-day stay near the centre "
                        f"({window.due_at:%Y-%m-%d %H:%M} UTC)",
                    )
                s.book.close("stay_near_centre")
            case K.TELEMEDICINE_COMPLETED:
                assert isinstance(d, TelemedicineData)
                s.telemedicine_months.append(d.month)
                self._open_telemedicine(now)
                self._maybe_follow_up_done(now)
            case K.RESPONSE_ASSESSED:
                assert isinstance(d, ResponseData)
                s.responses.append(d.response)
                s.book.close("response_assessment")
                self._maybe_follow_up_done(now)
            case K.REGISTRY_REPORTED:
                assert isinstance(d, RegistryData)
                s.registry_reported.append(d.window)
                s.book.close(f"registry_{d.window}")
                self._maybe_follow_up_done(now)
            case K.LONG_TERM_CHECK_IN:
                assert isinstance(d, CheckInData)
                s.check_in_years.append(d.year)
                s.book.close("long_term_check_in")
                self._open_long_term(now)
                self._maybe_follow_up_done(now)
            case K.FOLLOW_UP_COMPLETED:
                self._close(Outcome.COMPLETED)

    # --- phase entry and deadlines ------------------------------------------------------------

    def _level2_after(self) -> timedelta:
        return timedelta(hours=self.protocol.escalation_level2_after_hours)

    def _day(self, n: int) -> datetime:
        """Day N after infusion: N × 24 h after the recorded infusion time."""
        assert self.state.infused_at is not None
        return self.state.infused_at + timedelta(hours=24 * n)

    def _month(self, n: int) -> datetime:
        assert self.state.infused_at is not None
        return self.state.infused_at + timedelta(days=self.protocol.follow_up_month_days * n)

    def _business(self, start: datetime, days: int) -> datetime:
        """`days` business days after `start`; weekdays only if no calendar was loaded."""
        cal = self.state.calendar
        if cal is None:
            raise RuntimeError("the business calendar must be loaded before it is used")
        return cal.add_business_days(start, days)

    def _enter(self, phase: Phase, at: datetime, now: datetime) -> None:
        """Move to `phase` and open its deadlines; `at` is when the causing event happened."""
        s, p, book = self.state, self.protocol, self.state.book
        s.phase = phase
        lvl2 = self._level2_after()
        match phase:
            case Phase.INTAKE:
                book.close("pre_assessment")
                book.open(
                    "records",
                    now=now,
                    start=at,
                    due_at=at + timedelta(days=p.records_sla_days),
                    summary=f"Records intake SLA, {p.records_sla_days} days",
                    every=timedelta(days=p.records_reminder_every_days),
                    level2_after=lvl2,
                )
            case Phase.PRE_ASSESSMENT:
                book.close("records")
                due = self._business(at, p.pre_assessment_business_days)
                remind = self._business(at, p.pre_assessment_reminder_business_days)
                book.open(
                    "pre_assessment",
                    now=now,
                    start=at,
                    due_at=due,
                    summary=(
                        f"Eligibility pre-assessment, {p.pre_assessment_business_days} "
                        "business days"
                    ),
                    before=[due - remind],
                    level2_after=lvl2,
                )
            case Phase.PI_REVIEW:
                book.close("pre_assessment")
                self._open_pi_submission(at, now)
            case Phase.LOGISTICS:
                book.close("pi_decision", "pi_submission")
                book.open(
                    "logistics",
                    now=now,
                    start=at,
                    due_at=at + timedelta(days=p.logistics_sla_days),
                    summary=f"Logistics (quote, letter, visa, travel), {p.logistics_sla_days} days",
                    before=[timedelta(days=7), timedelta(days=2)],
                    level2_after=lvl2,
                )
            case Phase.ARRIVAL:
                book.close("logistics")
            case Phase.COLLECTION:
                book.close("pretreatment_clearance", "accommodation_registration", "manufacturing")
                book.open(
                    "apheresis",
                    now=now,
                    start=at,
                    due_at=at + timedelta(days=p.apheresis_days),
                    summary=f"Apheresis, {p.apheresis_days} days",
                    before=[timedelta(days=2)],
                    level2_after=lvl2,
                )
            case Phase.MANUFACTURING:
                book.close("apheresis")
                book.open(
                    "manufacturing",
                    now=now,
                    start=at,
                    due_at=at + timedelta(days=p.manufacturing_escalate_days),
                    summary=(
                        f"Manufacturing, expected {p.manufacturing_expected_days} days, "
                        f"escalate at {p.manufacturing_escalate_days}"
                    ),
                    before=[
                        timedelta(
                            days=p.manufacturing_escalate_days - p.manufacturing_expected_days
                        )
                    ],
                    level2_after=lvl2,
                )
            case Phase.CONDITIONING:
                book.close("manufacturing", "pretreatment_clearance", "accommodation_registration")
                book.open(
                    "conditioning",
                    now=now,
                    start=at,
                    due_at=at + timedelta(days=p.conditioning_escalate_days),
                    summary=(
                        f"Lymphodepleting conditioning, {p.conditioning_days} days "
                        f"(escalate at {p.conditioning_escalate_days})"
                    ),
                    before=[timedelta(days=p.conditioning_escalate_days - p.conditioning_days)],
                    level2_after=lvl2,
                )
            case Phase.INFUSION:
                book.close("conditioning")
                opens = timedelta(hours=p.infusion_window_opens_hours)
                closes = timedelta(hours=p.infusion_window_closes_hours)
                book.open(
                    "infusion_window",
                    now=now,
                    start=at,
                    due_at=at + closes,
                    summary=(
                        f"Infusion window {p.infusion_window_opens_hours}–"
                        f"{p.infusion_window_closes_hours} h after conditioning"
                    ),
                    before=[closes - opens, timedelta(hours=2)],
                    clinical=True,
                    level2_after=timedelta(minutes=p.clinical_level2_after_minutes),
                )
            case Phase.MONITORING:
                book.close("infusion_window", "thaw_to_infusion")
                self._open_observation(at, now)
                if self.v2:
                    self._open_restrictions(now)
            case Phase.FOLLOW_UP:
                book.close("observation")
                self._open_telemedicine(now)
                if self.v2:
                    self._open_registry(now)
                    self._open_long_term(now)
                if not s.responses:
                    book.open(
                        "response_assessment",
                        now=now,
                        start=at,
                        due_at=self._month(p.response_assessment_month),
                        summary=f"Response assessment at month {p.response_assessment_month}",
                        before=[timedelta(days=14), timedelta(days=3)],
                        level2_after=lvl2,
                    )

    def _close(self, outcome: Outcome) -> None:
        """Close the journey: every deadline closes with it."""
        self.state.outcome = outcome
        self.state.phase = Phase.CLOSED
        self.state.book.close_all()

    def _open_pi_submission(self, at: datetime, now: datetime) -> None:
        p = self.protocol
        self.state.book.open(
            "pi_submission",
            now=now,
            start=at,
            due_at=self._business(at, p.pi_submission_business_days),
            summary=f"Submit to a PI, {p.pi_submission_business_days} business days",
            before=[timedelta(days=1)],
            level2_after=self._level2_after(),
        )

    def _open_pi_decision(self, at: datetime, now: datetime) -> None:
        p = self.protocol
        self.state.book.open(
            "pi_decision",
            now=now,
            start=at,
            due_at=at + timedelta(days=p.pi_review_sla_days),
            summary=f"PI review SLA, {p.pi_review_sla_days} days",
            every=timedelta(days=p.pi_review_reminder_every_days),
            level2_after=self._level2_after(),
        )

    def _open_visa_extension(self, now: datetime) -> None:
        s, p = self.state, self.protocol
        if s.visa_valid_until is None or s.arrived_at is None or s.returned_home:
            return
        tz = ZoneInfo(p.site_timezone)
        due_day = s.visa_valid_until - timedelta(days=p.visa_extension_days_before)
        s.book.open(
            "visa_extension",
            now=now,
            due_at=datetime.combine(due_day, time(0, 0), tzinfo=tz).astimezone(UTC),
            summary=(
                f"Ask for a visa extension {p.visa_extension_days_before} days before "
                f"the stay permitted until {s.visa_valid_until}"
            ),
            before=[timedelta(days=7), timedelta(days=2)],
            level2_after=self._level2_after(),
        )

    def _open_observation(self, last: datetime, now: datetime) -> None:
        """Open the next observation deadline after an observation (or the infusion) at `last`."""
        s, p = self.state, self.protocol
        assert s.infused_at is not None
        day = (last - s.infused_at) / timedelta(hours=24)
        if day < p.daily_monitoring_days:
            interval, label = timedelta(hours=24), "daily"
        elif p.twice_weekly_after_daily:
            interval, label = timedelta(hours=84), "twice weekly"
        else:
            s.book.close("observation")
            return
        s.book.open(
            "observation",
            now=now,
            start=last,
            due_at=last + interval,
            summary=f"Monitoring observation ({label})",
            before=[timedelta(hours=p.observation_reminder_hours_before)],
            reminder_to=Recipient.SITE_COORDINATOR,
            level2_after=timedelta(hours=p.observation_level2_after_hours),
        )

    def _open_restrictions(self, now: datetime, *, notify: bool = True) -> None:
        """Open the proximity and no-driving windows after infusion, with notices to the family."""
        s, p = self.state, self.protocol
        assert s.infused_at is not None
        windows = (
            ("stay_near_centre", p.stay_near_centre_days, "Stay within reach of the centre"),
            ("no_driving", p.no_driving_days, "Do not drive"),
        )
        for name, days, what in windows:
            if not days or self._day(days) <= now:
                continue
            deadline = s.book.open(
                name,
                now=now,
                start=s.infused_at,
                due_at=self._day(days),
                summary=f"{what} until day {days} after infusion",
                every=timedelta(days=p.restriction_reminder_every_days),
                before=[timedelta(days=1)],
                reminder_to=Recipient.PATIENT_FAMILY,
                window=True,
            )
            if notify:
                self.notifications.append(
                    Notification(
                        idempotency_key=f"{self.facts.case_id}:{name}:opened",
                        case_id=self.facts.case_id,
                        kind=NotificationKind.REMINDER,
                        recipient=Recipient.PATIENT_FAMILY,
                        recipient_ref=self.facts.patient_ref,
                        deadline=name,
                        scheduled_for=now,
                        text=f"From today: {deadline.summary} "
                        f"({deadline.due_at:%Y-%m-%d %H:%M} UTC)",
                    )
                )

    def _open_registry(self, now: datetime) -> None:
        """Open every registry window not yet reported (due at the window's close)."""
        s, p = self.state, self.protocol
        for w in p.registry_windows:
            if w.name in s.registry_reported:
                continue
            opens, closes = self._day(w.opens_day), self._day(w.closes_day)
            s.book.open(
                f"registry_{w.name}",
                now=now,
                due_at=closes,
                summary=f"Registry follow-up, {w.label}",
                before=[closes - opens, timedelta(days=7)],
                level2_after=self._level2_after(),
            )

    def _next_check_in_year(self) -> int | None:
        p = self.protocol
        if self.facts.therapy not in p.long_term_follow_up_therapies:
            return None
        return _first_missing(range(2, p.long_term_follow_up_years + 1), self.state.check_in_years)

    def _open_long_term(self, now: datetime) -> None:
        """Open the next yearly check-in (years 2 to 15 for CAR-T), or close the deadline."""
        year = self._next_check_in_year()
        if year is None:
            self.state.book.close("long_term_check_in")
            return
        window = self.protocol.long_term_check_in_window_days
        opens = self._day(365 * year)
        self.state.book.open(
            "long_term_check_in",
            now=now,
            due_at=opens + timedelta(days=window),
            summary=f"Long-term follow-up check-in, year {year}",
            before=[timedelta(days=window), timedelta(days=14)],
            level2_after=self._level2_after(),
        )

    def _follow_up_missing(self) -> list[str]:
        """Every scheduled follow-up not yet recorded, each as a phrase naming it."""
        s, p = self.state, self.protocol
        missing = []
        months = [m for m in range(1, p.telemedicine_months + 1) if m not in s.telemedicine_months]
        if months:
            missing.append(f"telemedicine month(s) {_ranges(months)}")
        if not s.responses:
            missing.append("the response assessment")
        windows = [w.name for w in p.registry_windows if w.name not in s.registry_reported]
        if windows and self.v2:
            missing.append(f"registry window(s) {', '.join(windows)}")
        if self.v2 and self.facts.therapy in p.long_term_follow_up_therapies:
            years = [
                y for y in range(2, p.long_term_follow_up_years + 1) if y not in s.check_in_years
            ]
            if years:
                missing.append(f"long-term check-in year(s) {_ranges(years)}")
        return missing

    def _maybe_follow_up_done(self, now: datetime) -> None:
        """Once every scheduled follow-up is recorded, ask the coordinator to close the journey."""
        s, p = self.state, self.protocol
        if not self.v2 or s.phase is not Phase.FOLLOW_UP:
            return
        done = not self._follow_up_missing()
        if done and s.book.get("follow_up_completion") is None:
            s.book.open(
                "follow_up_completion",
                now=now,
                due_at=now + timedelta(days=p.follow_up_completion_days),
                summary="Every scheduled follow-up is recorded: record follow_up_completed",
                before=[timedelta(days=7)],
                level2_after=self._level2_after(),
            )

    def _next_telemedicine_month(self) -> int | None:
        months = range(1, self.protocol.telemedicine_months + 1)
        return _first_missing(months, self.state.telemedicine_months)

    def _open_telemedicine(self, now: datetime) -> None:
        month = self._next_telemedicine_month()
        if month is None:
            self.state.book.close("telemedicine")
            return
        self.state.book.open(
            "telemedicine",
            now=now,
            due_at=self._month(month),
            summary=f"Telemedicine visit, month {month}",
            before=[timedelta(days=7), timedelta(days=1)],
            level2_after=self._level2_after(),
        )

    def _logistics(self, a: Accepted, now: datetime) -> None:
        s, d, at = self.state, a.data, a.occurred_at
        if a.kind not in s.logistics_done:
            s.logistics_done.append(a.kind)
        match d:
            case SiteData():
                s.letter_site = d.site
            case VisaIssuedData():
                s.visa_valid_until = d.valid_until
                self._check_visa_covers_stay(at, now)
            case TravelBookedData():
                s.arrival_date = d.arrival_date
                tz = ZoneInfo(self.protocol.site_timezone)
                end_of_day = datetime.combine(
                    d.arrival_date + timedelta(days=1), time(0, 0), tzinfo=tz
                ).astimezone(UTC)
                s.book.open(
                    "arrival",
                    now=now,
                    due_at=end_of_day,
                    summary=f"Patient arrives by {d.arrival_date}",
                    before=[timedelta(days=1)],
                    level2_after=self._level2_after(),
                )
                self._check_visa_covers_stay(at, now)
            case ProductData():
                s.product = Product(lot=d.lot, coi_id=d.coi_id, source="reserved")
        required = list(LOGISTICS_REQUIRED)
        if self.facts.cell_source is CellSource.ALLOGENEIC:
            required.append(K.PRODUCT_RESERVED)
        if all(k in s.logistics_done for k in required):
            self._enter(Phase.ARRIVAL, at, now)

    def _stay_needs_visa_until(self, at: datetime) -> tuple[date, int, date]:
        """When the stay starts, how many days it lasts, and until when a visa must be valid."""
        start = self.state.arrival_date or at.date()
        days = self.protocol.expected_stay_days(self.facts.cell_source)
        return start, days, start + timedelta(days=days)

    def _resolve_visa_warning(self, now: datetime) -> None:
        """A visa extension that covers the expected stay resolves the short-validity warning."""
        s = self.state
        valid = s.visa_valid_until
        start = s.arrived_at or now
        _, _, needed = self._stay_needs_visa_until(start)
        if valid is None or valid < needed:
            return
        for alert in s.alerts:
            if alert.kind == "visa_validity_short" and alert.open:
                alert.resolved_at = now
                alert.resolution = (
                    f"visa extended until {valid}, which covers the expected stay (until {needed})"
                )
                self._audit(
                    "alert_resolved",
                    "system",
                    now,
                    now,
                    detail={"alert_id": alert.id, "alert_kind": alert.kind},
                    reason=alert.resolution,
                )

    def _check_visa_covers_stay(self, at: datetime, now: datetime) -> None:
        s = self.state
        if s.visa_valid_until is None:
            return
        start, days, needed = self._stay_needs_visa_until(at)
        already = any(a.kind == "visa_validity_short" and a.open for a in s.alerts)
        if s.visa_valid_until < needed and not already:
            self._alert(
                "visa_validity_short",
                Severity.WARNING,
                now,
                f"Visa valid until {s.visa_valid_until} is shorter than the expected stay: "
                f"{days} days from {start} need validity until {needed}",
            )

    def _maybe_leave_arrival(self, at: datetime, now: datetime) -> None:
        s = self.state
        registered = s.accommodation_registered or (
            self.protocol.accommodation_registration_hours is None
        )
        if s.cleared and registered:
            nxt = (
                Phase.COLLECTION
                if self.facts.cell_source is CellSource.AUTOLOGOUS
                else Phase.CONDITIONING
            )
            self._enter(nxt, at, now)

    def _check_infusion_windows(self, at: datetime, now: datetime) -> None:
        s, p = self.state, self.protocol
        if s.conditioning_completed_at is not None:
            opens = s.conditioning_completed_at + timedelta(hours=p.infusion_window_opens_hours)
            closes = s.conditioning_completed_at + timedelta(hours=p.infusion_window_closes_hours)
            if not opens <= at <= closes:
                self._alert(
                    "protocol_deviation",
                    Severity.URGENT,
                    now,
                    f"Infusion at {at:%Y-%m-%d %H:%M} UTC is outside the "
                    f"{p.infusion_window_opens_hours}–{p.infusion_window_closes_hours} h window "
                    f"after conditioning ({opens:%Y-%m-%d %H:%M}–{closes:%Y-%m-%d %H:%M} UTC)",
                )
        if s.thawed_at is not None:
            limit = s.thawed_at + timedelta(minutes=p.thaw_to_infusion_minutes)
            if at > limit:
                self._alert(
                    "protocol_deviation",
                    Severity.URGENT,
                    now,
                    f"Infusion at {at:%Y-%m-%d %H:%M} UTC is more than "
                    f"{p.thaw_to_infusion_minutes} min after thawing "
                    f"({s.thawed_at:%Y-%m-%d %H:%M} UTC)",
                )

    # --- deadlines firing ---------------------------------------------------------------------

    def fire_deadlines(self, now: datetime) -> list[DeadlineEvent]:
        """Send reminders and escalations that are due; clinical breaches also raise alerts."""
        events = self.state.book.fire(now)
        for e in events:
            text = e.text
            if e.deadline == "records":
                missing = [
                    r.value
                    for r in self.protocol.required_records
                    if r not in self.state.records_on_file
                ]
                if missing:
                    text += f" — still missing: {', '.join(missing)}"
            severity = Severity.INFO
            if e.kind is NotificationKind.ESCALATION:
                severity = Severity.URGENT if e.clinical else Severity.WARNING
            self.notifications.append(
                Notification(
                    # Unique per reminder instant and level: a retried activity (same payload)
                    # is stored once, two reminders of one deadline are two rows.
                    idempotency_key=(
                        f"{self.facts.case_id}:{e.deadline}:{e.kind}:{e.level}:"
                        f"{e.scheduled_at.isoformat()}"
                    ),
                    case_id=self.facts.case_id,
                    kind=e.kind,
                    recipient=e.recipient,
                    recipient_ref=self._recipient_ref(e.recipient),
                    deadline=e.deadline,
                    level=e.level,
                    severity=severity,
                    scheduled_for=now,
                    text=text,
                )
            )
            if e.clinical and e.kind is NotificationKind.ESCALATION and e.level == 1:
                self._alert("deadline_breached", Severity.URGENT, now, text, notify=False)
        resent = self._resend_critical_alerts(now)
        if events or resent:
            self._touch()
        return events

    def _next_alert_resend(self) -> datetime | None:
        every = timedelta(minutes=self.protocol.critical_alert_repeat_minutes)
        times = [
            (a.last_sent_at or a.raised_at) + every
            for a in self.state.alerts
            if a.severity is Severity.CRITICAL and a.open
        ]
        return min(times) if times else None

    def _resend_critical_alerts(self, now: datetime) -> int:
        """Send each unacknowledged critical alert again once its repeat interval has passed.

        After a late wake-up an alert is resent once, not once per missed interval.
        """
        every = timedelta(minutes=self.protocol.critical_alert_repeat_minutes)
        sent = 0
        for alert in self.state.alerts:
            if alert.severity is not Severity.CRITICAL or not alert.open:
                continue
            if (alert.last_sent_at or alert.raised_at) + every > now:
                continue
            alert.repeats += 1
            alert.last_sent_at = now
            sent += 1
            self.notifications.append(
                Notification(
                    idempotency_key=f"{self.facts.case_id}:alert:{alert.id}:{alert.repeats}",
                    case_id=self.facts.case_id,
                    kind=NotificationKind.ALERT,
                    recipient=Recipient.ON_CALL_PHYSICIAN,
                    recipient_ref=self._recipient_ref(Recipient.ON_CALL_PHYSICIAN),
                    level=alert.repeats,
                    severity=Severity.CRITICAL,
                    scheduled_for=now,
                    text=f"Not yet acknowledged (repeat {alert.repeats}): {alert.text} "
                    f"— alert {alert.id}",
                )
            )
        return sent

    # --- alerts -------------------------------------------------------------------------------

    def check_acknowledge(self, ack: AcknowledgeAlertInput) -> Alert:
        """Check an acknowledgement; return its alert, or raise `Refused` saying what is wrong."""
        if self.v3:
            bounds.check_text(ack.alert_id, "alert_id", limit=bounds.ID_MAX_CHARS)
        alert = next((a for a in self.state.alerts if a.id == ack.alert_id), None)
        if alert is None:
            open_ids = [f"{a.id} ({a.kind})" for a in self.state.alerts if a.open]
            raise Refused(
                f"no alert {ack.alert_id!r} on this journey; expected one of the open alerts: "
                + (", ".join(open_ids) or "(none open)"),
                RefusalCode.UNKNOWN_NAME,
            )
        if alert.acknowledged:
            assert alert.acknowledged_at is not None
            raise Refused(
                f"alert {alert.id} was already acknowledged by {alert.acknowledged_by} at "
                f"{alert.acknowledged_at:%Y-%m-%d %H:%M} UTC",
                RefusalCode.ALREADY_DONE,
            )
        if alert.resolved_at is not None:
            raise Refused(
                f"alert {alert.id} was resolved at {alert.resolved_at:%Y-%m-%d %H:%M} UTC: "
                f"{alert.resolution}",
                RefusalCode.ALREADY_DONE,
            )
        if self.v3:
            check_message_fields(ack.actor, ack.note, "who acknowledges the alert")
        _check_actor_and_note(ack.actor, ack.note, "who acknowledges the alert")
        return alert

    def apply_acknowledge(self, ack: AcknowledgeAlertInput, now: datetime) -> Alert:
        """Mark the alert acknowledged (its resends stop) and record who, when and why."""
        alert = self.check_acknowledge(ack)
        alert.acknowledged = True
        alert.acknowledged_by = ack.actor.strip()
        alert.acknowledged_at = now
        alert.acknowledgement_note = ack.note
        data = {"alert_id": alert.id, "alert_kind": alert.kind, "severity": alert.severity.value}
        self.state.timeline.append(
            MilestoneEvent(
                kind="alert_acknowledged",
                actor=alert.acknowledged_by,
                occurred_at=now,
                recorded_at=now,
                data=data,
                note=ack.note,
            )
        )
        self._audit(
            "alert_acknowledged", alert.acknowledged_by, now, now, detail=data, reason=ack.note
        )
        self._touch()
        return alert

    # --- observations -------------------------------------------------------------------------

    def check_observation(self, o: ObservationInput, now: datetime) -> datetime:
        """Check an observation; returns its time. Raises `Refused` saying what was expected."""
        s = self.state
        if o.observation_id is not None and any(
            r.observation.observation_id == o.observation_id for r in s.observations
        ):
            return now
        if s.phase is not Phase.MONITORING:
            raise Refused(
                f"observations are recorded in phase 'monitoring'; the journey is in '{s.phase}'",
                RefusalCode.WRONG_PHASE,
            )
        if self.v3:
            check_message_fields(o.actor, o.note, "who made this observation")
            bounds.check_id(o.observation_id, "observation_id")
            bounds.check_shape(o.model_dump(mode="python", exclude={"observed_at"}), "observation")
        _check_actor_and_note(o.actor, o.note, "who made this observation")
        if o.temperature_c is None or o.systolic_bp is None:
            raise Refused(
                "temperature_c and systolic_bp are required in every observation",
                RefusalCode.MISSING_FIELD,
            )
        if 86 <= o.temperature_c <= 113:
            raise Refused(
                f"temperature_c {o.temperature_c} looks like °F; expected °C (30–45), "
                f"e.g. {(o.temperature_c - 32) * 5 / 9:.1f}",
                RefusalCode.INVALID_DATA,
            )
        try:
            ValidObservation.model_validate(o.model_dump())
        except ValidationError as e:
            raise Refused(
                f"observation is invalid: {describe_validation_error(e)}; expected each finding "
                "in its physiological range (temperature 30–45 °C, systolic 30–300 mmHg, …)",
                RefusalCode.INVALID_DATA,
            ) from None
        if self.v2:
            try:
                self.grade(o)
            except GradingError as e:
                raise Refused(f"observation is invalid: {e}", RefusalCode.INVALID_DATA) from None
        gvhd = (o.gvhd_skin_bsa_pct, o.bilirubin_mg_dl, o.stool_ml_day)
        if self.facts.cell_source is CellSource.AUTOLOGOUS and any(v is not None for v in gvhd):
            raise Refused(
                "GvHD fields (gvhd_skin_bsa_pct, bilirubin_mg_dl, stool_ml_day) apply to "
                "allogeneic products only",
                RefusalCode.WRONG_PRODUCT,
            )
        at = o.observed_at or now
        if self.v3:
            at = bounds.check_instant(at, "observed_at")
        elif at.tzinfo is None:
            raise Refused("observed_at must include a UTC offset", RefusalCode.INVALID_TIME)
        else:
            try:
                at = at.astimezone(UTC)
            except OverflowError:
                raise Refused(
                    f"observed_at {at.isoformat()} is out of range; expected a time near now",
                    RefusalCode.INVALID_TIME,
                ) from None
        if at > now + timedelta(minutes=self.protocol.future_skew_minutes):
            raise Refused(
                f"observed_at {at:%Y-%m-%d %H:%M} UTC is in the future; expected a time at "
                f"or before now ({now:%Y-%m-%d %H:%M} UTC)",
                RefusalCode.FUTURE_TIME,
            )
        assert s.infused_at is not None
        if at < s.infused_at:
            raise Refused(
                f"observed_at {at:%Y-%m-%d %H:%M} UTC is before the infusion "
                f"({s.infused_at:%Y-%m-%d %H:%M} UTC); expected a time in the monitoring period",
                RefusalCode.OUT_OF_ORDER,
            )
        return at

    def apply_observation(
        self, o: ObservationInput, observed_at: datetime, now: datetime
    ) -> ObservationAck:
        """Store an accepted observation and move the observation deadline on."""
        s = self.state
        if o.observation_id is not None and any(
            r.observation.observation_id == o.observation_id for r in s.observations
        ):
            return ObservationAck(accepted=True, duplicate=True)
        graded = self.grade(o)
        record = ObservationRecord(
            observation=o, observed_at=observed_at, recorded_at=now, **graded.model_dump()
        )
        earlier = [r for r in s.observations if r.observed_at <= observed_at]
        previous = max(earlier, key=lambda r: r.observed_at) if earlier else None
        s.observations.append(record)
        if s.baseline_ferritin_ng_ml is None and o.ferritin_ng_ml is not None:
            s.baseline_ferritin_ng_ml = o.ferritin_ng_ml
        self._update_toxicity()
        latest = max(r.observed_at for r in s.observations)
        self._open_observation(latest, now)
        alerts = self._toxicity_alerts(record, previous, now) if self.v2 else []
        self._audit(
            "observation_recorded",
            o.actor.strip(),
            observed_at,
            now,
            detail=graded.model_dump(exclude_none=True),
            event_id=o.observation_id,
        )
        self._touch()
        nxt = s.book.get("observation")
        return ObservationAck(
            accepted=True,
            next_observation_due=nxt.due_at if nxt else None,
            alerts=alerts,
            **graded.model_dump(),
        )

    def grade(self, o: ObservationInput) -> ObservationGrades:
        """The observation's CRS, ICANS and GvHD grades and flags (DOMAIN.md §3).

        Raises:
            GradingError: the observation is inconsistent (e.g. oxygen flow with no device).
        """
        assert o.temperature_c is not None and o.systolic_bp is not None
        crs = crs_grade(
            temperature_c=o.temperature_c,
            systolic_bp=o.systolic_bp,
            vasopressors=o.vasopressors,
            vasopressin=o.vasopressin,
            oxygen_device=o.oxygen_device,
            oxygen_flow_l_min=o.oxygen_flow_l_min,
            fever_other_cause=o.fever_other_cause,
            anticytokine_or_antipyretic_given=o.anticytokine_or_antipyretic_given,
        )
        icans = icans_grade(
            ice_score=o.ice_score,
            consciousness=o.consciousness,
            seizure=o.seizure,
            motor_weakness=o.motor_weakness,
            cerebral_edema=o.cerebral_edema,
            paediatric=self.facts.paediatric,
        )
        gvhd = None
        if self.facts.cell_source is CellSource.ALLOGENEIC:
            result = gvhd_grade(
                skin_bsa_pct=o.gvhd_skin_bsa_pct,
                bilirubin_mg_dl=o.bilirubin_mg_dl,
                stool_ml_day=o.stool_ml_day,
            )
            gvhd = result.grade if result else None
        flags = []
        baseline = self.state.baseline_ferritin_ng_ml
        if hlh_like(o.ferritin_ng_ml, crs_grade=crs, baseline_ferritin_ng_ml=baseline):
            flags.append("hlh_like")
        if o.seizure != Seizure.NONE:
            flags.append("seizure")
        if icans.capd_required:
            flags.append("capd_required")
        return ObservationGrades(
            crs_grade=crs, icans_grade=icans.grade, gvhd_grade=gvhd, flags=flags
        )

    def _update_toxicity(self) -> None:
        """Current grades are the latest observation's; worst grades are the maximum seen."""
        s = self.state
        latest = max(s.observations, key=lambda r: r.observed_at)

        def worst(grades: list[int | None]) -> int | None:
            seen = [g for g in grades if g is not None]
            return max(seen) if seen else None

        s.toxicity = ToxicityView(
            crs_current=latest.crs_grade,
            crs_worst=worst([r.crs_grade for r in s.observations]),
            icans_current=latest.icans_grade,
            icans_worst=worst([r.icans_grade for r in s.observations]),
            gvhd_current=latest.gvhd_grade,
            gvhd_worst=worst([r.gvhd_grade for r in s.observations]),
            last_observed_at=latest.observed_at,
            flags=list(latest.flags),
        )

    def _toxicity_alerts(
        self, r: ObservationRecord, previous: ObservationRecord | None, now: datetime
    ) -> list[Alert]:
        """Alerts for grades that crossed a threshold or rose since the previous observation.

        A grade that stays where it was does not alert again (no spam); a rising one does,
        and so does a grade that fell below the threshold and came back.
        """
        p, o = self.protocol, r.observation
        assert self.state.infused_at is not None
        day = (r.observed_at - self.state.infused_at) // timedelta(hours=24)
        before = previous or ObservationRecord(
            observation=ObservationInput(), observed_at=r.observed_at, recorded_at=now
        )
        raised: list[Alert | None] = []

        def rose(grade: int | None, old: int | None, urgent: int) -> bool:
            return grade is not None and grade >= urgent and grade > (old or 0)

        if rose(r.crs_grade, before.crs_grade, p.crs_urgent_grade):
            assert r.crs_grade is not None
            critical = r.crs_grade >= p.crs_critical_grade
            oxygen = o.oxygen_device + (
                f" {o.oxygen_flow_l_min:g} L/min" if o.oxygen_flow_l_min else ""
            )
            raised.append(
                self._alert(
                    "crs",
                    Severity.CRITICAL if critical else Severity.URGENT,
                    now,
                    f"CRS grade {r.crs_grade} on day {day}: temperature {o.temperature_c:g} °C, "
                    f"systolic {o.systolic_bp} mmHg, vasopressors {o.vasopressors}"
                    f"{' + vasopressin' if o.vasopressin else ''}, oxygen {oxygen}",
                )
            )
        new_seizure = "seizure" in r.flags and "seizure" not in before.flags
        if rose(r.icans_grade, before.icans_grade, p.icans_urgent_grade) or new_seizure:
            assert r.icans_grade is not None
            critical = r.icans_grade >= p.icans_critical_grade or "seizure" in r.flags
            findings = [
                f"ICE {o.ice_score}" if o.ice_score is not None else "",
                o.consciousness if o.consciousness != Consciousness.AWAKE else "",
                f"seizure {o.seizure}" if "seizure" in r.flags else "",
                "motor weakness" if o.motor_weakness else "",
                f"{o.cerebral_edema} oedema" if o.cerebral_edema != CerebralEdema.NONE else "",
            ]
            raised.append(
                self._alert(
                    "icans",
                    Severity.CRITICAL if critical else Severity.URGENT,
                    now,
                    f"ICANS grade {r.icans_grade} on day {day}: "
                    + ", ".join(f for f in findings if f),
                )
            )
        if rose(r.gvhd_grade, before.gvhd_grade, p.gvhd_urgent_grade):
            assert r.gvhd_grade is not None
            critical = r.gvhd_grade >= p.gvhd_critical_grade
            raised.append(
                self._alert(
                    "gvhd",
                    Severity.CRITICAL if critical else Severity.URGENT,
                    now,
                    f"Acute GvHD grade {'0 I II III IV'.split()[r.gvhd_grade]} on day {day}",
                )
            )
        if "hlh_like" in r.flags and "hlh_like" not in before.flags:
            raised.append(
                self._alert(
                    "hlh_like",
                    Severity.CRITICAL,
                    now,
                    f"HLH-like flag on day {day}: ferritin {o.ferritin_ng_ml:g} ng/mL "
                    f"(CRS grade {r.crs_grade}); assess organ toxicity and cytopenias",
                )
            )
        return [a for a in raised if a is not None]

    # --- reschedule and withdraw --------------------------------------------------------------

    def check_reschedule(self, r: RescheduleInput, now: datetime) -> None:
        """Check a reschedule request; raise `Refused` saying what was expected."""
        if self.closed:
            raise Refused("the journey is closed; it has no deadline to move", RefusalCode.CLOSED)
        if self.v3:
            bounds.check_text(r.deadline, "deadline", limit=64)
            check_message_fields(r.actor, r.reason, "who moves the deadline", note_field="reason")
        if self.state.book.get(r.deadline) is None:
            names = [v.name for v in self.open_deadlines()]
            raise Refused(
                f"no open deadline {r.deadline!r}; expected one of: "
                + (", ".join(names) or "(none open)"),
                RefusalCode.UNKNOWN_NAME,
            )
        if not r.reason.strip():
            raise Refused("reason is required: why the deadline moves", RefusalCode.MISSING_FIELD)
        if not r.actor.strip():
            raise Refused("actor is required: who moves the deadline", RefusalCode.MISSING_FIELD)
        if r.due_at.tzinfo is None:
            raise Refused("due_at must include a UTC offset", RefusalCode.INVALID_TIME)
        if self.v3:
            bounds.check_instant(r.due_at, "due_at")
        else:
            try:
                r.due_at.astimezone(UTC)
            except OverflowError:
                raise Refused(
                    f"due_at {r.due_at.isoformat()} is out of range; expected a later time",
                    RefusalCode.INVALID_TIME,
                ) from None
        if r.due_at <= now:
            raise Refused(
                f"due_at {r.due_at:%Y-%m-%d %H:%M} is not in the future; expected a time "
                f"after now ({now:%Y-%m-%d %H:%M} UTC)",
                RefusalCode.INVALID_TIME,
            )

    def apply_reschedule(self, r: RescheduleInput, now: datetime) -> DeadlineView:
        """Move the deadline and record who moved it, from when to when, and why."""
        old = self.state.book.deadlines[r.deadline]
        moved = self.state.book.reschedule(r.deadline, now=now, due_at=r.due_at.astimezone(UTC))
        data = {
            "deadline": r.deadline,
            "from": old.due_at.isoformat(),
            "to": moved.due_at.isoformat(),
        }
        self.state.timeline.append(
            MilestoneEvent(
                kind="reschedule",
                actor=r.actor.strip(),
                occurred_at=now,
                recorded_at=now,
                data=data,
                note=r.reason,
            )
        )
        self._audit("reschedule", r.actor.strip(), now, now, detail=data, reason=r.reason)
        self._touch()
        return moved.view()

    def check_withdraw(self, w: WithdrawInput) -> None:
        """Check a withdrawal; raise `Refused` saying what was expected."""
        if self.closed:
            raise Refused(
                f"the journey is already closed ({self.state.outcome})", RefusalCode.CLOSED
            )
        if self.v3:
            check_message_fields(
                w.actor, w.reason, "who withdraws the journey", note_field="reason"
            )
        if not w.reason.strip():
            raise Refused(
                "reason is required: why the journey is withdrawn", RefusalCode.MISSING_FIELD
            )
        if not w.actor.strip():
            raise Refused("actor is required: who withdraws the journey", RefusalCode.MISSING_FIELD)

    def apply_withdraw(self, w: WithdrawInput, now: datetime) -> MilestoneAck:
        """Close the journey as withdrawn."""
        self.state.timeline.append(
            MilestoneEvent(
                kind="withdraw",
                actor=w.actor.strip(),
                occurred_at=now,
                recorded_at=now,
                data={"phase": self.state.phase.value},
                note=w.reason,
            )
        )
        self._audit("withdraw", w.actor.strip(), now, now, reason=w.reason)
        self._close(Outcome.WITHDRAWN)
        self._touch()
        return self.ack()

    # --- signals ------------------------------------------------------------------------------

    def reject_signal(
        self,
        m: MilestoneInput | None,
        reason: str,
        now: datetime,
        kind: str = "?",
        size_bytes: int | None = None,
    ) -> None:
        """Keep a refused `milestone` signal with its reason (it is never dropped).

        Only a bounded summary is kept (see `RejectedSignal`), and only the most recent
        `MAX_REJECTED`; `rejected_total` counts them all. The audit log gets the same summary.
        """
        summary = rejected_summary(m, reason, now, kind=kind, size_bytes=size_bytes)
        self.state.rejected.append(summary)
        self.state.rejected_total += 1
        _trim_rejected(self.state)
        self._audit(
            "signal_rejected",
            summary.actor or "unknown",
            now,
            now,
            detail={"kind": summary.kind},
            reason=summary.reason,
        )
        self._touch()

    # --- helpers ------------------------------------------------------------------------------

    def _alert(
        self, kind: str, severity: Severity, now: datetime, text: str, notify: bool = True
    ) -> Alert | None:
        """Raise an alert once: an unacknowledged alert with the same text is not repeated."""
        if any(a.text == text and a.open for a in self.state.alerts):
            return None
        alert = Alert(id=self.new_id(), kind=kind, severity=severity, raised_at=now, text=text)
        self.state.alerts.append(alert)
        recipient = (
            Recipient.ON_CALL_PHYSICIAN
            if severity in (Severity.URGENT, Severity.CRITICAL)
            else Recipient.COORDINATOR
        )
        if notify:
            alert.last_sent_at = now
            self.notifications.append(
                Notification(
                    idempotency_key=f"{self.facts.case_id}:alert:{alert.id}",
                    case_id=self.facts.case_id,
                    kind=NotificationKind.ALERT,
                    recipient=recipient,
                    recipient_ref=self._recipient_ref(recipient),
                    severity=severity,
                    scheduled_for=now,
                    text=text,
                )
            )
        return alert

    def _recipient_ref(self, recipient: Recipient) -> str | None:
        """Whom a role means for this case: the coordinator, the family (by patient_ref) or
        the site (whose address book resolves its on-call physician and coordinators)."""
        if recipient is Recipient.COORDINATOR:
            return self.facts.coordinator
        if recipient is Recipient.PATIENT_FAMILY:
            return self.facts.patient_ref
        return self.state.current_site

    def _audit(
        self,
        action: str,
        actor: str,
        occurred_at: datetime,
        recorded_at: datetime,
        *,
        detail: dict[str, Any] | None = None,
        reason: str = "",
        event_id: str | None = None,
    ) -> None:
        self.audit.append(
            AuditEntry(
                event_id=f"{self.facts.case_id}:{event_id or self.new_id()}",
                case_id=self.facts.case_id,
                action=action,
                actor=actor,
                occurred_at=occurred_at,
                recorded_at=recorded_at,
                detail=detail or {},
                reason=reason,
            )
        )

    def _touch(self) -> None:
        """Bump the revision the case-store projection is ordered by."""
        self.state.revision += 1


def _ranges(numbers: list[int]) -> str:
    """`[2, 3, 4, 7]` as "2–4, 7"."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


def _first_missing(expected: range, recorded: list[int]) -> int | None:
    """The first of `expected` (months, years) not yet recorded, or None when all are."""
    return next((n for n in expected if n not in recorded), None)


MAX_REJECTED = 50
REJECTED_TEXT_CHARS = 200
# A rejected milestone is kept whole only when it is this small (the history has it anyway).
REJECTED_KEEP_BYTES = 2048


def _clip(text: str, limit: int) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rejected_summary(
    m: MilestoneInput | None,
    reason: str,
    now: datetime,
    *,
    kind: str = "?",
    size_bytes: int | None = None,
) -> RejectedSignal:
    """A bounded record of a refused signal: short texts, field names, the size."""
    keep = None
    if m is not None and len(m.model_dump_json()) <= REJECTED_KEEP_BYTES:
        keep = m
    milestone_id = m.milestone_id if m is not None else None
    if milestone_id is not None and not bounds.ID_PATTERN.fullmatch(milestone_id):
        milestone_id = None
    return RejectedSignal(
        kind=_clip(m.kind if m else kind, 64),
        actor=_clip(m.actor if m else "", bounds.ACTOR_MAX_CHARS),
        received_at=now,
        reason=_clip(reason, 500),
        milestone=keep,
        milestone_id=milestone_id,
        data_fields=[_clip(str(k), 40) for k in list(m.data)[:20]] if m else [],
        size_bytes=size_bytes,
    )


def _trim_rejected(state: JourneyState) -> None:
    """Keep the most recent `MAX_REJECTED` refused signals, each as a bounded summary."""
    if len(state.rejected) > MAX_REJECTED:
        state.rejected = state.rejected[-MAX_REJECTED:]
    for n, r in enumerate(state.rejected):
        too_big = r.milestone is not None and len(r.milestone.model_dump_json()) > (
            REJECTED_KEEP_BYTES
        )
        if too_big or len(r.reason) > 500 or len(r.kind) > 64 or len(r.actor) > 64:
            state.rejected[n] = rejected_summary(
                r.milestone, r.reason, r.received_at, kind=r.kind, size_bytes=r.size_bytes
            )
    state.rejected_total = max(state.rejected_total, len(state.rejected))


def check_message_fields(actor: str, note: str, who: str, *, note_field: str = "note") -> None:
    """Rules version 3: who sent a message and its free text, bounded and plain."""
    bounds.check_actor(actor, who)
    bounds.check_text(note, note_field, limit=NOTE_MAX_CHARS, multiline=True)


def _check_actor_and_note(actor: str, note: str, who: str) -> None:
    """Every message names who sent it, and its note fits the audit log."""
    if not actor.strip():
        raise Refused(f"actor is required: {who}", RefusalCode.MISSING_FIELD)
    if len(note) > NOTE_MAX_CHARS:
        raise Refused(
            f"note is {len(note)} characters; expected at most {NOTE_MAX_CHARS}",
            RefusalCode.INVALID_DATA,
        )


def milestone_data_model(kind: str) -> type[BaseModel] | None:
    """The data model of a milestone kind (None for an unknown kind)."""
    return SPECS[MilestoneKind(kind)].data if kind in MILESTONE_KINDS else None
