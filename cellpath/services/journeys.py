"""The journey services: start one, record what happened in it, read it.

Each service authorises the session's actor (`authority.authorise`), calls the journey's
validated update or query, and audits a refusal. The CLI and the console call these, never
the workflow directly; they differ only in how they show the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session, Unreachable, refusing
from cellpath.store.durations import site_durations
from models.deadlines import DeadlineView
from models.enums import CellSource, MilestoneKind, Severity
from models.errors import RefusalCode
from models.journey import JourneyInput, workflow_id
from models.messages import (
    AcknowledgeAlertInput,
    Alert,
    JourneyStatus,
    MilestoneAck,
    MilestoneEvent,
    MilestoneInput,
    ObservationAck,
    ObservationInput,
    RescheduleInput,
    WithdrawInput,
)
from models.pathway.data import normalised
from models.pathway.projection import ProjectedStep, ProjectionQuery
from models.roles import Action
from models.state import ObservationRecord
from workflows import PatientJourney
from workflows.visibility import initial_search_attributes, start_summary

T = TypeVar("T")
# How long an update refused because its journey is continuing as new is sent again (a fresh
# run takes well under a second; a flood can make it take longer).
CONTINUING_RETRY_SECONDS = 60.0
Handle = WorkflowHandle[PatientJourney, JourneyStatus]


async def start_journey(
    client: Client, inp: JourneyInput, task_queue: str, *, task_timeout: timedelta | None = None
) -> Handle:
    """Start a journey: its workflow id, PHI-free summary and details, first search attributes.

    The one place a journey starts (intake, the demo, tests, benchmarks). `task_timeout`
    (Temporal's default: 10 s) is how long a task handed to a worker that died waits before
    another worker gets it; crash tests shorten it.
    """
    summary, details = start_summary(inp)
    return await client.start_workflow(
        PatientJourney.run,
        inp,
        id=workflow_id(inp.case_id),
        task_queue=task_queue,
        static_summary=summary,
        static_details=details,
        search_attributes=initial_search_attributes(inp),
        task_timeout=task_timeout,
    )


def journey(client: Client, case_id: str) -> Handle:
    """A typed handle on a case's journey."""
    return client.get_workflow_handle_for(PatientJourney.run, workflow_id(case_id))


async def _update(session: Session, case: str, name: str, request: Any, result: type[T]) -> T:
    """Send a validated update; the journey's refusal is audited and raised as `Refusal`.

    By name, with the result type: the workflow takes raw payloads (it bounds them itself),
    so the typed method reference does not describe what callers send.
    """
    client = await session.temporal()
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + CONTINUING_RETRY_SECONDS
    pause = 0.05
    while True:
        try:
            value: T = await journey(client, case).execute_update(name, request, result_type=result)
            return value
        except WorkflowUpdateFailedError as e:
            cause = e.cause
            message = getattr(cause, "message", None) or str(cause)
            details = getattr(cause, "details", None) or [{}]
            code = details[0].get("code", "pathway_rule") if isinstance(details[0], dict) else ""
            if code == RefusalCode.CONTINUING and loop.time() < give_up_at:
                # The run is handing over to a fresh one; nothing was changed. The same
                # message goes to the new run in a moment (an id makes it idempotent anyway).
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            record_refusal(session, case, name, request, message)
            words = details[0] if isinstance(details[0], dict) else {}
            template, params = words.get("template"), words.get("params")
            nested = words.get("nested")
            raise Refusal(
                message,
                _code(code),
                template=template if isinstance(template, str) else None,
                params=params if isinstance(params, dict) else None,
                nested=nested if isinstance(nested, dict) else None,
            ) from None
        except RPCError as e:
            if e.status is not RPCStatusCode.NOT_FOUND:
                raise Unreachable(str(e)) from None
            break
    # The run is gone (NOT_FOUND): the journey closed, or there never was one.
    closed = await _closed(client, case)
    if closed is None:
        raise Unreachable(f"no journey for case {case}")
    refusal = refusing(
        "the journey of case {case} is closed ({outcome}); nothing more is expected",
        RefusalCode.CLOSED,
        case=case,
        outcome=closed,
    )
    record_refusal(session, case, name, request, str(refusal))
    raise refusal


async def _closed(client: Client, case: str) -> str | None:
    """How a case's journey ended (its outcome), or None when there is no such journey."""
    try:
        result = await journey(client, case).query(PatientJourney.status)
    except (RPCError, WorkflowQueryFailedError):
        return None
    return str(result.outcome or result.phase)


def _code(value: str) -> RefusalCode:
    try:
        return RefusalCode(value)
    except ValueError:
        return RefusalCode.PATHWAY_RULE


async def _query(session: Session, case: str, query: Callable[[Handle], Awaitable[T]]) -> T:
    client = await session.temporal()
    try:
        return await query(journey(client, case))
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            raise Unreachable(f"no journey for case {case}") from None
        raise Unreachable(str(e)) from None
    except WorkflowQueryFailedError as e:
        raise Unreachable(f"the journey of case {case} could not answer: {e}") from None


# Recorded only by the service that did the work first: a booking the case store granted.
BY_SERVICE = {
    MilestoneKind.SLOT_BOOKED.value: "cellpath bookings add|chain|move",
    MilestoneKind.SLOT_RELEASED.value: "cellpath bookings release",
    # Who may reassign is the care team's rule, not the milestone's (`access.reassign`).
    MilestoneKind.COORDINATOR_CHANGED.value: "cellpath reassign",
}


async def record_milestone(
    session: Session, case: str, m: MilestoneInput, *, by_service: bool = False
) -> MilestoneAck:
    """Record a milestone (coordinators and physicians; clinical decisions physicians only,
    a PI's decision received in writing by anyone of them as a transcription)."""
    if m.kind in BY_SERVICE and not by_service:
        refusal = refusing(
            "{kind} is recorded by the service that checks it first (a booking, a "
            "coordinator); expected {service}",
            RefusalCode.PATHWAY_RULE,
            kind=m.kind,
            service=BY_SERVICE[m.kind],
        )
        record_refusal(session, case, "milestone", m, str(refusal))
        raise refusal
    m = m.model_copy(update={"data": normalised(m.kind, m.data)})
    transcribed = bool(m.data.get("transcribed_from_sha256"))
    authorise(
        session,
        Action.MILESTONE,
        case=case,
        request=m,
        milestone=m.kind,
        actor=m.actor,
        transcribed=transcribed,
    )
    return await _update(session, case, "record_milestone", m, MilestoneAck)


async def record_by_service(session: Session, case: str, m: MilestoneInput) -> MilestoneAck:
    """Record a milestone a service has authorised itself (`access.reassign`: the case's
    coordinator or an administrator, who records no milestones otherwise)."""
    m = m.model_copy(update={"data": normalised(m.kind, m.data)})
    return await _update(session, case, "record_milestone", m, MilestoneAck)


async def observe(session: Session, case: str, o: ObservationInput) -> ObservationAck:
    """Record a monitoring observation (site staff and physicians); grades are computed."""
    authorise(session, Action.OBSERVE, case=case, request=o, actor=o.actor)
    return await _update(session, case, "record_observation", o, ObservationAck)


async def acknowledge(session: Session, case: str, a: AcknowledgeAlertInput) -> Alert:
    """Acknowledge an alert: a critical one only by a physician.

    The alert may be named by a unique prefix of its id (the UI's details show 8 characters).
    """
    current = await status(session, case)
    alert = _find_alert(current, a.alert_id)
    if alert is not None:
        a = a.model_copy(update={"alert_id": alert.id})
    critical = alert is not None and alert.severity is Severity.CRITICAL
    authorise(
        session, Action.ACKNOWLEDGE, case=case, request=a, critical_alert=critical, actor=a.actor
    )
    return await _update(session, case, "acknowledge_alert", a, Alert)


def _find_alert(s: JourneyStatus, alert_id: str) -> Alert | None:
    exact = [a for a in s.alerts if a.id == alert_id]
    if exact:
        return exact[0]
    matches = [a for a in s.alerts if alert_id and a.id.startswith(alert_id)]
    return matches[0] if len(matches) == 1 else None


async def reschedule(session: Session, case: str, r: RescheduleInput) -> DeadlineView:
    """Move an open deadline (coordinators and physicians)."""
    authorise(session, Action.RESCHEDULE, case=case, request=r, actor=r.actor)
    return await _update(session, case, "reschedule", r, DeadlineView)


async def withdraw(session: Session, case: str, w: WithdrawInput) -> MilestoneAck:
    """Close a journey as withdrawn (coordinators and physicians)."""
    authorise(session, Action.WITHDRAW, case=case, request=w, actor=w.actor)
    return await _update(session, case, "withdraw", w, MilestoneAck)


async def status(session: Session, case: str) -> JourneyStatus:
    """A journey at a glance (any role)."""
    authorise(session, Action.READ, case=case)
    return await _query(session, case, lambda h: h.query(PatientJourney.status))


async def timeline(session: Session, case: str) -> list[MilestoneEvent]:
    """Who recorded what in a journey, when it happened, when it was recorded (any role)."""
    authorise(session, Action.READ, case=case)
    return await _query(session, case, lambda h: h.query(PatientJourney.timeline))


async def observations(session: Session, case: str) -> list[ObservationRecord]:
    """Every bedside observation of a journey with its computed grades, oldest first (any
    role): the vital signs history."""
    authorise(session, Action.READ, case=case)
    return await _query(session, case, lambda h: h.query(PatientJourney.observations))


# --- for the family's page (cellpath.services.family), which has checked that the family's
# session is this case's: the family is not staff, so the staff permission check does not
# apply; what they may do is fixed there (read their own journey, report a symptom).


async def projected(session: Session, case: str, *, family: bool = False) -> list[ProjectedStep]:
    """Every step still ahead with its expected date and range (any role; `family`: for the
    family service, which checked its own session): from the protocol's durations and the
    journey's open deadlines, and the site's own durations once it has enough closed
    journeys (`cellpath.store.durations`)."""
    if not family:
        authorise(session, Action.READ, case=case)
    store = session.case_store()
    row = store.journey_row(case)
    site = (
        site_durations(store, row.site, CellSource(row.cell_source))
        if row is not None and row.site
        else None
    )
    q = ProjectionQuery(now=datetime.now(UTC), site=site or None)
    return await _query(session, case, lambda h: h.query(PatientJourney.projected, q))


async def status_for_family(session: Session, case: str) -> JourneyStatus:
    """The journey's status, for the family service only (no staff check: see above)."""
    return await _query(session, case, lambda h: h.query(PatientJourney.status))


async def symptom_from_family(session: Session, case: str, symptom: str) -> MilestoneAck:
    """Record `symptom_reported` for the family service only (no staff check: see above)."""
    m = MilestoneInput(kind="symptom_reported", actor=session.actor, data={"symptom": symptom})
    return await _update(session, case, "record_milestone", m, MilestoneAck)
