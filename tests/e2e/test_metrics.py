"""The worker's Prometheus endpoint: the SDK's metrics and cellpath's own counters."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from pydantic import SecretStr
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cellpath.config import Settings
from cellpath.connection import connect
from cellpath.runtime import create_dispatcher, create_worker, metrics_runtime
from cellpath.scenarios import record, reschedule_soon, start
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from models.directory import AssignedRole, AssignmentInput, ContactInput
from tests.support import e2e_journey

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


async def test_product_counters_reach_the_prometheus_endpoint(
    dev_server: WorkflowEnvironment, tmp_path: Path
):
    port = free_port()
    address = dev_server.client.service_client.config.target_host
    client = await connect(address, "default", runtime=metrics_runtime(port))
    queue = f"metrics-{uuid.uuid4().hex[:6]}"
    # The escalation is delivered (to a lead coordinator, by e-mail to a real SMTP server).
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'metrics.db'}")
    directory = Directory(store)
    directory.set_contact(ContactInput(actor="lead-m", email="lead@example.org"), by="test")
    directory.assign(AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor="lead-m"), by="t")
    mail = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    mail.start()
    settings = Settings(smtp_url=SecretStr(f"smtp://127.0.0.1:{mail.port}"))
    stop = asyncio.Event()
    # Beside the worker, as `run_worker` runs it: the escalation goes out at its instant.
    dispatcher = create_dispatcher(client, task_queue=queue, store=store, settings=settings)
    dispatching = asyncio.create_task(dispatcher.run(stop))
    async with create_worker(
        client, task_queue=queue, store=store, settings=settings, deliver=True
    ):
        handle = await start(client, e2e_journey(f"MET-{uuid.uuid4().hex[:6]}"), queue)
        await record(handle, "record_received", record_type="labs")
        with pytest.raises(WorkflowUpdateFailedError):
            await record(handle, "infusion_completed", lot="L", coi_id="C")
        await reschedule_soon(handle, "records", 1, "metrics")
        text = ""
        for _ in range(50):  # metrics are exported periodically
            text = await asyncio.to_thread(scrape, port)
            if 'level="1"' in text and 'outcome="delivered"' in text:
                break
            await asyncio.sleep(0.2)
    stop.set()
    await dispatching
    mail.stop()
    assert "cellpath_deliveries_total{" in text and 'channel="email"' in text
    assert "cellpath_delivery_lag_seconds_bucket{" in text
    assert "cellpath_milestones_recorded{" in text and 'kind="record_received"' in text
    assert "cellpath_refusals{" in text and 'reason="wrong_phase"' in text
    assert "cellpath_notifications_sent{" in text and 'kind="escalation"' in text
    assert "temporal_workflow_task_execution_latency" in text  # the SDK's own


def listening(port: int) -> set[str]:
    """The addresses a TCP port on this machine listens on (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        host, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(host)[::-1]))
    return found


async def test_the_metrics_endpoint_listens_on_loopback_unless_told() -> None:
    """No authentication guards /metrics: it is not offered to the network by default."""
    port = free_port()
    runtime = metrics_runtime(port)  # kept referenced: it serves the endpoint
    for _ in range(50):
        if listening(port):
            break
        await asyncio.sleep(0.1)
    assert listening(port) == {"127.0.0.1"}, runtime
    assert Settings().metrics_host == "127.0.0.1"
