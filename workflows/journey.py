"""`PatientJourney`: one durable workflow per patient, from records intake to years of follow-up.

Its shape and the reasons for it are in docs/architecture.md. In short:

- **The rules are not here.** `models.pathway.Journey` decides what each message means; this
  class turns it into Temporal: validators, handlers, one timer, activities, continue-as-new.
- **One timer for all deadlines**, re-armed only when a handler moved the next event.
- **Handlers never await I/O and issue no commands.** Only the main loop does (timers, one
  case-store write per task started after it fired what fell due, continue-as-new), from the
  state alone, so a task's commands never depend on the order in which Temporal delivers an
  update and an activity completion (sdk-rust#1146). Runs recorded before `RULES_V3` keep the
  separate store loop they were recorded with.
- **Every input is hostile.** The handlers, validators and queries are in
  `workflows.messages` (this class's base), the flood bounds in `workflows.floods`. Messages
  arrive raw and are decoded and bounded there
  (`models.bounds`); no exception from checking one can fail a workflow task (`boundary`).
- **Continue-as-new** at the start of monitoring and of follow-up, at least once a year, and
  whenever Temporal suggests it, carrying the whole `JourneyState` in `JourneyInput.state`.
- **Versioning.** Every change to the commands a run issues goes behind `workflow.patched`
  (`RULES_V2`, `SEARCH_ATTRIBUTES`, `RULES_V3`, `RULES_V4`, `RULES_V5`, `BOUNDED_FLOODS`,
  `SIGNERS`, `FORMS_IN_WORDS`, `AFTER_INFUSION`, `WATCHED`, `RECORDS`, `LEDGER`,
  `CUSTODY`, `CAPACITY`, `REASSIGNED`); the histories in
  `tests/histories/` replay against this code. A run recorded before a patch keeps its
  behaviour; its next run upgrades (up to version 4: version 5 only for new journeys).
- **Visibility.** Search attributes (`workflows.visibility`) are upserted when a value changes;
  current details are rebuilt after every change and at the start of every run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.journey import (
        CalendarActivities,
        CaseStoreActivities,
        NotificationActivities,
    )
    from models.enums import Phase
    from models.journey import JourneyInput
    from models.messages import (
        AuditBatch,
        CalendarRequest,
        JourneyProjection,
        JourneyStatus,
        JourneyWrite,
        Notification,
        NotificationBatch,
    )
    from models.pathway import Journey
    from models.pathway.deadlines import ahead, ahead_basis
    from models.pathway.projection import schedule
    from models.protocol import resolve_protocol
    from models.state import JourneyState
    from workflows import boundary, visibility
    from workflows.floods import (
        BACKLOG_PAUSE,
        EMERGENCY_BYTES_PER_RUN,
        EMERGENCY_EVENTS_PER_RUN,
    )
    from workflows.messages import JourneyMessages

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Activities retry with backoff for as long as it takes: an outage of the case store delays
# writes, it must never fail a journey that runs for years.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["CaseStoreError", "UnknownCalendar"],
)
STORE_TIMEOUT = timedelta(seconds=30)
# A journey write is one short transaction; when the worker running it dies, the write is
# retried elsewhere only after this long, so it is kept short (a slow attempt is retried,
# and the write is idempotent).
WRITE_TIMEOUT = timedelta(seconds=10)

# Our own ceiling on events per run, well under Temporal's 51,200 hard limit, in case the
# server's suggestion never comes (older servers, the time-skipping test server).
MAX_EVENTS_PER_RUN = 5_000
CONTINUE_AT_PHASES = (Phase.MONITORING, Phase.FOLLOW_UP)
# Years of follow-up in one run would keep growing its history; a yearly fresh run keeps each
# one small (and lets a new rules version reach old journeys at least once a year).
CONTINUE_AS_NEW_EVERY = timedelta(days=365)

RULES_V2 = "rules-v2-graded-monitoring-and-long-term-follow-up"
SEARCH_ATTRIBUTES = "search-attributes"
# Rules version 3 (bounded messages, …) and the one-writer store path, for runs started after it.
RULES_V3 = "rules-v3-bounded-messages-one-writer"
# Rules version 4: recording the past pages nobody by mistake; history import.
RULES_V4 = "rules-v4-backfill"
# Rules version 5: consent, eligibility and readiness gates, signed decisions, the hand-over
# (journeys started under it only: a carried journey keeps version 4).
RULES_V5 = "rules-v5-gates-and-handover"
# Floods cannot silence a journey (runs started or continued after it): at most
# `SIGNALS_READ_PER_ACTIVATION` signals are read per workflow task, the rest wait in order for
# the next; accepted updates are counted, and a run continues as new well before Temporal's
# limits, refusing new updates (to be sent again) while it does.
BOUNDED_FLOODS = "bounded-floods"
# A PI's decision names its PI; one received in writing is recorded as transcribed (the signed
# document's SHA-256), never as its recorder's signature (runs started or continued after it).
SIGNERS = "signed-by-signers"
# A cost estimate's items add up to its total; a consent form's version may hold spaces
# (runs started or continued after it).
FORMS_IN_WORDS = "forms-in-words"
# After infusion: ICU admission and discharge (runs started or continued after it).
AFTER_INFUSION = "after-infusion"
# After infusion, watched: laboratory results and complications, adverse events reported to a
# trial's sponsor within 24 h, death, response with MRD, relapse and the way back, bridging
# that moves conditioning, the registry's track by consent (runs started or continued after it).
WATCHED = "watched-after-infusion"
# Records and the family: a record's file hash, language and pages; translations for the PI
# that `submitted_to_pi` waits for, each with a deadline; symptoms the family reports from their
# page (runs started or continued after it).
RECORDS = "records-and-family"
# The family's money: versioned quotes with items by category and payer, deposits, payments
# and refunds in Decimal with their exchange rates, a changed quote and an unpaid deposit as
# gates (runs started or continued after it).
LEDGER = "ledger"
# Chain of custody and condition: custody hand-offs from the holder only, shipments whose
# manifest and invoice agree, temperature excursions for QA, checked at the infusion (runs
# started or continued after it).
CUSTODY = "custody-and-condition"
# A site's scarce resources: bookings the case store granted, recorded by the journey and
# given back when it closes (runs started or continued after it).
CAPACITY = "capacity"
# Who coordinates the case: a colleague takes it over (`coordinator_changed`), its search
# attribute and reminders follow (runs started or continued after it).
REASSIGNED = "reassigned"
# The scheduled outbox: the journey writes its next reminders and escalations ahead, the
# dispatcher sends them at their instant, and the journey's own timer wakes `AHEAD_GRACE`
# later to record them (its send finds them taken): in a storm of deadlines due together, the
# journeys' own work no longer competes with the messages (runs started or continued after it).
AHEAD = "escalations-ahead"
AHEAD_GRACE = timedelta(seconds=30)


@workflow.defn(name="PatientJourney")
class PatientJourney(JourneyMessages):
    """A patient's journey through the CAR-T / CAR-NK pathway (docs/architecture.md).

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
        # The projection `_publish` computed, for the write that follows it in the same task
        # (state revision, instant, projection): computed once, not twice, per task.
        self._published: tuple[int, datetime, JourneyProjection] | None = None
        # What the last write's scheduled outbox rows were computed from (None: nothing yet
        # in this run, so the first write says them whole).
        self._ahead_basis: tuple[object, ...] | None = None
        # Runs under `AHEAD`: rows written ahead, and the own timer a grace after them.
        self._ahead = False
        self._syncing = False
        # The one-writer store path (runs started under RULES_V3) and its writes in flight.
        self._one_writer = False
        self._writes: set[asyncio.Task[Any]] = set()
        self._run_started_phase = state.phase
        self._run_started_at = workflow.now()
        # Search attribute values as last upserted; None until the patch says to upsert.
        self._visible: dict[str, Any] | None = None
        # What the product counters have counted so far in this run.
        self._counted_events = len(state.timeline)
        self._counted_alerts = len(state.alerts)
        # Flood bounds (BOUNDED_FLOODS): signals not read yet, in arrival order; how many were
        # read in the current workflow task (known by its time, the same on replay); updates
        # accepted in this run; whether the run is draining on its way to a fresh one.
        self._bounded = False
        self._backlog: deque[RawValue] = deque()
        self._read_at: datetime | None = None
        self._read_count = 0
        self._updates_this_run = 0
        self._continuing = False

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
        if workflow.patched(RULES_V3):
            self._journey.upgrade_rules(workflow.now(), carried=not self._new_run, to=3)
            self._one_writer = True
        if workflow.patched(RULES_V4):
            self._journey.upgrade_rules(workflow.now(), carried=not self._new_run, to=4)
        if workflow.patched(RULES_V5):
            self._journey.upgrade_rules(workflow.now(), carried=not self._new_run, to=5)
        if workflow.patched(BOUNDED_FLOODS):
            self._bounded = True
            self._journey.strict_ids = True
        if workflow.patched(SIGNERS):
            self._journey.signers = True
        if workflow.patched(FORMS_IN_WORDS):
            self._journey.forms_in_words = True
        if workflow.patched(AFTER_INFUSION):
            self._journey.after_infusion = True
        if workflow.patched(WATCHED):
            self._journey.watch()
        if workflow.patched(RECORDS):
            self._journey.records = True
        if workflow.patched(LEDGER):
            self._journey.ledger = True
        if workflow.patched(CUSTODY):
            self._journey.custody = True
        if workflow.patched(CAPACITY):
            self._journey.capacity = True
        if workflow.patched(REASSIGNED):
            self._journey.reassigned = True
        if workflow.patched(AHEAD):
            self._ahead = True
            self._journey.ahead = True
        await self._load_calendar()
        self._ready = True
        workflow.logger.info(
            "journey run started",
            extra={"case_id": self._facts.case_id, "phase": self._state.phase.value},
        )
        # Runs recorded before RULES_V3 keep their separate store loop (replay needs it).
        store_loop = None if self._one_writer else asyncio.create_task(self._store_loop())

        while True:
            self._journey.fire_deadlines(workflow.now())
            self._read_backlog()
            self._publish()
            if self._one_writer:
                self._flush()
            if self._journey.closed or self._should_continue_as_new():
                break
            target = self._wake_at()
            timeout = None if target is None else max(target - workflow.now(), timedelta(0))
            if self._backlog:
                # Signals wait to be read: the next task reads the next batch.
                timeout = BACKLOG_PAUSE if timeout is None else min(timeout, BACKLOG_PAUSE)
            try:
                await workflow.wait_condition(
                    lambda target=target: (
                        self._journey.closed
                        or self._wake_at() != target
                        or self._should_continue_as_new()
                        or (self._one_writer and self._dirty())
                        or self._can_read_more()
                    ),
                    timeout=timeout,
                    timeout_summary=self._wake_summary(target),
                )
            except TimeoutError:
                pass  # a reminder or escalation is due: fire it at the top of the loop

        self._continuing = not self._journey.closed
        if self._one_writer:
            await self._drain()
        else:
            # Drain: every handler finished and everything queued is in the case store.
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() and not self._has_unsynced()
            )
        if store_loop is not None:
            store_loop.cancel()
        if self._journey.closed:
            workflow.logger.info(
                "journey closed",
                extra={"case_id": self._facts.case_id, "outcome": str(self._state.outcome)},
            )
            return self._journey.status()
        self._state.run_count += 1
        if self._bounded:
            self._journey.compact_for_carry()
        workflow.logger.info(
            "journey continues as new",
            extra={
                "case_id": self._facts.case_id,
                "events": workflow.info().get_current_history_length(),
                "bytes": workflow.info().get_current_history_size(),
                "updates": self._updates_this_run,
            },
        )
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
        target = self._journey.next_event_at(AHEAD_GRACE if self._ahead else timedelta(0))
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
        if self._over_bounds():
            return True
        every = self._yearly_continue_at()
        if every is not None and workflow.now() >= self._run_started_at + every:
            return True
        # A fresh run at the start of the long phases keeps each run's history short.
        return (
            self._state.phase in CONTINUE_AT_PHASES and self._state.phase != self._run_started_phase
        )

    # --- the one writer (runs started under RULES_V3) --------------------------------------------

    def _dirty(self) -> bool:
        """Whether the state has something the case store has not been handed yet."""
        j = self._journey
        return bool(j.notifications or j.audit) or self._state.revision != self._projected_revision

    def _flush(self) -> None:
        """Hand everything new to the case store in one write (started, not awaited).

        Called only by the main loop, after it fired what fell due, so one workflow task issues
        at most one write holding all of it. Whether to write depends on the state alone —
        never on whether an earlier write has finished (that is exactly what can be delivered
        in a different order on replay) — so earlier writes are neither awaited, cancelled nor
        counted here. Each write carries only what is new; every write retries until the store
        takes it, so an outage delays entries and loses none.
        """
        if not self._dirty():
            return
        notifications, audit = self._journey.take_outbox()
        batch = JourneyWrite(
            projection=self._projection_now(),
            audit=audit,
            notifications=notifications,
            # The board's view of this journey: steps done and ahead (an activity's input:
            # nothing here is a command, so replay is unaffected).
            schedule=schedule(self._journey, workflow.now()),
            ahead=self._ahead_if_changed(),
        )
        write = workflow.start_activity_method(
            CaseStoreActivities.write_journey,
            batch,
            start_to_close_timeout=WRITE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary=boundary.write_summary(batch),
        )
        self._writes.add(write)
        write.add_done_callback(self._confirm)
        self._projected_revision = batch.projection.revision

    def _ahead_if_changed(self) -> list[Notification] | None:
        """The scheduled outbox's rows when they differ from what the last write said, else
        None (most writes change no deadline). An activity's input, not a command: replay is
        unaffected, and a run replayed from its start writes the same rows again."""
        if not self._ahead:
            return None
        basis = ahead_basis(self._journey)
        if basis == self._ahead_basis:
            return None
        self._ahead_basis = basis
        return ahead(self._journey, workflow.now())

    def _confirm(self, write: asyncio.Task[Any]) -> None:
        """A write finished. Never issues a command (see the module docstring)."""
        self._writes.discard(write)
        error = None if write.cancelled() else write.exception()
        if error is not None:
            # Only a non-retryable refusal by the store ends up here (data errors are set
            # aside by the activity itself); the entries stay in this workflow's history.
            workflow.logger.error(
                "case store refused a write",
                extra={"case_id": self._facts.case_id, "error": str(error.__cause__ or error)},
            )

    def _written(self) -> bool:
        return not self._writes

    async def _drain(self) -> None:
        """Before closing or continuing as new: every handler finished, every signal read,
        everything written.

        Signals still waiting are read a batch per task; only when the run nears Temporal's
        hard limits are they counted unread instead (`_emergency`), since a run that keeps
        growing is terminated by the server.
        """
        while True:
            await workflow.wait_condition(
                lambda: (
                    workflow.all_handlers_finished()
                    and (bool(self._backlog) or self._dirty() or self._written())
                )
            )
            self._read_backlog()
            if self._backlog and self._emergency():
                self._journey.reject_unread(
                    len(self._backlog), self._emergency_reason(), workflow.now()
                )
                self._backlog.clear()
            if self._dirty():
                self._publish()
                self._flush()
                continue
            if self._backlog:
                await workflow.sleep(BACKLOG_PAUSE, summary="Read the signals still waiting")
                continue
            if self._written():
                return

    def _emergency(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() > EMERGENCY_EVENTS_PER_RUN
            or info.get_current_history_size() > EMERGENCY_BYTES_PER_RUN
        )

    def _emergency_reason(self) -> str:
        info = workflow.info()
        return (
            f"not read: the journey's run had {info.get_current_history_length()} events "
            f"({info.get_current_history_size() // (1024 * 1024)} MB) under a flood of signals "
            "and had to continue as new; each signal is kept whole in that run's history"
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
            boundary.count("cellpath_milestones_recorded", {"kind": event.kind})
        for alert in self._state.alerts[self._counted_alerts :]:
            boundary.count(
                "cellpath_alerts_raised", {"severity": str(alert.severity), "kind": alert.kind}
            )
        self._counted_events = len(self._state.timeline)
        self._counted_alerts = len(self._state.alerts)
        if self._visible is not None:
            wanted = visibility.journey_values(self._projection_now())
            changes = visibility.updates(wanted, self._visible)
            if changes:
                workflow.upsert_search_attributes(changes)
                self._visible = wanted
        self._publish_details()

    def _projection_now(self) -> JourneyProjection:
        """The journey's projection at this instant, computed once for a task's publish and
        the write that follows it (both at the same revision and instant)."""
        now, revision = workflow.now(), self._state.revision
        kept = self._published
        if kept is not None and kept[0] == revision and kept[1] == now:
            return kept[2]
        projection = self._journey.projection(now)
        self._published = (revision, now, projection)
        return projection

    def _publish_details(self) -> None:
        """A short markdown view for the Temporal UI's "current details" (no PHI)."""
        workflow.set_current_details(boundary.details(self._journey))

    def _handler_changed(self) -> None:
        """After a handler changed the journey: show it now (runs before rules version 3), or
        leave it to the main loop, which wakes for every change (the one-writer path).

        Commands issued from handlers would follow the order in which Temporal delivers an
        update and a signal in one task, which is not always the same on replay.
        """
        if not self._one_writer:
            self._publish()
