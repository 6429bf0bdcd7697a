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
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from cellpath.services import journeys
from cellpath.services.base import Session
from models.messages import MilestoneInput
from workflows import PatientJourney

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

    def line(self, what: str) -> str:
        """One line for a report."""
        during = max(self.status_during_s, default=0.0)
        after = f"{self.status_after_s:.2f}" if self.status_after_s is not None else "none"
        runs = ", ".join(f"{e} events / {b / 1e6:.1f} MB" for e, b in self.runs)
        return (
            f"{what}: runs [{runs}]; continued as new {self.continued_as_new}; longest task "
            f"{self.longest_task_s:.2f} s; failed tasks {len(self.task_problems)}; status max "
            f"{during:.2f} s during, {after} s after"
        )


async def measure(client: Client, workflow_id: str, figures: Figures | None = None) -> Figures:
    """Fill in the runs, continues-as-new, longest task and task problems of a journey."""
    figures = figures or Figures()
    figures.runs, figures.task_problems, figures.continued_as_new = [], [], 0
    async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(workflow_id, run_id=wf.run_id)
        info = (await handle.describe()).raw_description.workflow_execution_info
        figures.runs.append((info.history_length, info.history_size_bytes))
        if wf.status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            figures.continued_as_new += 1
        started: Any = None
        for e in (await handle.fetch_history()).events:
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = e.event_time.ToDatetime()
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and started:
                took = (e.event_time.ToDatetime() - started).total_seconds()
                figures.longest_task_s = max(figures.longest_task_s, took)
            elif e.event_type in FAILED_TASK:
                message = e.workflow_task_failed_event_attributes.failure.message
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
