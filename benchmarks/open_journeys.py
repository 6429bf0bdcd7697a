"""Open journeys against the worker's memory: is RSS flat once the sticky cache is full?

One Temporal dev server; the worker in its own process (`cellpath worker`, default settings:
a cache of 1,000 journeys), as deployed, so its RSS is the worker's alone. Journeys are
started in steps; after each step, once the worker has run every new journey's first task,
its RSS is read from /proc. Side by side, a bare worker process (one no-op workflow that runs
an activity and waits on a timer, the same cache) with the same number of workflows.

    .venv/bin/python benchmarks/open_journeys.py [--journeys 20000] [--step 2500]

Prints RSS per step for both, the growth per 1,000 workflows once the cache is full, and the
ratio last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from bare_workflows import OpenBare, noop
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import ensure_search_attributes
from cellpath.scenarios import start
from cellpath.store import CaseStore
from models.examples import journey_input

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 64
QUEUE = "open-journeys"
BARE_QUEUE = "open-bare"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bare_worker(target: str) -> None:
    """The bare worker process's main (sandboxed, the same cache as cellpath's default)."""
    from temporalio.worker import Worker

    client = await Client.connect(target)
    async with Worker(
        client,
        task_queue=BARE_QUEUE,
        workflows=[OpenBare],
        activities=[noop],
        max_cached_workflows=1000,
    ):
        await asyncio.Event().wait()


async def started(n: int, first: int, start_one: Any) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> Any:
        async with gate:
            return await start_one(i)

    return await asyncio.gather(*(one(i) for i in range(first, first + n)))


async def measure(
    label: str, pid: int, total: int, step: int, start_one: Any, settled: Any
) -> list[tuple[int, float]]:
    """Start `total` in steps; after each, once `settled(n)`, the worker's RSS."""
    points = [(0, rss_mib(pid))]
    for first in range(0, total, step):
        await started(step, first, start_one)
        while not await settled(first + step):  # noqa: ASYNC110 - polls a count
            await asyncio.sleep(2)
        await asyncio.sleep(3)  # what followed the first tasks
        points.append((first + step, rss_mib(pid)))
        print(f"{label:9} {first + step:7d} open  RSS {points[-1][1]:7.0f} MiB", flush=True)
    return points


def growth(points: list[tuple[int, float]]) -> float:
    """MiB per 1,000 workflows between the first point past the cache and the last."""
    past = [(n, r) for n, r in points if n >= 2000]
    if len(past) < 2:
        return float("nan")
    (n0, r0), (n1, r1) = past[0], past[-1]
    return (r1 - r0) / (n1 - n0) * 1000


async def bare_run(
    client: Client, target: str, env_vars: dict[str, str], args: Any, bare_ran: Any
) -> list[tuple[int, float]]:
    """The bare worker process and its RSS per step."""
    bare = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--bare-worker", target, env=env_vars
    )
    await asyncio.sleep(3)
    t0 = time.perf_counter()
    points = await measure(
        "bare",
        bare.pid,
        args.journeys,
        args.step,
        lambda i: client.start_workflow(
            OpenBare.run,
            f"b{i}",
            id=f"open-bare-{i}-{uuid.uuid4().hex[:4]}",
            task_queue=BARE_QUEUE,
        ),
        bare_ran,
    )
    print(f"bare: {time.perf_counter() - t0:.0f} s to start and settle", flush=True)
    bare.terminate()
    await bare.wait()
    return points


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=20_000)
    parser.add_argument("--step", type=int, default=2_500)
    parser.add_argument(
        "--no-bare", action="store_true", help="cellpath only (the bare run takes as long)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cellpath-open-"))
    url = f"sqlite:///{folder / 'case.db'}"
    CaseStore.from_url(url)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"),
        data_converter=data_converter(),
        ui=False,
        # On disk, not in memory: an in-memory dev server ran out of memory between 60,000
        # and 70,000 open journeys on this machine (the worker was at 508 MiB).
        dev_server_extra_args=[
            "--db-filename",
            str(folder / "temporal.db"),
            "--dynamic-config-value",
            "frontend.namespaceRPS=100000",
        ],
    ) as env:
        client = env.client
        await ensure_search_attributes(client)
        target = client.service_client.config.target_host
        env_vars = os.environ | {
            "TEMPORAL_ADDRESS": target,
            "CELLPATH_DATABASE_URL": url,
            "CELLPATH_TASK_QUEUE": QUEUE,
            "CELLPATH_DELIVERY_ENABLED": "false",
            "CELLPATH_LOG_LEVEL": "WARNING",
        }
        results = {}

        async def bare_ran(n: int) -> bool:
            q = "WorkflowType = 'OpenBare' AND JourneyPhase = 'bare-ran'"
            return (await client.count_workflows(q)).count >= n

        if args.no_bare:
            results["bare"] = []
        else:
            results["bare"] = await bare_run(client, target, env_vars, args, bare_ran)
        # A journey whose first task ran has its projection in the case store.
        engine = CaseStore.from_url(url).engine

        async def projected(n: int) -> bool:
            with engine.connect() as c:
                count = c.execute(sa.text("SELECT count(*) FROM journeys")).scalar_one()
            return int(count) >= n

        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter", "worker", cwd=ROOT, env=env_vars
        )
        await asyncio.sleep(3)
        t0 = time.perf_counter()
        results["cellpath"] = await measure(
            "cellpath",
            worker.pid,
            args.journeys,
            args.step,
            lambda i: start(client, journey_input(f"OPEN-{i:06d}"), QUEUE),
            projected,
        )
        print(f"cellpath: {time.perf_counter() - t0:.0f} s to start and settle", flush=True)
        worker.terminate()
        await worker.wait()

    print(f"\nworker RSS (MiB) with N workflows open; cache of 1,000; steps of {args.step}")
    print(f"{'open':>8} {'bare':>8} {'cellpath':>9}")
    bare = dict(results["bare"])
    for n, c in results["cellpath"]:
        b = bare.get(n)
        print(f"{n:8d} {'—' if b is None else f'{b:.0f}':>8} {c:9.0f}")
    gc = growth(results["cellpath"])
    if not results["bare"]:
        print(f"growth past the cache, MiB per 1,000 open: cellpath {gc:.1f}")
        return
    gb = growth(results["bare"])
    print(
        f"growth past the cache, MiB per 1,000 open: bare {gb:.1f}, cellpath {gc:.1f}; "
        f"RSS at {args.journeys}: cellpath / bare "
        f"{results['cellpath'][-1][1] / results['bare'][-1][1]:.2f}×"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-worker":
        asyncio.run(bare_worker(sys.argv[2]))
    else:
        asyncio.run(main())
