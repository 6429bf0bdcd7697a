"""`cellpath doctor`: a stuck journey is found, diagnosed, reset, runs again; and counted.

A journey gets stuck the way the crash-order bug left journeys: its history holds a command
the running code does not issue on replay. Here an "earlier release" (a subclass registered
under the workflow's name) writes one extra command; the current worker then cannot replay
the journey, and every later task fails.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.request
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner

from cellpath.runtime import create_worker, metrics_runtime
from cellpath.scenarios import record, start
from cellpath.services import doctor
from cellpath.store import CaseStore
from models.journey import JourneyInput
from models.messages import JourneyStatus, MilestoneInput
from tests.support import e2e_journey
from workflows import PatientJourney

pytestmark = pytest.mark.e2e

RECORDS = ["pathology", "imaging", "treatment_history", "labs"]


@workflow.defn(name="PatientJourney", sandboxed=False)
class EarlierRelease(PatientJourney):
    """Issues one command more than the current code (a memo upsert after each write)."""

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyStatus:
        return await super().run(inp)

    def _flush(self) -> None:
        super()._flush()
        workflow.upsert_memo({"earlier_release": True})


async def stuck_journey(client, queue: str, store: CaseStore) -> str:
    case_id = f"DOC-{uuid.uuid4().hex[:8]}"
    earlier = create_worker(
        client,
        task_queue=queue,
        store=store,
        workflows=[EarlierRelease],
        workflow_runner=UnsandboxedWorkflowRunner(),
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    )
    async with earlier:
        handle = await start(client, e2e_journey(case_id), queue)
        await record(handle, "record_received", record_type="imaging")
    return case_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually_scraped(port: int, gauge: str, at_least: float) -> bool:
    """Whether the Prometheus endpoint shows `gauge` ≥ `at_least` within 30 s."""
    pattern = re.compile(rf"^{gauge}(?:{{[^}}]*}})? ([0-9.e+]+)$", re.MULTILINE)
    for _ in range(60):
        try:
            text = await asyncio.to_thread(
                lambda: (
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
                    .read()
                    .decode()
                )
            )
        except OSError:
            text = ""
        values = [float(v) for v in pattern.findall(text)]
        if values and max(values) >= at_least:
            return True
        await asyncio.sleep(0.5)
    return False


async def wait_stuck(client, case_id: str) -> doctor.StuckJourney:
    for _ in range(60):
        found = [s for s in await doctor.stuck_journeys(client, deep=True) if s.case_id == case_id]
        if found:
            return found[0]
        await asyncio.sleep(0.5)
    raise AssertionError(f"{case_id} never showed as stuck")


async def test_doctor_finds_a_stuck_journey_and_its_reset_recovers_it(
    cli, dev_server: WorkflowEnvironment, db_url: str
):
    client, queue = dev_server.client, f"doctor-{uuid.uuid4().hex[:6]}"
    store = CaseStore.from_url(db_url)
    case_id = await stuck_journey(client, queue, store)
    handle = client.get_workflow_handle_for(PatientJourney.run, f"journey-{case_id}")
    async with create_worker(client, task_queue=queue, store=store):
        # A milestone arrives while the journey is stuck: it must survive the reset.
        await handle.signal(
            PatientJourney.milestone,
            MilestoneInput(kind="records_complete", actor="bridge", data={"records": RECORDS}),
        )
        stuck = await wait_stuck(client, case_id)
        assert stuck.cause == "NON_DETERMINISTIC_ERROR"
        assert stuck.diagnosis is not None and stuck.diagnosis.reset_to_event is not None
        # The worker's gauge counts it (from TemporalReportedProblems, no --deep needed).
        port = free_port()
        runtime = metrics_runtime(port)  # kept referenced: it serves the endpoint
        watch = asyncio.create_task(doctor.report_stuck(client, runtime.metric_meter, every_s=0.5))
        try:
            assert await eventually_scraped(port, "cellpath_journeys_stuck", at_least=1)
        finally:
            watch.cancel()

        code, out, err = await cli("doctor", "--deep", "--json", actor="nurse-e2e")
        assert code == 1 and "operate needs an administrator" in " ".join(err.split())
        code, out, err = await cli("doctor", "--deep", "--json", actor="admin-e2e")
        assert code == 1, err  # something needs an operator
        (listed,) = [s for s in json.loads(out)["stuck"] if s["case_id"] == case_id]
        assert "reset to event" in listed["advice"], json.dumps(listed)

        code, out, err = await cli(
            "doctor", "--reset", case_id, "--reason", "earlier release", "--yes", actor="admin-e2e"
        )
        assert f"reset {case_id}: new run" in out and "its history replays" in out, (out, err)
        status = await handle.query(PatientJourney.status)
        assert status.phase == "pre_assessment"  # the signal was re-applied
        assert [e.kind for e in await handle.query(PatientJourney.timeline)] == [
            "record_received",
            "records_complete",
        ]
        assert case_id not in {s.case_id for s in await doctor.stuck_journeys(client, deep=True)}
    code, out, _ = await cli("audit", case_id, "--json", actor="viewer-e2e")
    resets = [line for line in json.loads(out) if line["what"].startswith("journey_reset")]
    assert len(resets) == 1 and resets[0]["actor"] == "admin-e2e"
    assert resets[0]["reason"] == "earlier release"


@workflow.defn(name="PatientJourney", sandboxed=False)
class SlowRelease(PatientJourney):
    """Takes 1.5 s over every workflow task: past a 1 s task timeout, short of a deadlock."""

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyStatus:
        return await super().run(inp)

    def _publish(self) -> None:
        time.sleep(1.5)  # in the worker's workflow thread, not this test's event loop
        super()._publish()


async def test_doctor_lists_a_journey_whose_task_times_out_without_replaying_it(
    cli, dev_server: WorkflowEnvironment, db_url: str
):
    """A task that times out leaves no WorkflowTaskFailed: doctor still lists it, says why,
    and does not replay it (which would take as long again)."""
    client, queue = dev_server.client, f"doctor-slow-{uuid.uuid4().hex[:6]}"
    store = CaseStore.from_url(db_url)
    case_id = f"DOC-SLOW-{uuid.uuid4().hex[:6]}"
    slow = create_worker(
        client,
        task_queue=queue,
        store=store,
        workflows=[SlowRelease],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with slow:
        await start(client, e2e_journey(case_id), queue, task_timeout=timedelta(seconds=1))
        found = await wait_stuck(client, case_id)
    assert found.cause == "TIMED_OUT" and "timed out" in found.message
    assert found.diagnosis is None and "takes longer than allowed" in found.advice
    code, out, err = await cli("doctor", "--deep", "--json", actor="admin-e2e")
    assert code == 1, err
    (listed,) = [s for s in json.loads(out)["stuck"] if s["case_id"] == case_id]
    assert listed["cause"] == "TIMED_OUT"
    await client.get_workflow_handle(f"journey-{case_id}").terminate("test over")


async def test_a_replay_that_takes_too_long_is_cut_short(
    dev_server: WorkflowEnvironment, db_url: str
):
    """Doctor replays a history in a process of its own and stops waiting after a bound."""
    client, queue = dev_server.client, f"doctor-bound-{uuid.uuid4().hex[:6]}"
    case_id = f"DOC-BOUND-{uuid.uuid4().hex[:6]}"
    store = CaseStore.from_url(db_url)
    async with create_worker(client, task_queue=queue, store=store, deliver=False):
        handle = await start(client, e2e_journey(case_id), queue)
        await record(handle, "record_received", record_type="imaging")
        history = await handle.fetch_history()
        assert await doctor.diagnose_within(history, 60) is None  # it replays
        cut = await doctor.diagnose_within(history, 0.05)
        await handle.terminate("test over")
    assert cut is not None and "did not replay within 0.05 s" in cut.message
