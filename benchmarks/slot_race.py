"""1,000 concurrent booking attempts against 100 slots: exactly 100 must succeed.

Two mechanisms side by side, each against the same baseline in the same process:

- **the case store** (the product's: `cellpath.store.capacity.Capacity.hold`, one transaction
  under the resource's row lock, seats as primary keys), on SQLite and on PostgreSQL; its
  baseline is a bare one-row insert in one transaction on the same database;
- **one workflow per resource** (a prototype here, not in the product): the resource's
  counts live in a long-running workflow, and a booking is an update it answers; its baseline
  is a bare no-op update to a workflow on the same dev server.

The resource: 10 places a day over 10 days (100 slots); attempt i asks for day i mod 10, so
each day gets 100 attempts for its 10 places. Printed: successes (must be exactly 100),
p50/p99 latency of an attempt (from asking to the answer, a refusal included), the wall time,
and the ratios to the baselines.

    .venv/bin/python benchmarks/slot_race.py [--attempts 1000] [--no-postgres] [--no-workflow]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from temporalio import workflow

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAYS = 10
PER_DAY = 10
FIRST = date(2031, 3, 3)  # a Monday


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], wins: int, wall: float) -> dict[str, float]:
    p50, p99 = pct(latencies, 50) * 1000, pct(latencies, 99) * 1000
    print(
        f"  {name:<34} succeeded {wins:>4}  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  "
        f"wall {wall:6.2f} s"
    )
    return {"p50": p50, "p99": p99}


def ratio(name: str, a: dict[str, float], base: dict[str, float]) -> None:
    print(f"  {name:<34} p50 {a['p50'] / base['p50']:5.2f}×  p99 {a['p99'] / base['p99']:5.2f}×")


# --- the case store ------------------------------------------------------------------------


def store_race(url: str, attempts: int, threads: int) -> tuple[dict[str, float], dict[str, float]]:
    from cellpath.store import CaseStore
    from cellpath.store.capacity import Capacity, SlotConflict, SlotRequest
    from models.capacity import ResourceSpec

    store = CaseStore(
        sa.create_engine(url, pool_size=threads, max_overflow=0, hide_parameters=True)
        if not url.startswith("sqlite")
        else CaseStore.from_url(url).engine
    )
    cap = Capacity(store, lambda country, years: frozenset())
    site = f"bench-{uuid.uuid4().hex[:6]}"
    cap.set_resource(
        ResourceSpec(site=site, resource="chairs", kind="apheresis", capacity=PER_DAY),
        by="bench",
    )

    def attempt(i: int) -> tuple[float, bool]:
        day = FIRST + timedelta(days=i % DAYS)
        began = time.perf_counter()
        try:
            cap.hold(f"B-{i}", [SlotRequest(site, "chairs", day, day)], by="bench")
            won = True
        except SlotConflict:
            won = False
        return time.perf_counter() - began, won

    from cellpath.store.tables import AuditRow

    def bare(i: int) -> tuple[float, bool]:
        began = time.perf_counter()
        with store.session() as s:
            s.add(
                AuditRow(
                    event_id=f"bench-{uuid.uuid4()}",
                    case_id=f"B-{i}",
                    action="bench",
                    actor="bench",
                    occurred_at=_now(),
                    recorded_at=_now(),
                    detail={},
                    reason="",
                    stored_at=_now(),
                )
            )
        return time.perf_counter() - began, True

    out = []
    for fn in (bare, attempt):
        with ThreadPoolExecutor(max_workers=threads) as pool:
            began = time.perf_counter()
            results = list(pool.map(fn, range(attempts)))
            wall = time.perf_counter() - began
        wins = sum(w for _, w in results)
        name = "bare insert" if fn is bare else "hold (row lock + seats)"
        out.append(report(name, [t for t, _ in results], wins, wall))
        if fn is attempt:
            from cellpath.store.tables import SlotSeat

            with store.session() as s:
                seats = s.scalar(
                    sa.select(sa.func.count()).select_from(SlotSeat).where(SlotSeat.site == site)  # type: ignore[arg-type]
                )
            assert wins == DAYS * PER_DAY == seats, (wins, seats)
    store.engine.dispose()
    return out[1], out[0]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# --- one workflow per resource (a prototype) ------------------------------------------------


@workflow.defn(name="ResourceSlots")
class ResourceSlots:
    """A resource's places per day, answered one update at a time."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    def book(self, day: str) -> bool:
        if self.used.get(day, 0) >= PER_DAY:
            return False
        self.used[day] = self.used.get(day, 0) + 1
        return True

    @workflow.update
    def noop(self, day: str) -> bool:
        return True

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def workflow_race(attempts: int) -> tuple[dict[str, float], dict[str, float]]:
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal"), ui=False
    ) as env:
        client: Client = env.client
        async with Worker(
            client,
            task_queue="slots-bench",
            workflows=[ResourceSlots],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_concurrent_workflow_tasks=8,
        ):
            out = []
            for update in ("noop", "book"):
                handle = await client.start_workflow(
                    ResourceSlots.run, id=f"slots-{uuid.uuid4().hex[:6]}", task_queue="slots-bench"
                )
                gate = asyncio.Semaphore(10)  # the server takes 10 updates in flight per workflow

                async def attempt(
                    i: int, handle: Any = handle, update: str = update, gate: Any = gate
                ) -> tuple[float, bool]:
                    day = (FIRST + timedelta(days=i % DAYS)).isoformat()
                    async with gate:
                        began = time.perf_counter()
                        won = await handle.execute_update(update, day, result_type=bool)
                        return time.perf_counter() - began, won

                began = time.perf_counter()
                results = await asyncio.gather(*(attempt(i) for i in range(attempts)))
                wall = time.perf_counter() - began
                wins = sum(w for _, w in results)
                name = "bare no-op update" if update == "noop" else "workflow per resource"
                out.append(report(name, [t for t, _ in results], wins, wall))
                if update == "book":
                    assert wins == DAYS * PER_DAY, wins
                await handle.signal(ResourceSlots.finish)
    return out[1], out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=32, help="concurrent store sessions")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-workflow", action="store_true")
    args = parser.parse_args()
    print(f"{args.attempts} attempts for {DAYS * PER_DAY} slots ({PER_DAY} a day, {DAYS} days)")
    results: list[tuple[str, Callable[[], Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite:///{Path(tmp) / 'bench.db'}"
        results.append(("SQLite", lambda: store_race(sqlite, args.attempts, args.threads)))
        if not args.no_postgres:
            results.append(("PostgreSQL", lambda: _postgres(args.attempts, args.threads)))
        for name, run in results:
            print(f"case store on {name} ({args.threads} sessions at once):")
            got = run()
            if got is None:
                continue
            ratio("hold vs bare insert", *got)
    if not args.no_workflow:
        print("one workflow per resource (dev server, 10 updates in flight, its limit):")
        ratio("book vs bare update", *asyncio.run(_run(workflow_race(args.attempts))))


async def _run(coro: Awaitable[Any]) -> Any:
    return await coro


def _postgres(attempts: int, threads: int) -> tuple[dict[str, float], dict[str, float]] | None:
    from cellpath.store import migrations
    from tests.support import create_database, drop_database, postgres_admin_url

    admin = postgres_admin_url()
    try:
        url = create_database(admin, "cellpath_bench")
    except Exception as e:  # no server: say so, measure the rest
        print(f"  skipped: no PostgreSQL at {admin} ({e})")
        return None
    try:
        migrations.upgrade(url)
        return store_race(url, attempts, threads)
    finally:
        drop_database(admin, url)


if __name__ == "__main__":
    main()
