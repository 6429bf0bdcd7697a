"""`cellpath doctor`: journeys that cannot move on, why, and how to recover them.

A journey is *stuck* when its workflow task keeps failing: no milestone, query or deadline gets
through until the cause is removed. The usual causes, and what doctor says to do:

- **Nondeterminism** (`[TMPRL1100]`): the journey's history was written by code that issued
  other commands than the running code does when it replays it (a change deployed without
  `workflow.patched`, or the crash-order bug fixed by rules version 3). Code cannot fix such a
  history; a *reset* can: Temporal keeps the history up to the last workflow task that still
  replays, discards the rest and re-runs it with the current code, re-applying every milestone
  and signal received after that point. Doctor replays the history here to find that task and
  proposes (or, with `--reset`, performs) exactly that reset. The reset is audited.
- **Anything else** (an exception in workflow code): the worker's log has the traceback;
  deploying a fix is enough, the failing task is retried by itself.

Doctor also lists the case-store writes that were set aside (dead letters).

Finding stuck journeys uses the server's `TemporalReportedProblems` search attribute where it
exists (Temporal 1.28+), and `--deep` describes every running journey (any server).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sys
import tempfile
import uuid
from pathlib import Path

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.common import MetricMeter
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError
from temporalio.worker import Replayer

from cellpath.services.authority import authorise, record_event, record_refusal
from cellpath.services.base import Refusal, Session, Unreachable
from cellpath.store.tables import DeadLetter
from models.enums import AuditAction
from models.errors import RefusalCode
from models.journey import case_of, workflow_id
from models.roles import Action
from workflows import PatientJourney

JOURNEYS = "WorkflowType = 'PatientJourney' AND ExecutionStatus = 'Running'"
REPORTED = f"{JOURNEYS} AND TemporalReportedProblems IS NOT NULL"
TASK_PROBLEMS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
# How long doctor lets one history replay (in a process of its own) before it says so.
REPLAY_SECONDS = 60.0
_EVENT = re.compile(r"(?:event|HistoryEvent\(id:)\s*(\d+)")
_MESSAGE = re.compile(r'message: "([^"]*)"')


class Diagnosis(BaseModel):
    """Why a journey's history does not replay, and where it can be reset to."""

    nondeterminism: bool
    message: str
    failing_event: int | None = None
    reset_to_event: int | None = None


class StuckJourney(BaseModel):
    """A running journey whose workflow task keeps failing."""

    case_id: str
    workflow_id: str
    run_id: str
    attempts: int
    cause: str
    message: str
    diagnosis: Diagnosis | None = None

    @property
    def advice(self) -> str:
        """What an operator does about it, in one sentence."""
        d = self.diagnosis
        if d is not None and d.reset_to_event is not None:
            return (
                f"reset to event {d.reset_to_event} (the last workflow task that replays): "
                f"cellpath doctor --reset {self.case_id} --reason '…', or temporal workflow "
                f"reset -w {self.workflow_id} -r {self.run_id} -e {d.reset_to_event} --reason '…'"
            )
        if self.cause == "TIMED_OUT" or "TMPRL1101" in self.message:
            return (
                "its workflow task takes longer than allowed (a flood of messages, a huge "
                "history, an overloaded worker): see `cellpath status` (rejected_total, "
                "signals_waiting), give the worker room or deploy the flood bounds; the task "
                "retries by itself"
            )
        return "the workflow code raises: read the worker's log, deploy a fix; the task retries"


