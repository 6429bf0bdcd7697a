"""A worker configured only through TEMPORAL_* variables behaves as the one `make run` starts.

`python worker.py` runs as its own process, as in a container: TEMPORAL_ADDRESS and
TEMPORAL_NAMESPACE point it at the dev server. A journey started on its queue runs, records
milestones and answers queries; SIGTERM stops it gracefully (exit 0, "worker_stopped").
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from cellpath.scenarios import record, start, status
from tests.support import ROOT, e2e_journey

pytestmark = pytest.mark.e2e


async def test_worker_from_temporal_env_vars_runs_journeys_and_stops_gracefully(
    dev_server: WorkflowEnvironment, tmp_path
):
    queue = f"env-worker-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "CELLPATH_"))}
    env |= {
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_server.client.namespace,
        "CELLPATH_TASK_QUEUE": queue,
        "CELLPATH_DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "CELLPATH_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "worker.py",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        handle = await start(dev_server.client, e2e_journey(f"ENV-{uuid.uuid4().hex[:8]}"), queue)
        await record(handle, "record_received", record_type="imaging")
        ack = await record(
            handle, "records_complete", records=["treatment_history", "labs", "pathology"]
        )
        assert ack.phase == "pre_assessment"
        assert (await status(handle)).milestone_count == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        output = raw.decode()
    assert proc.returncode == 0, output
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    started = next(e for e in events if e["event"] == "worker_started")
    assert started["address"] == env["TEMPORAL_ADDRESS"] and started["task_queue"] == queue
    assert started["namespace"] == env["TEMPORAL_NAMESPACE"] and started["encrypted"] is False
    names = [e["event"] for e in events]
    assert names[-1] == "worker_stopped" and "worker_stopping" in names
