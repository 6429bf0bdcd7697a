"""Floods on live journeys, and the figures that say whether a journey held.

Used by `make chaos` (its flood phase), by `tests/e2e/test_floods.py`, and by hand:

    .venv/bin/python -m tests.chaos.floods CASE_ID [--signals 5000] [--updates 2000] [--clients 8]

against a running stack (`make run`; TEMPORAL_ADDRESS and the codec settings as for the CLI).
A signal flood sends refused `milestone` signals (unknown kind, 1,900-character notes); an
update flood sends valid `record_received` milestones (2,000-character notes, each with its own
id) through the services, which send again what a journey refuses while it continues as new.
Each prints, per run: events and bytes, how many runs continued as new, the longest workflow
task, failed or timed-out tasks, and how long `status` took during and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus

from cellpath.services import journeys
from cellpath.services.base import Session
from models.messages import MilestoneInput
from workflows import PatientJourney

UNHANDLED_COMMAND = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
FAILED_TASK = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


@dataclass
class Figures:
    """What a flood did to one journey."""

    runs: list[tuple[int, int]] = field(default_factory=list)  # (events, bytes), newest first
    continued_as_new: int = 0
    longest_task_s: float = 0.0
    task_problems: list[str] = field(default_factory=list)
    status_during_s: list[float] = field(default_factory=list)
    status_after_s: float | None = None
    refused_handovers: int = 0

    def line(self, what: str) -> str:
        """One line for a report."""
        during = max(self.status_during_s, default=0.0)
        after = f"{self.status_after_s:.2f}" if self.status_after_s is not None else "none"
        runs = ", ".join(f"{e} events / {b / 1e6:.1f} MB" for e, b in self.runs)
        return (
            f"{what}: runs [{runs}]; continued as new {self.continued_as_new}; longest task "
            f"{self.longest_task_s:.2f} s; failed tasks {len(self.task_problems)} (and "
            f"{self.refused_handovers} continue-as-new refused by the server while signals "
            f"arrived); status max "
            f"{during:.2f} s during, {after} s after"
        )


async def measure(
    client: Client,
    workflow_id: str,
    figures: Figures | None = None,
    since: datetime | None = None,
) -> Figures:
    """Fill in the runs, continues-as-new, longest task and task problems of a journey (of
    tasks after `since`, when given: a chaos run's kills before it are not the flood's).

    A task the server failed as `UnhandledCommand` is not a problem of the journey's: it is
    Temporal refusing a continue-as-new because signals arrived meanwhile (it cannot be
    avoided while a flood lasts); they are counted in `refused_handovers`.
    """
    figures = figures or Figures()
    figures.runs, figures.task_problems, figures.continued_as_new = [], [], 0
    figures.refused_handovers = 0
    async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=wf.run_id)
        info = (await handle.describe()).raw_description.workflow_execution_info
        figures.runs.append((info.history_length, info.history_size_bytes))
        if wf.status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            figures.continued_as_new += 1
        started: Any = None
        for e in (await handle.fetch_history()).events:
            if since is not None and e.event_time.ToDatetime(tzinfo=UTC) < since:
                continue
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = e.event_time.ToDatetime()
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and started:
                took = (e.event_time.ToDatetime() - started).total_seconds()
                figures.longest_task_s = max(figures.longest_task_s, took)
            elif e.event_type in FAILED_TASK:
                attrs = e.workflow_task_failed_event_attributes
                if (
                    attrs.cause
                    == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
                ):
                    figures.refused_handovers += 1
                    continue
                message = attrs.failure.message
                figures.task_problems.append(f"{EventType.Name(e.event_type)}: {message[:200]}")
    return figures


async def timed_status(client: Client, workflow_id: str, limit_s: float = 5.0) -> float:
    """Seconds `status` took; raises TimeoutError past `limit_s`."""
    t = time.monotonic()
    handle = client.get_workflow_handle_for(PatientJourney.run, workflow_id)
    await asyncio.wait_for(handle.query(PatientJourney.status), limit_s)
    return time.monotonic() - t


@contextlib.asynccontextmanager
async def probing(client: Client, workflow_id: str, figures: Figures) -> AsyncIterator[None]:
    """Ask `status` every half second while the block runs (a slow answer is recorded)."""

    async def probe() -> None:
        while True:
            try:
                figures.status_during_s.append(await timed_status(client, workflow_id, 30))
            except TimeoutError:
                figures.status_during_s.append(30.0)
            await asyncio.sleep(0.5)

    task = asyncio.create_task(probe())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def in_parallel(n: int, clients: int, send: Callable[[int], Awaitable[None]]) -> float:
    """Send `n` messages from `clients` senders at once; returns the seconds it took."""
    pending = list(range(n))

    async def sender() -> None:
        while pending:
            await send(pending.pop())

    t = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(clients)))
    return time.monotonic() - t


async def signal_flood(client: Client, workflow_id: str, n: int, clients: int = 8) -> float:
    """`n` refused `milestone` signals (unknown kind, 1,900-character notes)."""
    handle = client.get_workflow_handle(workflow_id)
    body = {"kind": "bogus_kind", "actor": "coord-a", "note": "s" * 1900}

    async def send(i: int) -> None:
        await handle.signal("milestone", body | {"data": {"i": i}})

    return await in_parallel(n, clients, send)


async def update_flood(
    session: Session, case: str, n: int, clients: int = 8, note_chars: int = 2000
) -> float:
    """`n` valid `record_received` milestones through the services (each with its own id)."""
    run = uuid.uuid4().hex[:6]

    async def send(i: int) -> None:
        m = MilestoneInput(
            kind="record_received",
            actor=session.actor,
            note="n" * note_chars,
            milestone_id=f"flood-{run}-{i}",
            data={"record_type": "labs"},
        )
        ack = await journeys.record_milestone(session, case, m)
        assert ack.accepted and not ack.duplicate, ack

    return await in_parallel(n, clients, send)


async def flood_phase(
    client: Client, store: Any, queue: str, live: list[str], signals: int, updates: int
) -> tuple[list[str], list[str]]:
    """`make chaos`'s flood phase: `signals` refused signals on a live journey and `updates`
    milestones from 8 clients on a fresh one, at once; then every journey (`live` and the
    flooded) must answer `status` within 5 s, and no workflow task of a flooded journey may
    have failed or timed out. Returns (problems, report lines)."""
    from models.examples import journey_input
    from models.roles import Role

    actor = "chaos-flood"
    store.set_role(actor, Role.COORDINATOR, by="chaos")
    case = f"FLOOD-{uuid.uuid4().hex[:6]}"
    inp = journey_input(case).model_copy(update={"coordinator": actor})
    await journeys.start_journey(client, inp, queue)
    session = Session(actor=actor, client=client, store=store)
    target = ""
    for case_id in live:  # a journey still running (some closed at the end of their plan)
        d = await client.get_workflow_handle(f"journey-{case_id}").describe()
        if d.status is WorkflowExecutionStatus.RUNNING:
            target = f"journey-{case_id}"
            break
    if not target:
        return ["no live journey left to flood with signals"], []
    figures = {"signals": Figures(), "updates": Figures()}
    began = datetime.now(UTC)
    async with probing(client, target, figures["signals"]):
        async with probing(client, f"journey-{case}", figures["updates"]):
            await asyncio.gather(
                signal_flood(client, target, signals), update_flood(session, case, updates)
            )
    problems: list[str] = []
    lines: list[str] = []
    for kind, workflow_id in (("signals", target), ("updates", f"journey-{case}")):
        f = figures[kind]
        await measure(client, workflow_id, f, since=began)
        try:
            f.status_after_s = await timed_status(client, workflow_id)
        except TimeoutError:
            problems.append(f"{workflow_id}: status did not answer within 5 s after the flood")
        problems += [f"{workflow_id}: {p}" for p in f.task_problems]
        lines.append(f.line(f"flood of {signals if kind == 'signals' else updates} {kind}"))
    for case_id in live:
        try:
            await timed_status(client, f"journey-{case_id}")
        except TimeoutError:
            problems.append(f"journey-{case_id}: status did not answer within 5 s")
    return problems, lines


async def _main(args: argparse.Namespace) -> None:
    session = Session(actor=args.actor)
    client = await session.temporal()
    workflow_id = f"journey-{args.case}"
    for kind, n in (("signals", args.signals), ("updates", args.updates)):
        if not n:
            continue
        figures = Figures()
        async with probing(client, workflow_id, figures):
            if kind == "signals":
                took = await signal_flood(client, workflow_id, n, args.clients)
            else:
                took = await update_flood(session, args.case, n, args.clients)
            await asyncio.sleep(15)
        figures.status_after_s = await timed_status(client, workflow_id)
        await measure(client, workflow_id, figures)
        print(f"sent {n} {kind} in {took:.0f} s")
        print(figures.line(f"{kind} flood on {args.case}"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case")
    parser.add_argument("--signals", type=int, default=5000)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--actor", default="coord-a")
    asyncio.run(_main(parser.parse_args()))
