"""Nothing a crashed worker leaves behind bricks a journey (the integrity issue, item 1).

The root cause of the journeys stuck after worker crashes: a worker that picks a journey up
cold may deliver an activity completion and an update in one activation where replay delivers
them apart, and the journey's commands used to depend on that. Two tests keep it fixed:

- the deterministic one edits a recorded history into what such a worker sees
  (`tests/history_edits.py`) and replays both: the same commands either way;
- the live one kills worker processes (SIGKILL) while journeys are driven through the
  pathway, then checks nothing is stuck, lost or duplicated and every history replays
  (`tests/chaos/harness.py`; `make chaos` runs the long version).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from cellpath.codec import KeyRing, new_key_entry
from cellpath.connection import data_converter
from cellpath.scenarios import record, start
from cellpath.store import CaseStore
from tests.chaos.harness import Cluster, Workers, check, drive, plan, quiet
from tests.history_edits import merge_command_less_task
from tests.support import QUEUE, e2e_journey
from workflows import PatientJourney

pytestmark = pytest.mark.e2e

RECORDS = ["pathology", "imaging", "treatment_history", "labs"]


async def test_an_activity_completion_merged_into_an_update_task_replays_the_same(
    dev_server: WorkflowEnvironment, e2e_worker: None
):
    client = dev_server.client
    handle = await start(client, e2e_journey(f"MRG-{uuid.uuid4().hex[:8]}"), QUEUE)
    await quiet(client, handle.id)  # the first write is done: its completion made a task
    # Recorded after the fact, so the new phase's deadline is overdue at once and this one
    # task both writes the case store and escalates (the repro's records_complete).
    now = await dev_server.get_current_time()
    await record(handle, "records_complete", records=RECORDS, at=now - timedelta(days=12))
    await quiet(client, handle.id)
    recorded = await handle.fetch_history()
    merged = merge_command_less_task(recorded)
    replayer = Replayer(workflows=[PatientJourney], data_converter=client.data_converter)
    for history in (recorded, merged):
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure


async def test_killed_workers_lose_nothing_and_every_history_replays(
    dev_server: WorkflowEnvironment, tmp_path
):
    keys = new_key_entry("crash-test")
    address = dev_server.client.service_client.config.target_host
    client = await Client.connect(address, data_converter=data_converter(ring=KeyRing.parse(keys)))
    cluster = Cluster(
        address=address,
        queue=f"crash-{uuid.uuid4().hex[:6]}",
        db_url=f"sqlite:///{tmp_path / 'crash.db'}",
        keys=keys,
    )
    store = CaseStore.from_url(cluster.db_url)  # migrated before any worker opens it
    workers = Workers(cluster)
    await workers.start()
    kill_after = {1, 6, 13}

    async def kill(step: int) -> None:
        if step in kill_after:
            await workers.kill_and_replace(pause_s=1.0)

    cases = [f"CRASH-{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
    try:
        # A task handed to a killed worker waits its task timeout (10 s by default) before
        # another worker gets it; 2 s keeps this test under half a minute.
        fast = timedelta(seconds=2)
        driven = await asyncio.gather(
            drive(client, cases[0], cluster.queue, plan(True), after_each=kill, task_timeout=fast),
            drive(client, cases[1], cluster.queue, plan(True), task_timeout=fast),
            drive(client, cases[2], cluster.queue, plan(False), task_timeout=fast),
        )
        report = await check(client, store, list(driven))
    finally:
        await workers.stop()
    assert workers.kills == len(kill_after)
    assert report.ok, f"{report.figures()}: {report.stuck + report.lost + report.duplicated}" + (
        f" {report.replay_failures}"
    )
