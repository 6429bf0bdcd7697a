"""The messages a journey takes: the updates (each with its validator), the `milestone`
signal and the queries, as `PatientJourney`'s base class.

Every message arrives raw and is decoded and bounded here (`boundary`); nothing a sender puts
in one can fail a workflow task. Handlers change the journey's state and issue no commands:
the main loop (`workflows.journey`) writes, upserts and continues as new.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from models import bounds
    from models.deadlines import DeadlineView
    from models.errors import Refused
    from models.journey import JourneyInput
    from models.messages import (
        AcknowledgeAlertInput,
        Alert,
        HistoryImport,
        HistoryImportAck,
        JourneyStatus,
        MilestoneAck,
        MilestoneEvent,
        MilestoneInput,
        ObservationAck,
        ObservationInput,
        RescheduleInput,
        WithdrawInput,
    )
    from models.pathway import Journey
    from models.pathway.projection import ProjectedStep, ProjectionQuery, project
    from models.state import ObservationRecord
    from workflows import boundary
    from workflows.floods import (
        BOUNDED_BYTES_PER_RUN,
        BOUNDED_EVENTS_PER_RUN,
        SIGNALS_LOGGED_PER_ACTIVATION,
        SIGNALS_READ_PER_ACTIVATION,
        UPDATES_PER_RUN,
    )

M = TypeVar("M", bound=BaseModel)


class JourneyMessages:
    """Handlers, validators and queries of `PatientJourney` (which sets these attributes)."""

    _journey: Journey
    _facts: JourneyInput
    _ready: bool
    _one_writer: bool
    _bounded: bool
    _backlog: deque[RawValue]
    _read_at: datetime | None
    _read_count: int
    _updates_this_run: int
    _continuing: bool
    _writes: set[asyncio.Task[object]]

    def _handler_changed(self) -> None:
        """After a handler changed the journey (`PatientJourney` says what follows)."""
        raise NotImplementedError

    def _over_bounds(self) -> bool:
        """Whether this run has taken as many updates, events or bytes as a run should
        (`BOUNDED_FLOODS`): a flood, most likely."""
        if not self._bounded:
            return False
        info = workflow.info()
        return (
            self._updates_this_run >= UPDATES_PER_RUN
            or info.get_current_history_length() > BOUNDED_EVENTS_PER_RUN
            or info.get_current_history_size() > BOUNDED_BYTES_PER_RUN
        )

    async def _until_ready(self) -> None:
        # Updates can arrive in the very first workflow task, before the business calendar
        # is loaded; they wait here (validators already ran and do not need it). Once ready,
        # a handler applies without yielding (one-writer runs): a signal delivered just before
        # an update has changed the journey by the time the update's validator looks at it.
        if self._ready and self._one_writer:
            return
        await workflow.wait_condition(lambda: self._ready)

    async def _accepted(self) -> None:
        """The first step of every update handler: count it (Temporal caps updates per run),
        then wait until the journey is ready."""
        self._updates_this_run += 1
        await self._until_ready()

    def _before_run(self) -> bool:
        """An update in the run's very first task is validated before `run` has applied
        the run's patches (which rules it takes): it is accepted then, and its handler —
        which waits until the run is ready — checks it and refuses it as the validator would.
        A refusal there changes nothing in the journey either."""
        return not self._ready

    def _refuse_while_continuing(self, update: str) -> None:
        """A validator's first check: no new update while a run that took all it should
        continues as new.

        Otherwise a stream of updates would keep the drain (which waits for every handler)
        from ending, and the run would grow to Temporal's limits. They are to be sent again
        to the fresh run (the services do so by themselves). A run continuing as new for
        another reason (a new phase, a year) still takes the few updates that arrive.
        """
        if self._continuing and self._over_bounds():
            boundary.refusal(boundary.continuing, update)

    def _take_read_budget(self) -> bool:
        """Whether one more signal may be read in this workflow task (`BOUNDED_FLOODS`)."""
        now = workflow.now()
        if now != self._read_at:
            self._read_at, self._read_count = now, 0
        if self._read_count >= SIGNALS_READ_PER_ACTIVATION:
            return False
        self._read_count += 1
        return True

    def _can_read_more(self) -> bool:
        """Signals wait and this workflow task has read none yet (a new task, a new budget)."""
        return bool(self._backlog) and workflow.now() != self._read_at

    def _read_backlog(self) -> None:
        """Read waiting signals, oldest first, as far as this task's budget goes."""
        while self._backlog and self._take_read_budget():
            self._read_signal(self._backlog.popleft())

    # --- messages ------------------------------------------------------------------------------

    def _decode(
        self, raw: RawValue, model: type[M], what: str, limit: int = bounds.MAX_MESSAGE_BYTES
    ) -> M:
        """A message from its raw payload (`boundary.decode`), bounded under rules v3."""
        return boundary.decode(
            raw, model, what, bounded=self._journey.v3, limit=limit, strict=self._bounded
        )

    @workflow.update
    async def record_milestone(self, raw: RawValue) -> MilestoneAck:
        """Record a milestone (`MilestoneInput`); refused, changing nothing, unless expected now."""
        await self._accepted()
        now = workflow.now()
        # Checked again: another update may have moved the journey since validation.
        accepted = boundary.refusal(
            lambda: self._journey.check_milestone(
                self._decode(raw, MilestoneInput, "milestone"), now
            )
        )
        ack = self._journey.apply_milestone(accepted, now)
        self._handler_changed()
        return ack

    @record_milestone.validator
    def validate_record_milestone(self, raw: RawValue) -> None:
        """Refuse a milestone before it reaches history, with what was expected."""
        self._refuse_while_continuing("milestone")
        if self._before_run():
            return
        boundary.refusal(
            lambda: self._journey.check_milestone(
                self._decode(raw, MilestoneInput, "milestone"), workflow.now()
            ),
            "milestone",
        )

    @workflow.signal
    async def milestone(self, raw: RawValue) -> None:
        """Fire-and-forget milestone (`MilestoneInput`) for integrations; a refused one is kept
        in `rejected` as a bounded summary.

        The payload arrives raw: the SDK would drop a signal whose payload does not decode,
        and an invalid signal must be kept, not dropped. Nothing a sender puts in it can fail
        the workflow task.
        """
        await self._until_ready()
        if self._bounded and (self._backlog or not self._take_read_budget()):
            # Decided before decoding: past this task's budget a signal waits, in order, for
            # the next task (the main loop wakes for it). Nothing is lost or reordered.
            self._backlog.append(raw)
            return
        self._read_signal(raw)

    def _read_signal(self, raw: RawValue) -> None:
        """Decode, check and apply one `milestone` signal; a refused one is kept."""
        now = workflow.now()
        m: MilestoneInput | None = None
        try:
            m = boundary.checked(lambda: self._decode(raw, MilestoneInput, "milestone"))
            accepted = boundary.checked(lambda: self._journey.check_milestone(m, now))
        except Refused as e:
            # One log line a signal was most of a flood's cost (and a flood of its own in the
            # logs): under the flood bounds only the first few of a task are logged; the
            # `cellpath_refusals` counter and `status().rejected_total` count them all.
            if not self._bounded or self._read_count <= SIGNALS_LOGGED_PER_ACTIVATION:
                workflow.logger.warning(
                    "milestone signal refused",
                    extra={"case_id": self._facts.case_id, "code": e.code.value},
                )
            self._journey.reject_signal(m, str(e), now, size_bytes=len(raw.payload.data))
            boundary.count(
                "cellpath_refusals", {"update": "milestone_signal", "reason": e.code.value}
            )
            self._handler_changed()
            return
        self._journey.apply_milestone(accepted, now)
        self._handler_changed()

    @workflow.update
    async def record_observation(self, raw: RawValue) -> ObservationAck:
        """Record a monitoring observation (`ObservationInput`); it moves the deadline on."""
        await self._accepted()
        now = workflow.now()
        observation = boundary.refusal(lambda: self._decode(raw, ObservationInput, "observation"))
        at = boundary.refusal(lambda: self._journey.check_observation(observation, now))
        ack = self._journey.apply_observation(observation, at, now)
        self._handler_changed()
        return ack

    @record_observation.validator
    def validate_record_observation(self, raw: RawValue) -> None:
        """Refuse an observation outside monitoring or out of physiological range."""
        self._refuse_while_continuing("observation")
        if self._before_run():
            return
        boundary.refusal(
            lambda: self._journey.check_observation(
                self._decode(raw, ObservationInput, "observation"), workflow.now()
            ),
            "observation",
        )

    @workflow.update
    async def acknowledge_alert(self, raw: RawValue) -> Alert:
        """A physician acknowledges an alert (`AcknowledgeAlertInput`): a critical one stops
        repeating."""
        await self._accepted()
        request = boundary.refusal(
            lambda: self._decode(raw, AcknowledgeAlertInput, "acknowledgement")
        )
        boundary.refusal(lambda: self._journey.check_acknowledge(request))
        alert = self._journey.apply_acknowledge(request, workflow.now())
        self._handler_changed()
        return alert

    @acknowledge_alert.validator
    def validate_acknowledge_alert(self, raw: RawValue) -> None:
        """Refuse an unknown or already acknowledged alert, or one without an actor."""
        self._refuse_while_continuing("acknowledge_alert")
        if self._before_run():
            return
        boundary.refusal(
            lambda: self._journey.check_acknowledge(
                self._decode(raw, AcknowledgeAlertInput, "acknowledgement")
            ),
            "acknowledge_alert",
        )

    @workflow.update
    async def reschedule(self, raw: RawValue) -> DeadlineView:
        """Move an open deadline (`RescheduleInput`); who, why and from when to when go into
        the timeline."""
        await self._accepted()
        now = workflow.now()
        request = boundary.refusal(lambda: self._decode(raw, RescheduleInput, "reschedule"))
        boundary.refusal(lambda: self._journey.check_reschedule(request, now))
        view = self._journey.apply_reschedule(request, now)
        self._handler_changed()
        return view

    @reschedule.validator
    def validate_reschedule(self, raw: RawValue) -> None:
        """Refuse moving a deadline that is not open, into the past, or without a reason."""
        self._refuse_while_continuing("reschedule")
        if self._before_run():
            return
        boundary.refusal(
            lambda: self._journey.check_reschedule(
                self._decode(raw, RescheduleInput, "reschedule"), workflow.now()
            ),
            "reschedule",
        )

    @workflow.update
    async def withdraw(self, raw: RawValue) -> MilestoneAck:
        """Close the journey as withdrawn (`WithdrawInput`)."""
        await self._accepted()
        request = boundary.refusal(lambda: self._decode(raw, WithdrawInput, "withdrawal"))
        boundary.refusal(lambda: self._journey.check_withdraw(request))
        ack = self._journey.apply_withdraw(request, workflow.now())
        self._handler_changed()
        return ack

    @withdraw.validator
    def validate_withdraw(self, raw: RawValue) -> None:
        """Refuse a withdrawal without a reason or of a closed journey."""
        self._refuse_while_continuing("withdraw")
        if self._before_run():
            return
        boundary.refusal(
            lambda: self._journey.check_withdraw(self._decode(raw, WithdrawInput, "withdrawal")),
            "withdraw",
        )

    @workflow.update
    async def import_history(self, raw: RawValue) -> HistoryImportAck:
        """Apply a patient's past (`HistoryImport`), all or nothing, to a journey with nothing
        recorded yet; deadlines are evaluated once, what fell due goes out in one summary."""
        await self._accepted()
        now = workflow.now()
        history = boundary.refusal(lambda: self._decode_history(raw))
        boundary.refusal(lambda: self._journey.check_import(history, now))
        ack = self._journey.apply_import(history, now)
        self._handler_changed()
        return ack

    @import_history.validator
    def validate_import_history(self, raw: RawValue) -> None:
        """Refuse an unreadable history; once the journey is ready, any item it refuses.

        An import sent right after the start is validated before the business calendar is
        loaded: then the handler checks the items, before it changes anything.
        """
        self._refuse_while_continuing("import_history")
        if self._before_run():
            return
        history = boundary.refusal(lambda: self._decode_history(raw), "import_history")
        if self._ready:
            boundary.refusal(
                lambda: self._journey.check_import(history, workflow.now()), "import_history"
            )

    def _decode_history(self, raw: RawValue) -> HistoryImport:
        return self._decode(raw, HistoryImport, "history", bounds.MAX_HISTORY_BYTES)

    @workflow.query
    def observations(self) -> list[ObservationRecord]:
        """Every observation with its computed grades, as recorded (vital signs history)."""
        return sorted(self._journey.state.observations, key=lambda r: r.observed_at)

    @workflow.query
    def status(self) -> JourneyStatus:
        """The journey at a glance: phase, open deadlines, alerts, refused signals."""
        status = self._journey.status()
        if self._backlog:
            status.signals_waiting = len(self._backlog)
        return status

    @workflow.query
    def projected(self, q: ProjectionQuery) -> list[ProjectedStep]:
        """Every step still ahead, with the date it is expected and a range
        (`models.pathway.projection`): recomputed from the state at each ask."""
        return project(self._journey, q.now, q.site)

    @workflow.query
    def timeline(self) -> list[MilestoneEvent]:
        """Every recorded milestone (and reschedule / withdrawal), across all runs."""
        return list(self._journey.state.timeline)
