"""`PatientJourney`: one durable workflow per patient, from records intake to years of follow-up.

Shape, and why:

- **The rules are not here.** `models.pathway.Journey` decides what each milestone means; this
  class turns it into Temporal: validators, handlers, one timer, activities, continue-as-new.
- **One timer for all deadlines.** The main loop sleeps until the deadline book's next event
  (a reminder or an escalation), wakes early only when a handler moved that time, and sends
  what fell due. History grows with what happens, not with how many deadlines are open.
- **Handlers never await I/O.** They wait until the journey is ready (its business calendar is
  loaded), then check and apply synchronously, so two updates can never interleave halfway.
  What must be written to the case store is queued and written by a separate loop, so an
  outage delays the outbox and projection without blocking coordinators or deadlines.
- **Continue-as-new** at the start of monitoring and of follow-up, at least once a year, and
  whenever Temporal suggests it, carrying the whole `JourneyState` (timeline included) in
  `JourneyInput.state`.
- **Versioning.** Journeys run for years, so workflow code changes under running journeys.
  Every change to the commands a run issues goes behind `workflow.patched`; the stored histories
  in `tests/histories/` replay against this code (tests/workflows/test_replay.py).
  `RULES_V2` (graded monitoring, restriction windows, long-term follow-up): runs recorded before
  it keep version 1; their next run (after continue-as-new) upgrades. `SEARCH_ATTRIBUTES`:
  runs recorded before it never upsert search attributes.
- **Visibility.** Search attributes (`workflows.visibility`) are upserted whenever a value
  changes; current details (a short markdown view) are rebuilt after every change and at the
  start of every run, since continue-as-new does not carry them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journey import (
        CalendarActivities,
        CaseStoreActivities,
        NotificationActivities,
    )
    from models.deadlines import DeadlineView
    from models.enums import Phase
    from models.errors import Refused
    from models.journey import JourneyInput
    from models.messages import (
        AcknowledgeAlertInput,
        Alert,
        AuditBatch,
        CalendarRequest,
        JourneyStatus,
        MilestoneAck,
        MilestoneEvent,
        MilestoneInput,
        NotificationBatch,
        ObservationAck,
        ObservationInput,
        RescheduleInput,
        WithdrawInput,
    )
    from models.pathway import Journey
    from models.protocol import resolve_protocol
    from models.state import JourneyState
    from workflows import visibility

T = TypeVar("T")

# Activities retry with backoff for as long as it takes: an outage of the case store delays
# writes, it must never fail a journey that runs for years.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["CaseStoreError", "UnknownCalendar"],
)
STORE_TIMEOUT = timedelta(seconds=30)

# Our own ceiling on events per run, well under Temporal's 51,200 hard limit, in case the
# server's suggestion never comes (older servers, the time-skipping test server).
MAX_EVENTS_PER_RUN = 5_000
CONTINUE_AT_PHASES = (Phase.MONITORING, Phase.FOLLOW_UP)
# Years of follow-up in one run would keep growing its history; a yearly fresh run keeps each
# one small (and lets a new rules version reach old journeys at least once a year).
CONTINUE_AS_NEW_EVERY = timedelta(days=365)

RULES_V2 = "rules-v2-graded-monitoring-and-long-term-follow-up"
SEARCH_ATTRIBUTES = "search-attributes"


def _refusal(fn: Callable[[], T], update: str = "") -> T:
    """Run a domain check; a refusal becomes the `ApplicationError` the caller sees.

    Only `ApplicationError` fails an update on purpose: anything else would fail the workflow
    task and retry forever. Validators pass `update`, so each refusal is counted once.
    """
    try:
        return fn()
    except Refused as e:
        if update:
            _count("cellpath_refusals", {"update": update, "reason": refusal_reason(str(e))})
        raise ApplicationError(str(e), type="Refused", non_retryable=True) from None


REFUSAL_REASONS = (
    ("is not expected in phase", "wrong_phase"),
    ("applies to", "wrong_product"),
    ("chain of identity", "chain_of_identity"),
    ("discharge refused", "discharge_conditions"),
    ("in the future", "future_time"),
    ("before the previous", "out_of_order"),
    ("is required", "missing_field"),
    ("invalid", "invalid_data"),
    ("looks like °F", "invalid_data"),
    ("already", "already_done"),
    ("unknown", "unknown_name"),
    ("no open deadline", "unknown_name"),
    ("no alert", "unknown_name"),
)


def refusal_reason(message: str) -> str:
    """A low-cardinality label for a refusal (metrics must not carry free text)."""
    return next((code for phrase, code in REFUSAL_REASONS if phrase in message), "pathway_rule")


def _count(name: str, labels: dict[str, str]) -> None:
    """Add one to a product counter (the SDK's workflow meter skips it during replay)."""
    workflow.metric_meter().create_counter(name).add(1, labels)


@workflow.defn(name="PatientJourney")
class PatientJourney:
    """A patient's journey through the CAR-T / CAR-NK pathway (DESIGN.md "Phases").

    Waits for coordinators' milestones (updates, or the `milestone` signal), reminds before
    deadlines and escalates after them, and completes with the final `JourneyStatus` when the
    journey closes. Workflow id: `journey-{case_id}`.
    """

    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        state = inp.state or JourneyState(protocol=resolve_protocol(inp.protocol))
        self._new_run = inp.state is None
        self._facts = inp.model_copy(update={"state": None})
        self._journey = Journey(self._facts, state, new_id=lambda: str(workflow.uuid4()))
        if self._new_run:
            # Here, not in run(): an update sent right after the start is validated before
            # run() begins, and must already see the intake deadline (intake needs no
            # business calendar). Only state changes; no command is issued here.
            self._journey.start(workflow.now())
        self._ready = False
        self._projected_revision = -1
        self._syncing = False
        self._run_started_phase = state.phase
        self._run_started_at = workflow.now()
        # Search attribute values as last upserted; None until the patch says to upsert.
        self._visible: dict[str, Any] | None = None
        # What the product counters have counted so far in this run.
        self._counted_events = len(state.timeline)
        self._counted_alerts = len(state.alerts)

    @property
    def _state(self) -> JourneyState:
        return self._journey.state

    # --- the main loop -------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyStatus:
        """Run the journey until it closes (or continue as new, carrying its state)."""
        # Called once, first: a run recorded before this patch replays without it (version 1).
        if workflow.patched(RULES_V2):
            self._journey.upgrade_rules(workflow.now(), carried=not self._new_run)
        if workflow.patched(SEARCH_ATTRIBUTES):
            self._visible = {}
        await self._load_calendar()
        self._ready = True
        workflow.logger.info(
            "journey run started",
            extra={"case_id": self._facts.case_id, "phase": self._state.phase.value},
        )
        # The store loop lives for the whole run; it is idle whenever nothing is queued.
        store_loop = asyncio.create_task(self._store_loop())

        while True:
            self._journey.fire_deadlines(workflow.now())
            self._publish()
            if self._journey.closed or self._should_continue_as_new():
                break
            target = self._wake_at()
            timeout = None if target is None else max(target - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(
                    lambda target=target: (
                        self._journey.closed
                        or self._wake_at() != target
                        or self._should_continue_as_new()
                    ),
                    timeout=timeout,
                    timeout_summary=self._wake_summary(target),
                )
            except TimeoutError:
                pass  # a reminder or escalation is due: fire it at the top of the loop

        # Drain: every handler finished and everything queued is in the case store.
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._has_unsynced()
        )
        store_loop.cancel()
        if self._journey.closed:
            workflow.logger.info(
                "journey closed",
                extra={"case_id": self._facts.case_id, "outcome": str(self._state.outcome)},
            )
            return self._journey.status()
        self._state.run_count += 1
        workflow.continue_as_new(self._facts.model_copy(update={"state": self._state}))

    async def _load_calendar(self) -> None:
        """Load the business calendar for this year and next, unless the state carries it."""
        p = self._state.protocol
        today = workflow.now().date()
        cal = self._state.calendar
        wanted = [today.year, today.year + 1]
        if (
            cal is not None
            and cal.country == p.business_calendar_country
            and all(y in cal.years for y in wanted)
        ):
            return
        self._state.calendar = await workflow.execute_local_activity_method(
            CalendarActivities.load_business_calendar,
            CalendarRequest(
                country=p.business_calendar_country, timezone=p.team_timezone, years=wanted
            ),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary=f"Load {p.business_calendar_country} business calendar {wanted[0]}–{wanted[1]}",
        )

    def _yearly_continue_at(self) -> timedelta | None:
        return CONTINUE_AS_NEW_EVERY if self._journey.v2 else None

    def _wake_at(self) -> datetime | None:
        """The next instant the loop must wake: a deadline, an alert resend, the yearly run."""
        target = self._journey.next_event_at()
        every = self._yearly_continue_at()
        if every is not None:
            yearly = self._run_started_at + every
            target = yearly if target is None else min(target, yearly)
        return target

    def _wake_summary(self, target: datetime | None) -> str:
        every = self._yearly_continue_at()
        if every is not None and target == self._run_started_at + every:
            return f"Yearly fresh run (continue-as-new) at {target:%Y-%m-%d %H:%M} UTC"
        return self._journey.next_event_summary()

    def _should_continue_as_new(self) -> bool:
        if self._journey.closed:
            return False
        info = workflow.info()
        if (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > MAX_EVENTS_PER_RUN
        ):
            return True
        every = self._yearly_continue_at()
        if every is not None and workflow.now() >= self._run_started_at + every:
            return True
        # A fresh run at the start of the long phases keeps each run's history short.
        return (
            self._state.phase in CONTINUE_AT_PHASES and self._state.phase != self._run_started_phase
        )

    def _has_unsynced(self) -> bool:
        j = self._journey
        return (
            bool(j.notifications or j.audit)
            or self._state.revision != self._projected_revision
            or self._syncing
        )

    async def _store_loop(self) -> None:
        """Write queued notifications, audit entries and the projection to the case store."""
        while True:
            await workflow.wait_condition(
                lambda: (
                    bool(self._journey.notifications or self._journey.audit)
                    or self._state.revision != self._projected_revision
                )
            )
            self._syncing = True
            try:
                notifications, audit = self._journey.take_outbox()
                projection = self._journey.projection(workflow.now())
                calls = [
                    workflow.execute_activity_method(
                        CaseStoreActivities.project_journey,
                        projection,
                        start_to_close_timeout=STORE_TIMEOUT,
                        retry_policy=STORE_RETRY,
                        summary=f"Project journey: {projection.phase}, rev {projection.revision}",
                    )
                ]
                if audit:
                    calls.append(
                        workflow.execute_activity_method(
                            CaseStoreActivities.record_audit,
                            AuditBatch(entries=audit),
                            start_to_close_timeout=STORE_TIMEOUT,
                            retry_policy=STORE_RETRY,
                            summary="Audit: " + ", ".join(e.action for e in audit)[:180],
                        )
                    )
                if notifications:
                    calls.append(
                        workflow.execute_activity_method(
                            NotificationActivities.send_notifications,
                            NotificationBatch(notifications=notifications),
                            start_to_close_timeout=STORE_TIMEOUT,
                            retry_policy=STORE_RETRY,
                            summary="Notify: "
                            + "; ".join(
                                f"{n.kind} {n.deadline or ''} → {n.recipient}".replace("  ", " ")
                                for n in notifications
                            )[:180],
                        )
                    )
                results = await asyncio.gather(*calls, return_exceptions=True)
                for result in results:
                    if isinstance(result, ActivityError):
                        # Only a non-retryable refusal by the store ends up here; the facts
                        # stay in the workflow's own history and state.
                        workflow.logger.error(
                            "case store refused a write",
                            extra={"case_id": self._facts.case_id, "error": str(result.cause)},
                        )
                    elif isinstance(result, BaseException):
                        raise result
                self._projected_revision = projection.revision
            finally:
                self._syncing = False

    def _publish(self) -> None:
        """Show the journey as it now is: search attributes (if changed) and current details.

        Also counts what happened since the last call (milestones, alerts) for the metrics.
        """
        for event in self._state.timeline[self._counted_events :]:
            _count("cellpath_milestones_recorded", {"kind": event.kind})
        for alert in self._state.alerts[self._counted_alerts :]:
            _count("cellpath_alerts_raised", {"severity": str(alert.severity), "kind": alert.kind})
        self._counted_events = len(self._state.timeline)
        self._counted_alerts = len(self._state.alerts)
        if self._visible is not None:
            wanted = visibility.journey_values(self._journey.projection(workflow.now()))
            changes = visibility.updates(wanted, self._visible)
            if changes:
                workflow.upsert_search_attributes(changes)
                self._visible = wanted
        self._publish_details()

    def _publish_details(self) -> None:
        """A short markdown view for the Temporal UI's "current details" (no PHI)."""
        s = self._state
        lines = [f"**{self._facts.case_id}** — phase `{s.phase}`"]
        if s.outcome:
            lines.append(f"outcome `{s.outcome}`")
        for d in self._journey.open_deadlines():
            flag = f" ⚠ level {d.escalation_level}" if d.escalation_level else ""
            lines.append(f"- `{d.name}` due {d.due_at:%Y-%m-%d %H:%M} UTC{flag}")
        tox = s.toxicity
        if tox.last_observed_at is not None:
            lines.append(
                f"CRS {tox.crs_current} (worst {tox.crs_worst}) · "
                f"ICANS {tox.icans_current} (worst {tox.icans_worst})"
                + (f" · GvHD {tox.gvhd_current}" if tox.gvhd_worst is not None else "")
            )
        for a in s.alerts:
            if not a.acknowledged:
                lines.append(f"- 🚨 {a.severity} `{a.kind}` {a.id[:8]}: {a.text[:80]}")
        workflow.set_current_details("\n".join(lines))

    async def _until_ready(self) -> None:
        # Updates can arrive in the very first workflow task, before the business calendar
        # is loaded; they wait here (validators already ran and do not need it).
        await workflow.wait_condition(lambda: self._ready)

    # --- messages ------------------------------------------------------------------------------

    @workflow.update
    async def record_milestone(self, milestone: MilestoneInput) -> MilestoneAck:
        """Record a milestone; refused (changing nothing) unless the pathway expects it now."""
        await self._until_ready()
        now = workflow.now()
        # Checked again: another update may have moved the journey since validation.
        accepted = _refusal(lambda: self._journey.check_milestone(milestone, now))
        ack = self._journey.apply_milestone(accepted, now)
        self._publish()
        return ack

    @record_milestone.validator
    def validate_record_milestone(self, milestone: MilestoneInput) -> None:
        """Refuse a milestone before it reaches history, with what was expected."""
        _refusal(lambda: self._journey.check_milestone(milestone, workflow.now()), "milestone")

    @workflow.signal
    async def milestone(self, payload: RawValue) -> None:
        """Fire-and-forget milestone for integrations. A refused one is kept in `rejected`.

        The payload arrives raw: the SDK would drop a signal whose payload does not decode,
        and an invalid signal must be kept, not dropped.
        """
        await self._until_ready()
        now = workflow.now()
        try:
            m = workflow.payload_converter().from_payload(payload.payload, MilestoneInput)
        except Exception as e:  # any decoding problem is the sender's, and is kept
            self._journey.reject_signal(None, f"payload is not a MilestoneInput: {e}", now)
            return
        if self._journey.is_duplicate(m.milestone_id):
            return
        try:
            accepted = self._journey.check_milestone(m, now)
        except Refused as e:
            workflow.logger.warning(
                "milestone signal refused",
                extra={"case_id": self._facts.case_id, "kind": m.kind, "reason": str(e)},
            )
            self._journey.reject_signal(m, str(e), now)
            _count(
                "cellpath_refusals",
                {"update": "milestone_signal", "reason": refusal_reason(str(e))},
            )
            return
        self._journey.apply_milestone(accepted, now)
        self._publish()

    @workflow.update
    async def record_observation(self, observation: ObservationInput) -> ObservationAck:
        """Record a monitoring observation; it moves the observation deadline on."""
        await self._until_ready()
        now = workflow.now()
        at = _refusal(lambda: self._journey.check_observation(observation, now))
        ack = self._journey.apply_observation(observation, at, now)
        self._publish()
        return ack

    @record_observation.validator
    def validate_record_observation(self, observation: ObservationInput) -> None:
        """Refuse an observation outside monitoring or out of physiological range."""
        _refusal(
            lambda: self._journey.check_observation(observation, workflow.now()), "observation"
        )

    @workflow.update
    async def acknowledge_alert(self, request: AcknowledgeAlertInput) -> Alert:
        """A physician acknowledges an alert: a critical alert stops repeating."""
        await self._until_ready()
        _refusal(lambda: self._journey.check_acknowledge(request))
        alert = self._journey.apply_acknowledge(request, workflow.now())
        self._publish()
        return alert

    @acknowledge_alert.validator
    def validate_acknowledge_alert(self, request: AcknowledgeAlertInput) -> None:
        """Refuse an unknown or already acknowledged alert, or one without an actor."""
        _refusal(lambda: self._journey.check_acknowledge(request), "acknowledge_alert")

    @workflow.update
    async def reschedule(self, request: RescheduleInput) -> DeadlineView:
        """Move an open deadline (who, why and from when to when go into the timeline)."""
        await self._until_ready()
        now = workflow.now()
        _refusal(lambda: self._journey.check_reschedule(request, now))
        view = self._journey.apply_reschedule(request, now)
        self._publish()
        return view

    @reschedule.validator
    def validate_reschedule(self, request: RescheduleInput) -> None:
        """Refuse moving a deadline that is not open, into the past, or without a reason."""
        _refusal(lambda: self._journey.check_reschedule(request, workflow.now()), "reschedule")

    @workflow.update
    async def withdraw(self, request: WithdrawInput) -> MilestoneAck:
        """Close the journey as withdrawn."""
        await self._until_ready()
        _refusal(lambda: self._journey.check_withdraw(request))
        ack = self._journey.apply_withdraw(request, workflow.now())
        self._publish()
        return ack

    @withdraw.validator
    def validate_withdraw(self, request: WithdrawInput) -> None:
        """Refuse a withdrawal without a reason or of a closed journey."""
        _refusal(lambda: self._journey.check_withdraw(request), "withdraw")

    @workflow.query
    def status(self) -> JourneyStatus:
        """The journey at a glance: phase, open deadlines, alerts, refused signals."""
        return self._journey.status()

    @workflow.query
    def timeline(self) -> list[MilestoneEvent]:
        """Every recorded milestone (and reschedule / withdrawal), across all runs."""
        return list(self._state.timeline)
