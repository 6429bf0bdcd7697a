"""Reading journeys back from Temporal: lists from visibility, a case's audit from its history.

`cellpath list` and `cellpath audit` use these, so an auditor never needs the Temporal UI:
lists come from the search attributes the workflow keeps current, and the audit trail is
decoded from the case's history across every continued run (the activity inputs that carried
audit entries and notifications to the case store, plus refusals Temporal itself recorded).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from cellpath.services.authority import authorise
from cellpath.services.base import Refusal, Session, Unreachable, refusing
from cellpath.store import STAFF_AUDIT
from cellpath.store.alerts import AlertCounts, OpenAlerts
from models.enums import AuditAction, Phase, refused_action
from models.errors import RefusalCode
from models.journey import case_of
from models.journey import workflow_id as journey_id
from models.messages import AuditBatch, JourneyWrite, Notification, NotificationBatch
from models.roles import Action
from workflows import visibility as va


class JourneyRow(BaseModel):
    """One journey as visibility lists it."""

    case_id: str
    status: str
    phase: str | None = None
    outcome: str | None = None
    therapy: str | None = None
    cell_source: str | None = None
    program: str | None = None
    site: str | None = None
    coordinator: str | None = None
    next_deadline_at: datetime | None = None
    escalation_level: int = 0
    overdue: bool = False
    # From the case store's projection (visibility has no attribute for alerts).
    alerts: AlertCounts = Field(default_factory=AlertCounts)
    # Who the patient is, for their care team only (`caseload.name_rows`; never from Temporal).
    name: str | None = None
    country: str | None = None


class AuditLine(BaseModel):
    """One line of a case's audit trail."""

    at: datetime
    run: int
    what: str
    actor: str = ""
    detail: str = ""
    reason: str = ""

    @classmethod
    def of_entry(cls, entry: Any, run: int, suffix: str = "") -> AuditLine:
        """A line for an audit entry (an `AuditEntry` from history or a case-store row)."""
        return cls(
            at=entry.recorded_at,
            run=run,
            what=entry.action + suffix,
            actor=entry.actor,
            detail=", ".join(f"{k}={v}" for k, v in entry.detail.items()),
            reason=entry.reason,
        )


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def list_query(
    *,
    phase: str | None = None,
    overdue: bool = False,
    site: str | None = None,
    coordinator: str | None = None,
    escalated: bool = False,
    include_closed: bool = False,
    program: str | None = None,
    sites: list[str] | None = None,
) -> str:
    """A visibility query for journeys (Temporal's SQL-like list filter)."""
    terms = ["WorkflowType = 'PatientJourney'"]
    if not include_closed:
        terms.append("ExecutionStatus = 'Running'")
    else:
        # A run that continued as new is not a journey of its own: its successor is.
        terms.append("ExecutionStatus != 'ContinuedAsNew'")
    if phase:
        terms.append(f"{va.JOURNEY_PHASE.name} = {_quote(phase)}")
    if overdue:
        terms.append(f"{va.OVERDUE.name} = true")
    if site:
        terms.append(f"{va.SITE.name} = {_quote(site)}")
    if coordinator:
        terms.append(f"{va.COORDINATOR.name} = {_quote(coordinator)}")
    if escalated:
        terms.append(f"{va.ESCALATION_LEVEL.name} >= 1")
    if program:
        terms.append(f"{va.PROGRAM.name} = {_quote(program)}")
    if sites:
        terms.append(f"{va.SITE.name} IN ({', '.join(_quote(s) for s in sites)})")
    return " AND ".join(terms)


