"""`Journey`: the pathway's rules applied to one journey's state, and the only code that
changes it.

Each message has a `check_*` method that raises `Refused` with a sentence naming what was wrong
and what was expected, and changes nothing; and an `apply_*` method, called only after its check
passed, that changes the state and queues what must be sent (notifications, audit entries). The
workflow calls check from its update validators and again in the handler (state may have moved
between the two), then apply. Nothing here touches Temporal, a clock or a database: `now` and
new ids are passed in, so every rule is tested in microseconds.

What each milestone requires and changes lives with its kind (`models/pathway/milestones/`);
deadlines in `deadlines.py`, phase moves in `phases.py`, alerts, observations and the other
actions in modules of their own. This class holds the checks every milestone shares (the
envelope, idempotency, phase, product, time) and the small vocabulary the rules speak.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from models import bounds
from models.deadlines import DeadlineBook, DeadlineEvent, DeadlineView
from models.enums import (
    AlertKind,
    AuditAction,
    MilestoneKind,
    Outcome,
    Phase,
    Recipient,
    Severity,
    milestone_action,
)
from models.errors import RefusalCode, refused
from models.journey import JourneyInput
from models.messages import (
    AcknowledgeAlertInput,
    Alert,
    AuditEntry,
    HistoryImport,
    HistoryImportAck,
    JourneyProjection,
    JourneyStatus,
    MilestoneAck,
    MilestoneEvent,
    MilestoneInput,
    Notification,
    ObservationAck,
    ObservationInput,
    RescheduleInput,
    WithdrawInput,
)
from models.pathway import (
    actions,
    admission,
    alerts,
    backfill,
    deadlines,
    expected,
    gates,
    idempotency,
    observations,
    phases,
    times,
    views,
)
from models.pathway.data import (
    MilestoneData,
    ObservationGrades,
    describe_validation_error,
    expected_fields,
)
from models.pathway.milestones import capacity, follow_up
from models.pathway.rules import RULES, Accepted
from models.protocol import ProtocolConfig
from models.state import JourneyState


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
        # While a history is imported: alerts are raised without being sent (one summary
        # follows), and the family gets no "from today" notices about past events.
        self.quiet = False
        # What is being applied (a milestone kind, "observation"): named when a deadline it
        # met had escalated, so whoever was paged knows why to stand down.
        self.cause = ""
        # Journeys whose runs bound floods (`BOUNDED_FLOODS`): a repeated milestone id must
        # repeat the note too, an actor is an identifier, times lie in 1970–2200. Earlier runs
        # acknowledged and accepted otherwise, and replay the same.
        self.strict_ids = False
        # Runs started under `SIGNERS`: a PI's decision names its PI, and one received in
        # writing is recorded as transcribed (its document's SHA-256), never as the recorder's
        # signature. Earlier runs refused those fields as unknown, and replay the same.
        self.signers = False
        # Runs started under `FORMS_IN_WORDS`: a cost estimate's items must add up to its
        # total, and a consent form's version may hold spaces (`ICF v3.0`). Earlier runs took
        # any items and refused such versions, and replay the same.
        self.forms_in_words = False
        # Runs started under `AFTER_INFUSION`: ICU admission and discharge (where the patient
        # is; no discharge home from the ICU). Earlier runs refused these kinds as unknown.
        self.after_infusion = False
        # Runs started under `WATCHED`: laboratory results and complications after infusion,
        # adverse events and their reports to the sponsor, death, response with MRD, relapse,
        # bridging that moves conditioning, the registry's track by consent. Earlier runs
        # refused these messages and fields, and replay the same.
        self.watched = False
        # Runs started under `RECORDS`: a record's file hash, language and pages; translations
        # for the PI (requested, translated, verified) that `submitted_to_pi` waits for; a
        # symptom the family reports. Earlier runs refused these kinds and fields.
        self.records = False
        # Runs started under `LEDGER`: versioned quotes, deposits, payments and refunds, the
        # changed quote and the deposit as gates. Earlier runs refused these kinds and fields.
        self.ledger = False
        # Runs started under `CUSTODY`: the chain of custody and condition, checked at the
        # infusion. Earlier runs refused these kinds.
        self.custody = False
        # Runs started under `CAPACITY`: bookings of a site's resources (granted by the case
        # store), given back when the journey closes. Earlier runs refused these kinds.
        self.capacity = False
        # Runs started under `REASSIGNED`: a colleague takes the case over
        # (`coordinator_changed`). Earlier runs refused the kind.
        self.reassigned = False
        # Runs started under `AHEAD`: reminders and escalations go out from the scheduled
        # outbox at their instant, the journey records them a grace later.
        self.ahead = False
        # States carried from runs before rejected signals were bounded may hold whole (and
        # huge) messages: keep only bounded summaries, so the state always fits in a payload.
        actions.trim_rejected(state)

    # --- reading ------------------------------------------------------------------------------

    def watch(self) -> None:
        """Run under `WATCHED`. A journey that has not reached conditioning yet also takes the
        new follow-up track (response months, the registry's forms by consent) when it gets
        there (`tracked`); one further on keeps the follow-up it started, so no running
        journey is asked, half-way, for what it was never scheduled to do."""
        self.watched = True
        if self.state.phase in phases.BEFORE_CONDITIONING:
            self.state.watched_track = True

    @property
    def tracked(self) -> bool:
        """Whether the journey follows the after-infusion track: response months with MRD
        (`response_month_N`) and the registry's forms by consent."""
        return self.watched and self.state.watched_track

    @property
    def protocol(self) -> ProtocolConfig:
        """The protocol this journey started with."""
        return self.state.protocol

    @property
    def book(self) -> DeadlineBook:
        """The journey's open deadlines."""
        return self.state.book

    @property
    def closed(self) -> bool:
        """Whether the journey has closed (with an outcome)."""
        return self.state.phase is Phase.CLOSED

    @property
    def v2(self) -> bool:
        """Rules version 2: graded monitoring, restriction windows, long-term follow-up."""
        return self.state.rules_version >= 2

    @property
    def v4(self) -> bool:
        """Rules version 4: recording the past pages nobody by mistake (a hold on deadlines
        born overdue, stand-downs for deadlines met on time but recorded late), history
        import."""
        return self.state.rules_version >= 4

    @property
    def v5(self) -> bool:
        """Rules version 5: consent, eligibility and readiness gates, signed decisions, the
        hand-over to the home team (only for journeys started under it)."""
        return self.state.rules_version >= 5

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
        if to >= 5 and carried:
            # The gates would stop a journey half-way through a pathway its team started
            # without them: a journey keeps the rules it started with from version 5 on.
            return
        before, s.rules_version = s.rules_version, to
        if not carried:
            return
        if before < 2:
            if s.phase is Phase.MONITORING:
                deadlines.open_restrictions(self, now, notify=False)
            elif s.phase is Phase.FOLLOW_UP:
                deadlines.open_registry(self, now)
                deadlines.open_long_term(self, now)
                follow_up.maybe_done(self, now)
        self.audit_entry(
            AuditAction.RULES_UPGRADED, "system", now, now, detail={"rules_version": to}
        )
        self.touch()

    def next_event_at(self, grace: timedelta = timedelta(0)) -> datetime | None:
        """When the workflow must next wake: a deadline's event (`grace` after it, when the
        dispatcher sends it on time from the scheduled outbox) or a critical alert's resend."""
        book = self.book.next_event_at()
        times = [t for t in (book and book + grace, alerts.next_resend(self)) if t]
        return min(times) if times else None

    def next_event_summary(self) -> str:
        """What the next wake-up is for (the timer's summary in the Temporal UI; no PHI)."""
        resend = alerts.next_resend(self)
        book = self.book.next_event_at()
        if resend is not None and (book is None or resend < book):
            return f"Resend unacknowledged critical alert at {resend:%Y-%m-%d %H:%M} UTC"
        return self.book.next_event_summary()

    def open_deadlines(self) -> list[DeadlineView]:
        """Open deadlines, soonest first."""
        found = [d.view() for d in self.book.deadlines.values()]
        return sorted(found, key=lambda v: (v.due_at, v.name))

    def status(self) -> JourneyStatus:
        """The journey at a glance (`views.status`)."""
        return views.status(self)

    def projection(self, now: datetime) -> JourneyProjection:
        """The case store's row for this journey (`views.projection`)."""
        return views.projection(self, now)

    def ack(self, duplicate: bool = False) -> MilestoneAck:
        """The acknowledgement of an accepted (or duplicate) milestone."""
        return MilestoneAck(
            accepted=True,
            duplicate=duplicate,
            phase=self.state.phase,
            next_deadlines=self.open_deadlines(),
        )

    def expected_kinds(self) -> list[str]:
        """Milestone kinds the journey is waiting for now (what a refusal lists): not those
        that may come at any time (an adverse event, a death), which would crowd every list."""
        return [e.kind for e in expected.expected(self) if e.kind not in expected.ANY_TIME]

    def take_outbox(self) -> tuple[list[Notification], list[AuditEntry]]:
        """Hand over (and forget) what was queued for the case store."""
        out = (self.notifications, self.audit)
        self.notifications, self.audit = [], []
        return out

    # --- starting -----------------------------------------------------------------------------

    def start(self, now: datetime) -> None:
        """Open the intake deadline of a new journey and audit its start."""
        self.enter(Phase.INTAKE, now, now)
        self.audit_entry(
            AuditAction.JOURNEY_STARTED,
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
        self.touch()

    # --- milestones ---------------------------------------------------------------------------

    def is_duplicate(self, milestone_id: str | None) -> bool:
        """Whether a milestone with this idempotency key was already accepted."""
        return idempotency.event_with_id(self, milestone_id) is not None

    def check_milestone(self, m: MilestoneInput, now: datetime) -> Accepted[Any]:
        """Check a milestone against the pathway; raise `Refused` saying what was expected.

        The envelope first (bounded fields, v3), then idempotency, the journey being open, the
        kind, its product and phase, who sent it, its time, its data; last the kind's own rule.
        """
        if self.v3:
            actions.check_message_fields(m.actor, m.note, "who recorded this milestone")
            if self.strict_ids:
                bounds.check_actor_id(m.actor, "who recorded this milestone")
            bounds.check_text(m.kind, "kind", limit=64)
            bounds.check_id(m.milestone_id, "milestone_id")
            bounds.check_shape(m.data, "data")
            bounds.check_data_values(m.data, "data")
        repeated = idempotency.repeated(self, m, now)
        if repeated is not None:
            return repeated
        kind = admission.kind_taken(self, m.kind)
        r = RULES[kind]
        self.check_sender(m.actor, m.note, "who recorded this milestone")
        occurred = times.occurred_at(self, m.occurred_at, now)
        accepted = Accepted(
            kind=kind, occurred_at=occurred, data=self.parse_data(kind, m.data), raw=m
        )
        if self.v5:
            gates.check_treatment_step(self, kind)
        r.check(self, accepted)
        return accepted

    def parse_data(self, kind: MilestoneKind, data: dict[str, Any]) -> MilestoneData:
        model = RULES[kind].data
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise refused(
                "data for '{kind}' is invalid: {problems}; expected: {fields}",
                RefusalCode.INVALID_DATA,
                kind=kind,
                problems=describe_validation_error(e, model),
                fields=expected_fields(model),
            ) from None

    def apply_milestone(self, a: Accepted[Any], now: datetime) -> MilestoneAck:
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
        self.audit_entry(
            milestone_action(a.kind),
            event.actor,
            a.occurred_at,
            now,
            detail=event.data,
            reason=a.raw.note,
            event_id=a.raw.milestone_id,
        )
        before, self.cause = backfill.open_now(self), a.kind.value
        RULES[a.kind].apply(self, a, now)
        backfill.hold_born_overdue(self, before, now)
        self.touch()
        return self.ack()

    # --- the vocabulary rules speak -----------------------------------------------------------

    def enter(self, phase: Phase, at: datetime, now: datetime) -> None:
        """Move to `phase`, closing and opening its deadlines; `at` is when the cause happened."""
        # A move outside the graph is a bug in a rule, never an input: the rule's check must
        # have refused the message first (the unit tests walk every edge).
        if phase is not self.state.phase and not phases.allowed(self.state.phase, phase):
            raise AssertionError(f"no move from {self.state.phase} to {phase} in the graph")
        self.state.phase = phase
        entry = phases.ON_ENTRY[phase]
        self.met(*entry.closes, at=at, now=now)
        for opener in entry.opens:
            opener(self, at, now)

    def met(self, *names: str, at: datetime, now: datetime) -> None:
        """Close deadlines met (or made moot) by what is being applied, which happened `at`
        (see `backfill.met`: a deadline that escalated although met on time stands down)."""
        backfill.met(self, names, at, now, self.cause or "a milestone")

    def close(self, outcome: Outcome) -> None:
        """Close the journey: every deadline closes with it, and every booking it holds is
        given back (at the time of what closed it, the timeline's last event)."""
        self.state.outcome = outcome
        self.state.phase = Phase.CLOSED
        self.book.close_all()
        if self.state.bookings:
            at = self.state.timeline[-1].occurred_at
            capacity.release_all(self, at, f"journey closed ({outcome.value})")

    def level2_after(self) -> timedelta:
        """How long after a breach a (non-clinical) escalation goes to level 2."""
        return timedelta(hours=self.protocol.escalation_level2_after_hours)

    def day(self, n: int) -> datetime:
        """Day N after infusion: N × 24 h after the recorded infusion time."""
        assert self.state.infused_at is not None
        return self.state.infused_at + timedelta(hours=24 * n)

    def month(self, n: int) -> datetime:
        """Month N of follow-up: N protocol months (`follow_up_month_days`) after infusion."""
        assert self.state.infused_at is not None
        return self.state.infused_at + timedelta(days=self.protocol.follow_up_month_days * n)

    def business(self, start: datetime, days: int) -> datetime:
        """`days` business days after `start`, by the journey's calendar."""
        cal = self.state.calendar
        if cal is None:
            raise RuntimeError("the business calendar must be loaded before it is used")
        return cal.add_business_days(start, days)

    def remaining_sites(self) -> list[str]:
        """The case's sites that have not declined it, in the order given at intake."""
        return [x for x in self.facts.sites if x not in self.state.declined_sites]

    def next_telemedicine_month(self) -> int | None:
        """The first monthly telemedicine visit not yet recorded (None when all are)."""
        months = range(1, self.protocol.telemedicine_months + 1)
        return follow_up.first_missing(months, self.state.telemedicine_months)

    def next_check_in_year(self) -> int | None:
        """The first long-term check-in year not yet recorded (None: none left or none due)."""
        p = self.protocol
        if self.facts.therapy not in p.long_term_follow_up_therapies:
            return None
        years = range(2, p.long_term_follow_up_years + 1)
        return follow_up.first_missing(years, self.state.check_in_years)

    def raise_alert(
        self, kind: AlertKind, severity: Severity, now: datetime, text: str, notify: bool = True
    ) -> Alert | None:
        """Raise an alert once (see `alerts.raise_alert`)."""
        return alerts.raise_alert(self, kind, severity, now, text, notify)

    def recipient_ref(self, recipient: Recipient) -> str | None:
        """Whom a role means for this case: the coordinator, the family (by patient_ref) or
        the site (whose address book resolves its on-call physician and coordinators)."""
        if recipient is Recipient.COORDINATOR:
            return self.facts.coordinator
        if recipient is Recipient.PATIENT_FAMILY:
            return self.facts.patient_ref
        return self.state.current_site

    def family_timezone(self) -> str:
        """Where the family is: at the centre during treatment, at home once returned."""
        return self.facts.home_timezone if self.state.returned_home else self.protocol.team_timezone

    def audit_entry(
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
        """Queue an audit entry; its id is the message's own id when it has one."""
        self.audit.append(
            AuditEntry(
                event_id=f"{self.facts.case_id}:{event_id or self.new_id()}",
                case_id=self.facts.case_id,
                action=str(action),
                actor=actor,
                occurred_at=occurred_at,
                recorded_at=recorded_at,
                detail=detail or {},
                reason=reason,
            )
        )

    def touch(self) -> None:
        """Bump the revision the case-store projection is ordered by."""
        self.state.revision += 1

    def check_sender(self, actor: str, note: str, who: str) -> None:
        """Who sent a message and its note (see `actions.check_sender`)."""
        actions.check_sender(self, actor, note, who)

    # --- deadlines firing ---------------------------------------------------------------------

    def fire_deadlines(self, now: datetime) -> list[DeadlineEvent]:
        """Send reminders and escalations that are due; clinical breaches also raise alerts."""
        return deadlines.fire(self, now)

    # --- the other messages (each in its own module) ------------------------------------------

    def check_acknowledge(self, ack: AcknowledgeAlertInput) -> Alert:
        """Check an acknowledgement; return its alert, or raise `Refused` saying what is wrong."""
        return alerts.check_acknowledge(self, ack)

    def apply_acknowledge(self, ack: AcknowledgeAlertInput, now: datetime) -> Alert:
        """Mark the alert acknowledged (its resends stop) and record who, when and why."""
        return alerts.apply_acknowledge(self, ack, now)

    def check_observation(self, o: ObservationInput, now: datetime) -> datetime:
        """Check an observation; returns its time. Raises `Refused` saying what was expected."""
        return observations.check_observation(self, o, now)

    def apply_observation(
        self, o: ObservationInput, observed_at: datetime, now: datetime
    ) -> ObservationAck:
        """Store an accepted observation and move the observation deadline on."""
        before, self.cause = backfill.open_now(self), "observation"
        ack = observations.apply_observation(self, o, observed_at, now)
        backfill.hold_born_overdue(self, before, now)
        return ack

    def check_import(self, h: HistoryImport, now: datetime) -> None:
        """Check a whole history (all or nothing); raise `Refused` naming the item and why."""
        backfill.check_import(self, h, now)

    def apply_import(self, h: HistoryImport, now: datetime) -> HistoryImportAck:
        """Apply a checked history; deadlines are evaluated once, in one summary."""
        return backfill.apply_import(self, h, now)

    def grade(self, o: ObservationInput) -> ObservationGrades:
        """The observation's CRS, ICANS and GvHD grades and flags."""
        return observations.grade(self, o)

    def check_reschedule(self, r: RescheduleInput, now: datetime) -> None:
        """Check a reschedule request; raise `Refused` saying what was expected."""
        actions.check_reschedule(self, r, now)

    def apply_reschedule(self, r: RescheduleInput, now: datetime) -> DeadlineView:
        """Move the deadline and record who moved it, from when to when, and why."""
        return actions.apply_reschedule(self, r, now)

    def check_withdraw(self, w: WithdrawInput) -> None:
        """Check a withdrawal; raise `Refused` saying what was expected."""
        actions.check_withdraw(self, w)

    def apply_withdraw(self, w: WithdrawInput, now: datetime) -> MilestoneAck:
        """Close the journey as withdrawn."""
        return actions.apply_withdraw(self, w, now)

    def compact_for_carry(self) -> None:
        """Keep the state a fresh run carries under Temporal's 2 MB payload limit, whatever a
        flood recorded (`actions.compact_timeline`; every note is whole in the audit log)."""
        actions.compact_timeline(self.state)

    def reject_unread(self, count: int, reason: str, now: datetime) -> None:
        """Count `count` signals that could not be read (a flood at a forced fresh run)."""
        actions.reject_unread(self, count, reason, now)

    def reject_signal(
        self,
        m: MilestoneInput | None,
        reason: str,
        now: datetime,
        kind: str = "?",
        size_bytes: int | None = None,
    ) -> None:
        """Keep a refused `milestone` signal with its reason (it is never dropped)."""
        actions.reject_signal(self, m, reason, now, kind=kind, size_bytes=size_bytes)