async def diagnose(
    history: WorkflowHistory, converter: DataConverter | None = None
) -> Diagnosis | None:
    """Replay `history` against this code; None when it replays.

    For a nondeterminism error, the failing event is the first one the code no longer
    produces, and the reset point is the last completed workflow task before it.
    """
    replayer = Replayer(
        workflows=[PatientJourney],
        data_converter=converter or pydantic_data_converter,
        runtime=_quiet_runtime(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return None
    message = str(result.replay_failure)
    nondeterminism = "Nondeterminism" in message or "TMPRL1100" in message
    found = _EVENT.search(message)
    failing = int(found.group(1)) if found else None
    reset_to = reset_point(history, failing) if nondeterminism and failing is not None else None
    inner = _MESSAGE.search(message)
    short = (inner.group(1) if inner else message)[:300]
    return Diagnosis(
        nondeterminism=nondeterminism,
        message=short,
        failing_event=failing,
        reset_to_event=reset_to,
    )


@functools.cache
def _quiet_runtime() -> Runtime:
    """A runtime that does not print the expected replay failure (the CLI prints JSON)."""
    return Runtime(telemetry=TelemetryConfig(logging=None))


def reset_point(history: WorkflowHistory, failing_event: int) -> int | None:
    """Where to reset a history whose event `failing_event` no longer replays.

    The workflow task that produced that event is re-run; so are the command-less tasks right
    before it. A worker that picks a journey up cold may deliver such a task's events (an
    activity completion) together with the next task's (an update), and replay does not
    (sdk-rust#1146): resetting to the first of them puts those events in one task for good,
    so the re-run history replays the way it was recorded.
    """
    events = history.events
    completed = [
        n
        for n, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        and e.event_id < failing_event
    ]
    if not completed:
        return None
    commands = {e.event_id: _command_task(e) for e in events if _command_task(e) is not None}
    producing = {task for task in commands.values() if task is not None}
    chosen = completed[-1]
    for n in reversed(completed[:-1]):
        if events[n].event_id in producing:
            break
        chosen = n
    return events[chosen].event_id


def _command_task(event: HistoryEvent) -> int | None:
    """The workflow task (its completed event id) whose command produced `event`, if any."""
    which = event.WhichOneof("attributes")
    if which is None:
        return None
    attrs = getattr(event, which)
    task = getattr(attrs, "workflow_task_completed_event_id", 0)
    return task or None


async def _candidates(client: Client, deep: bool) -> dict[str, str]:
    """Workflow id → run id of running journeys that may be stuck."""
    found: dict[str, str] = {}
    try:
        async for w in client.list_workflows(REPORTED):
            found[w.id] = w.run_id
    except RPCError:
        deep = True  # a server without TemporalReportedProblems: describe every journey
    if deep:
        async for w in client.list_workflows(JOURNEYS):
            found.setdefault(w.id, w.run_id)
    return found


async def stuck_journeys(client: Client, *, deep: bool = False) -> list[StuckJourney]:
    """Running journeys whose last workflow task failed, each with its cause and diagnosis."""
    out: list[StuckJourney] = []
    for workflow, run_id in sorted((await _candidates(client, deep)).items()):
        found = await stuck_journey(client, workflow, run_id)
        if found is not None:
            out.append(found)
    return out


async def stuck_journey(
    client: Client, workflow: str, run_id: str | None = None
) -> StuckJourney | None:
    """The journey if its last workflow task failed (with cause and diagnosis), else None."""
    handle = client.get_workflow_handle(workflow, run_id=run_id)
    description = await handle.describe()
    task = description.raw_description.pending_workflow_task
    history = await handle.fetch_history()
    # A task that fails leaves WorkflowTaskFailed; one that runs past its timeout (a worker
    # that takes too long, or died) leaves only WorkflowTaskTimedOut.
    problems = [e for e in history.events if e.event_type in TASK_PROBLEMS]
    last = history.events[-1] if history.events else None
    failing_now = task.attempt > 1 or (last is not None and last.event_type in TASK_PROBLEMS)
    if not failing_now or not problems:
        return None
    latest = problems[-1]
    if latest.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
        timeouts = sum(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT for e in problems
        )
        cause = "TIMED_OUT"
        message = (
            f"the workflow task timed out ({timeouts} time(s) in this run; the history has "
            f"{len(history.events)} events): no worker finished it in time"
        )
    else:
        attrs = latest.workflow_task_failed_event_attributes
        cause = WorkflowTaskFailedCause.Name(attrs.cause).removeprefix(
            "WORKFLOW_TASK_FAILED_CAUSE_"
        )
        message = attrs.failure.message
        if attrs.failure.HasField("encoded_attributes"):
            try:
                message = str(await client.data_converter.decode_failure(attrs.failure))
            except Exception:  # a key this host lacks: the cause name still says enough
                message = "(encrypted failure message; this host cannot decode it)"
    # Replaying helps only to find where a nondeterministic history can be reset; a task
    # that times out or deadlocks would do the same here, so it is not replayed.
    replay = cause != "TIMED_OUT" and "TMPRL1101" not in message
    return StuckJourney(
        case_id=case_of(workflow),
        workflow_id=workflow,
        run_id=description.run_id,
        attempts=max(task.attempt, 1),
        cause=cause,
        message=message[:500],
        diagnosis=await diagnose_within(history, REPLAY_SECONDS) if replay else None,
    )


async def diagnose_within(history: WorkflowHistory, seconds: float) -> Diagnosis | None:
    """`diagnose`, in a process of its own that is killed after `seconds`.

    A history can take long to replay, or hang it (a deadlocked workflow task cannot be
    interrupted inside a process): doctor answers within a bounded time either way.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(history.to_json())
        f.flush()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cellpath.services.doctor",
            history.workflow_id,
            f.name,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), seconds)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return Diagnosis(
                nondeterminism=False,
                message=f"its history did not replay within {seconds:g} s here "
                f"({len(history.events)} events); not diagnosed",
            )
    text = out.decode().strip()
    if proc.returncode != 0 or not text:
        # Why, in one line (the replay's own error: names and event ids, never a payload).
        lines = err.decode(errors="replace").strip().splitlines()
        why = (
            f" (exit {proc.returncode}: {lines[-1][:200]})"
            if lines
            else f" (exit {proc.returncode})"
        )
        return Diagnosis(
            nondeterminism=False, message="its history could not be replayed here" + why
        )
    return None if text == "null" else Diagnosis.model_validate_json(text)


async def reset_journey(client: Client, stuck: StuckJourney, *, reason: str, actor: str) -> str:
    """Reset a stuck journey to its last workflow task that replays; returns the new run id.

    Milestones, observations and signals received after that point are re-applied by
    Temporal (signals and updates are reapplied by default).

    Raises:
        ValueError: no reset point is known (not a nondeterminism failure).
    """
    d = stuck.diagnosis
    if d is None or d.reset_to_event is None:
        raise ValueError(f"{stuck.case_id}: no reset point (cause {stuck.cause}); {stuck.advice}")
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(
                workflow_id=stuck.workflow_id, run_id=stuck.run_id
            ),
            reason=f"{reason} (by {actor} via cellpath doctor)",
            workflow_task_finish_event_id=d.reset_to_event,
            request_id=str(uuid.uuid4()),
            identity=f"cellpath doctor ({actor})",
        )
    )
    return response.run_id


async def verify_reset(client: Client, workflow_id: str, run_id: str, wait_s: float = 30) -> str:
    """After a reset: wait until the new run's first task is done, then replay its history."""

    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        task = (await handle.describe()).raw_description.pending_workflow_task
        if not task.ByteSize():
            break
        if task.attempt > 1 or asyncio.get_running_loop().time() > deadline:
            return "its workflow task is still failing: run cellpath doctor again"
        await asyncio.sleep(0.5)
    found = await diagnose_within(await handle.fetch_history(), REPLAY_SECONDS)
    if found is None:
        return "it runs again, and its history replays"
    return f"it runs again, but its history does not replay ({found.message}): reset it again"


async def report_stuck(client: Client, meter: MetricMeter, every_s: float = 60.0) -> None:
    """Keep the `cellpath_journeys_stuck` gauge current (the worker runs this).

    Counts running journeys with `TemporalReportedProblems` (Temporal 1.28+); on a server
    without that attribute it logs once and stops (use `cellpath doctor --deep` there).
    """

    import structlog

    gauge = meter.create_gauge(
        "cellpath_journeys_stuck", "running journeys whose workflow task keeps failing"
    )
    while True:
        try:
            gauge.set((await client.count_workflows(REPORTED)).count)
        except RPCError as e:
            structlog.get_logger("cellpath.doctor").warning(
                "stuck_journeys_not_counted", error=e.message
            )
            return
        await asyncio.sleep(every_s)


# --- the services ------------------------------------------------------------------------------


async def examine(
    session: Session, *, deep: bool = False
) -> tuple[list[StuckJourney], list[DeadLetter]]:
    """Stuck journeys and writes set aside (administrators)."""
    authorise(session, Action.OPERATE, case="doctor")
    client = await session.temporal()
    try:
        stuck = await stuck_journeys(client, deep=deep)
    except RPCError as e:
        raise Unreachable(f"cannot list journeys: {e.message}") from None
    return stuck, session.case_store().dead_letters()


async def diagnose_case(session: Session, case: str) -> StuckJourney:
    """The stuck journey of `case` (administrators), or a refusal saying it is not stuck."""
    authorise(session, Action.OPERATE, case=case)
    client = await session.temporal()
    try:
        found = await stuck_journey(client, workflow_id(case))
    except RPCError as e:
        raise Unreachable(f"no running journey for case {case}: {e.message}") from None
    if found is None:
        raise Refusal(f"case {case} is not stuck (its workflow task is not failing)")
    return found


async def reset(session: Session, case: str, reason: str) -> str:
    """Reset a stuck journey to its reset point, audited; says whether the new run replays."""
    found = await diagnose_case(session, case)
    if not reason.strip():
        raise Refusal(
            "a reason is required: why the journey is reset (it is audited)",
            RefusalCode.MISSING_FIELD,
        )
    client = await session.temporal()
    try:
        run_id = await reset_journey(client, found, reason=reason, actor=session.actor)
    except ValueError as e:
        record_refusal(session, case, "reset", None, str(e))
        raise Refusal(str(e)) from None
    record_event(
        session,
        case,
        AuditAction.JOURNEY_RESET,
        {
            "from_run": found.run_id,
            "reset_to_event": found.diagnosis.reset_to_event if found.diagnosis else None,
            "new_run": run_id,
            "cause": found.cause,
        },
        reason=reason,
    )
    verdict = await verify_reset(client, found.workflow_id, run_id)
    return f"reset {case}: new run {run_id}; {verdict}"


def _replay_main() -> None:
    """`python -m cellpath.services.doctor WORKFLOW_ID HISTORY.json`: print the diagnosis
    (JSON, or `null` when the history replays). `diagnose_within` runs this."""
    from cellpath.connection import data_converter

    workflow, path = sys.argv[1], Path(sys.argv[2])
    history = WorkflowHistory.from_json(workflow, path.read_text())

    found = asyncio.run(diagnose(history, data_converter()))
    print("null" if found is None else found.model_dump_json(), flush=True)
    # Ended here, as the CLI ends: the Temporal runtime's threads can abort the interpreter's
    # finalisation ("Fatal Python error: PyGILState_Release", SIGABRT; sdk-python#300), which
    # made a diagnosis already printed look like a replay that failed (exit -6), now and then.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _replay_main()