def row_of(execution: WorkflowExecution) -> JourneyRow:
    """A journey row from a listed execution's typed search attributes."""
    sa = execution.typed_search_attributes
    case_id = sa.get(va.CASE_ID) or case_of(execution.id)
    return JourneyRow(
        case_id=case_id,
        status=execution.status.name.lower() if execution.status else "unknown",
        phase=sa.get(va.JOURNEY_PHASE),
        outcome=sa.get(va.JOURNEY_OUTCOME),
        therapy=sa.get(va.THERAPY),
        cell_source=sa.get(va.CELL_SOURCE),
        program=sa.get(va.PROGRAM),
        site=sa.get(va.SITE),
        coordinator=sa.get(va.COORDINATOR),
        next_deadline_at=sa.get(va.NEXT_DEADLINE_AT),
        escalation_level=sa.get(va.ESCALATION_LEVEL) or 0,
        overdue=bool(sa.get(va.OVERDUE)),
    )


async def list_journeys(client: Client, query: str, limit: int = 500) -> list[JourneyRow]:
    """Journeys matching `query`, one row each (its latest run), soonest next deadline first."""
    latest: dict[str, tuple[datetime, JourneyRow]] = {}
    async for e in client.list_workflows(query, limit=limit):
        row, started = row_of(e), e.start_time
        # A reset or a restarted journey leaves more than one closed run under one id.
        if row.case_id not in latest or started > latest[row.case_id][0]:
            latest[row.case_id] = (started, row)
    rows = [row for _, row in latest.values()]
    far = datetime.max.replace(tzinfo=None)
    return sorted(
        rows,
        key=lambda r: r.next_deadline_at.replace(tzinfo=None) if r.next_deadline_at else far,
    )


async def audit_trail(client: Client, case_id: str) -> list[AuditLine]:
    """Everything Temporal recorded for a case, across its continued runs, oldest first."""
    workflow_id = journey_id(case_id)
    runs = [e async for e in client.list_workflows(f"WorkflowId = {_quote(workflow_id)}")]
    runs.sort(key=lambda e: e.start_time)
    lines: list[AuditLine] = []
    for n, run in enumerate(runs, start=1):
        handle = client.get_workflow_handle(workflow_id, run_id=run.run_id)
        history = await handle.fetch_history()
        updates: dict[str, str] = {}
        for event in history.events:
            lines += await _lines_of(client, event, n, updates)
    return lines


async def _decode(client: Client, payloads: Any, hint: type) -> Any:
    values = await client.data_converter.decode(list(payloads), [hint])
    return values[0]


def _notification_line(n: Notification, run: int) -> AuditLine:
    """A line for a reminder, escalation or alert the journey queued."""
    level = f" level {n.level}" if n.kind == "escalation" else ""
    return AuditLine(
        at=n.scheduled_for, run=run, what=f"{n.kind}{level} → {n.recipient}", detail=n.text
    )


async def _lines_of(
    client: Client, event: HistoryEvent, run: int, updates: dict[str, str]
) -> list[AuditLine]:
    at = event.event_time.ToDatetime(tzinfo=UTC)
    if event.HasField("workflow_execution_started_event_attributes"):
        attrs = event.workflow_execution_started_event_attributes
        what = "journey started" if run == 1 else "run started (continued as new)"
        # Who asked is the `journey_started` entry's (the coordinator); this is the process
        # that sent the request to Temporal (`8056@host`), not a person.
        where = f"requested by the process {attrs.identity}" if attrs.identity else ""
        return [AuditLine(at=at, run=run, what=what, actor="system", detail=where)]
    if event.HasField("activity_task_scheduled_event_attributes"):
        attrs = event.activity_task_scheduled_event_attributes
        kind = attrs.activity_type.name
        if kind == "write_journey":
            write: JourneyWrite = await _decode(client, attrs.input.payloads, JourneyWrite)
            return [AuditLine.of_entry(e, run) for e in write.audit] + [
                _notification_line(n, run) for n in write.notifications
            ]
        # Runs recorded before `write_journey` wrote audit and outbox in activities of their own.
        if kind == "record_audit":
            batch: AuditBatch = await _decode(client, attrs.input.payloads, AuditBatch)
            return [AuditLine.of_entry(e, run) for e in batch.entries]
        if kind == "send_notifications":
            sent: NotificationBatch = await _decode(client, attrs.input.payloads, NotificationBatch)
            return [_notification_line(n, run) for n in sent.notifications]
        return []
    if event.HasField("workflow_execution_update_accepted_event_attributes"):
        attrs = event.workflow_execution_update_accepted_event_attributes
        updates[attrs.accepted_request.meta.update_id] = attrs.accepted_request.input.name
        return []
    if event.HasField("workflow_execution_update_completed_event_attributes"):
        attrs = event.workflow_execution_update_completed_event_attributes
        if attrs.outcome.HasField("failure"):
            name = updates.get(attrs.meta.update_id, "update")
            return [
                AuditLine(
                    at=at, run=run, what=f"refused {name}", reason=attrs.outcome.failure.message
                )
            ]
        return []
    if event.HasField("workflow_execution_continued_as_new_event_attributes"):
        return [AuditLine(at=at, run=run, what="continued as new")]
    if event.HasField("workflow_execution_completed_event_attributes"):
        return [AuditLine(at=at, run=run, what="journey closed")]
    return []


