"""The worker's Prometheus endpoint: the SDK's metrics and cellpath's own counters."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cellpath.connection import connect
from cellpath.runtime import create_worker, metrics_runtime
from cellpath.scenarios import record, reschedule, start
from cellpath.store import CaseStore
from tests.builders import journey_input

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


async def test_product_counters_reach_the_prometheus_endpoint(
    dev_server: WorkflowEnvironment, db_url: str
):
    port = free_port()
    address = dev_server.client.service_client.config.target_host
    client = await connect(address, "default", runtime=metrics_runtime(port))
    queue = f"metrics-{uuid.uuid4().hex[:6]}"
    async with create_worker(client, task_queue=queue, store=CaseStore.from_url(db_url)):
        handle = await start(client, journey_input(f"MET-{uuid.uuid4().hex[:6]}"), queue)
        await record(handle, "record_received", record_type="labs")
        with pytest.raises(WorkflowUpdateFailedError):
            await record(handle, "infusion_completed", lot="L", coi_id="C")
        await reschedule(handle, "records", datetime.now(UTC) + timedelta(seconds=1), "metrics")
        text = ""
        for _ in range(50):  # metrics are exported periodically
            text = await asyncio.to_thread(scrape, port)
            if "cellpath_notifications_sent" in text and 'level="1"' in text:
                break
            await asyncio.sleep(0.2)
    assert "cellpath_milestones_recorded{" in text and 'kind="record_received"' in text
    assert "cellpath_refusals{" in text and 'reason="wrong_phase"' in text
    assert "cellpath_notifications_sent{" in text and 'kind="escalation"' in text
    assert "temporal_workflow_task_execution_latency" in text  # the SDK's own