# Audit actions written by the CLI, the console or the store itself, not by a journey (whose own
# entries are read from its history): erasure, writes set aside, resets by `cellpath doctor`.
STORE_ONLY_ACTIONS = frozenset(
    {
        AuditAction.PATIENT_ERASED,
        AuditAction.WRITE_SET_ASIDE,
        AuditAction.JOURNEY_RESET,
        AuditAction.CARE_TEAM_CHANGED,
        AuditAction.BREAK_GLASS,
    }
)


async def journeys(
    session: Session,
    *,
    phase: str | None = None,
    overdue: bool = False,
    site: str | None = None,
    coordinator: str | None = None,
    escalated: bool = False,
    include_closed: bool = False,
) -> list[JourneyRow]:
    """Journeys from Temporal visibility with their open alerts from the case store: those
    with a critical or urgent alert waiting first (most critical first), then soonest next
    deadline first (any role)."""
    authorise(session, Action.READ, case="list")
    if phase is not None and phase not in set(Phase):
        raise refusing(
            "unknown phase {phase}; expected one of: {phases}",
            RefusalCode.UNKNOWN_NAME,
            phase=repr(phase[:40]),
            phases=", ".join(Phase),
        )
    query = list_query(
        phase=phase,
        overdue=overdue,
        site=site,
        coordinator=coordinator,
        escalated=escalated,
        include_closed=include_closed,
    )
    client = await session.temporal()
    try:
        rows = await list_journeys(client, query)
    except RPCError as e:
        raise Unreachable(f"visibility query failed ({query}): {e.message}") from None
    alerts = OpenAlerts(session.case_store()).open_alerts([r.case_id for r in rows])
    for r in rows:
        r.alerts = alerts.get(r.case_id, AlertCounts())
    # Stable: within each group, the soonest deadline first as listed.
    return sorted(rows, key=lambda r: (-r.alerts.critical, -r.alerts.urgent))


async def audit(session: Session, case: str) -> list[AuditLine]:
    """A case's whole trail, oldest first: its history across runs, plus what only the case
    store holds (refusals, erasure, writes set aside, resets). `staff`: role changes."""
    authorise(session, Action.READ, case=case)
    store = session.case_store()
    if case == STAFF_AUDIT:
        return [AuditLine.of_entry(e, 0, " (case store)") for e in store.audit_trail(case)]
    client = await session.temporal()
    try:
        lines = await audit_trail(client, case)
    except RPCError as e:
        raise Unreachable(str(e)) from None
    if not lines:
        raise Unreachable(f"no journey for case {case}")
    try:
        rows = store.audit_trail(case)
    except Exception as e:
        session.warn(f"case store unreachable, the entries it holds are not shown: {e}")
        rows = []
    lines += [
        AuditLine.of_entry(r, 0, " (case store)")
        for r in rows
        if r.action.startswith(refused_action("")) or r.action in STORE_ONLY_ACTIONS
    ]
    return sorted(lines, key=lambda line: line.at)


__all__ = ["AuditLine", "JourneyRow", "Refusal", "audit", "journeys", "list_query"]
