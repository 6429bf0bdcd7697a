"""Journeys driven through the pathway while worker processes are killed, and what must hold.

Used by the short crash test in `make test` (`tests/e2e/test_crash.py`) and by the long suite,
`make chaos` (`tests/chaos/run.py`). Workers are real processes started the way production
starts them (`python worker.py`, settings from the environment, payloads encrypted) and killed
with SIGKILL: no graceful shutdown, no chance to finish a task.

What must hold afterwards (`check`):

- no journey is stuck: every one answers a query and its workflow task is not failing;
- no acknowledged milestone or observation is lost: each one acknowledged (an update that
  returned, a signal the server took) is in the journey, once;
- no notification is duplicated or lost: the outbox holds exactly the notifications the
  journey's history handed to the case store;
- every run of every journey replays against this code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.worker import Replayer

from cellpath.scenarios import Handle, start
from cellpath.store import CaseStore
from models.examples import ELIGIBLE, PI_ACCEPTED, consents, readiness
from models.messages import JourneyWrite, MilestoneInput, NotificationBatch, ObservationInput
from tests.builders import journey_input
from workflows import PatientJourney

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

RECORDS = ["pathology", "imaging", "treatment_history", "labs"]


@dataclass
class Cluster:
    """Where worker processes connect, and how."""

    address: str
    queue: str
    db_url: str
    keys: str  # the key ring (`id:base64`), so every payload is encrypted
    sticky_timeout_s: float = 2.0
    env: dict[str, str] = field(default_factory=dict)  # more settings for every worker


class Workers:
    """Worker processes started as production starts them (`python worker.py`)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.processes: list[asyncio.subprocess.Process] = []
        self.kills = 0
        self._drains: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start one more worker and wait until it polls."""
        env = os.environ | {
            "TEMPORAL_ADDRESS": self.cluster.address,
            "TEMPORAL_NAMESPACE": "default",
            "CELLPATH_TASK_QUEUE": self.cluster.queue,
            "CELLPATH_DATABASE_URL": self.cluster.db_url,
            "CELLPATH_ENCRYPTION_KEYS": self.cluster.keys,
            "CELLPATH_WORKER_STICKY_TIMEOUT_SECONDS": str(self.cluster.sticky_timeout_s),
            "CELLPATH_LOG_FORMAT": "json",
            **self.cluster.env,
        }
        env.pop("CELLPATH_ENCRYPTION_KEY_FILE", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "worker.py",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 60)
            if not line:
                raise RuntimeError(f"worker exited before polling (code {await proc.wait()})")
            if b"worker_started" in line:
                break
        self._drains.append(asyncio.create_task(_drain(proc.stderr)))
        self.processes.append(proc)

    async def kill(self) -> None:
        """SIGKILL the oldest worker (no graceful shutdown)."""
        proc = self.processes.pop(0)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        self.kills += 1

    async def kill_and_replace(self, pause_s: float = 0.0) -> None:
        """Kill a worker; after `pause_s` (messages pile up meanwhile) start another."""
        await self.kill()
        await asyncio.sleep(pause_s)
        await self.start()

    async def stop(self) -> None:
        """Stop every worker (SIGTERM: graceful)."""
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 40)
        self.processes.clear()
        for task in self._drains:
            task.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def persist(call: Callable[[], Awaitable[T]], attempts: int = 120) -> T:
    """Call until Temporal answers: while no worker runs (or the server restarts) an update
    times out or the connection drops; the same idempotency key makes a repeat harmless."""
    for n in range(attempts):
        try:
            return await call()
        except WorkflowUpdateFailedError:
            raise  # the journey refused it: an answer, not an outage
        except (RPCError, TimeoutError, OSError) as e:
            if n == attempts - 1:
                raise
            if isinstance(e, RPCError) and "not found" in str(e).lower():
                raise
            await asyncio.sleep(0.5)
        except Exception as e:  # WorkflowUpdateRPCTimeoutOrCancelledError and kin
            if "Timeout or cancellation" not in str(e) or n == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


@dataclass
class Step:
    """One thing a coordinator or nurse records."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    via: str = "update"  # or "signal", or "observe"
    back: timedelta | None = None  # recorded after the fact: occurred this long ago


def plan(backdated: bool) -> list[Step]:
    """An autologous CAR-T journey from intake to monitoring (one product, three rounds)."""
    today = datetime.now(UTC).date()
    head = [
        Step("record_received", {"record_type": "pathology"}, back=timedelta(days=13)),
        Step("records_complete", {"records": RECORDS}, back=timedelta(days=12)),
    ]
    if not backdated:
        head = [Step(s.kind, s.data) for s in head]
    return [
        *head,
        Step("eligibility_assessed", ELIGIBLE | {"reviewer": "dr-c"}, via="signal"),
        Step("submitted_to_pi", {"site": "site-a"}),
        Step("pi_decision", {"site": "site-a"} | PI_ACCEPTED),
        Step("cost_estimate_accepted", {"currency": "USD", "total": 9500}),
        Step("invitation_letter_issued", {"site": "site-a"}),
        Step("visa_issued", {"visa_type": "S2", "valid_until": str(today + timedelta(days=200))}),
        Step("accommodation_booked", via="signal"),
        Step("travel_booked", {"arrival_date": str(today + timedelta(days=7))}),
        Step("patient_arrived"),
        *[Step("consent_signed", c) for c in consents()],
        Step("accommodation_registered", via="signal"),
        Step("pretreatment_cleared", {"outcome": "cleared"}),
        Step("apheresis_completed", {"coi_id": "COI-C"}),
        Step("manufacturing_started"),
        Step("product_released", {"lot": "LOT-C", "coi_id": "COI-C"}),
        # Prophylaxis from two days before the real clock's now (steps are back-dated from it).
        Step("readiness_checked", readiness(datetime.now(UTC))),
        Step("conditioning_started", {"regimen": "Flu/Cy"}),
        Step("conditioning_completed"),
        Step("infusion_completed", {"lot": "LOT-C", "coi_id": "COI-C"}),
        Step("observation", {"temperature_c": 37.0, "systolic_bp": 118}, via="observe"),
        Step("observation", {"temperature_c": 39.2, "systolic_bp": 84}, via="observe"),
        Step(
            "observation",
            {"temperature_c": 39.6, "systolic_bp": 80, "vasopressors": 1},
            via="observe",
        ),
    ]


@dataclass
class Driven:
    """What was acknowledged for one journey."""

    case_id: str
    milestones: list[str] = field(default_factory=list)  # milestone ids
    observations: list[str] = field(default_factory=list)  # observation ids


async def drive(
    client: Client,
    case_id: str,
    queue: str,
    steps: list[Step],
    after_each: Callable[[int], Awaitable[None]] | None = None,
    task_timeout: timedelta | None = None,
) -> Driven:
    """Start a journey and record `steps`, retrying through worker deaths."""
    inp = journey_input(case_id)
    handle: Handle = await persist(lambda: start(client, inp, queue, task_timeout=task_timeout))
    done = Driven(case_id)
    for n, step in enumerate(steps):
        key = f"{case_id}-{n:02d}"
        at = datetime.now(UTC) - step.back if step.back else None
        if step.via == "observe":
            o = ObservationInput(actor="nurse-c", observation_id=key, **step.data)
            await persist(lambda o=o: handle.execute_update(PatientJourney.record_observation, o))
            done.observations.append(key)
        else:
            m = MilestoneInput(
                kind=step.kind, actor="coord-c", data=step.data, occurred_at=at, milestone_id=key
            )
            if step.via == "signal":
                await persist(lambda m=m: handle.signal(PatientJourney.milestone, m))
            else:
                await persist(lambda m=m: handle.execute_update(PatientJourney.record_milestone, m))
            done.milestones.append(key)
        if after_each is not None:
            await after_each(n)
    return done


async def quiet(client: Client, workflow_id: str, timeout_s: float = 120) -> None:
    """Wait until the journey has no activity or workflow task pending."""
    handle = client.get_workflow_handle(workflow_id)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        d = (await persist(handle.describe)).raw_description
        if not d.pending_activities and not d.pending_workflow_task.ByteSize():
            return
        await asyncio.sleep(0.3)


@dataclass
class Report:
    """What `check` found (each list names the cases and what is wrong)."""

    journeys: int = 0
    stuck: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    replay_failures: list[str] = field(default_factory=list)
    histories: list[WorkflowHistory] = field(default_factory=list)
    failed_histories: list[WorkflowHistory] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.stuck or self.lost or self.duplicated or self.replay_failures)

    def figures(self) -> str:
        return (
            f"journeys {self.journeys} · stuck {len(self.stuck)} · lost {len(self.lost)} · "
            f"duplicated {len(self.duplicated)} · replay failures {len(self.replay_failures)} "
            f"(of {len(self.histories)} histories)"
        )


async def runs(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a journey (continued as new), oldest first."""
    listed = [e async for e in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    listed.sort(key=lambda e: e.start_time)
    return [
        await client.get_workflow_handle(workflow_id, run_id=e.run_id).fetch_history()
        for e in listed
    ]


async def handed_to_store(client: Client, history: WorkflowHistory) -> list[str]:
    """Idempotency keys of the notifications a run handed to the case store."""
    keys: list[str] = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        attrs = event.activity_task_scheduled_event_attributes
        kind = attrs.activity_type.name
        hint: type = {"write_journey": JourneyWrite, "send_notifications": NotificationBatch}.get(
            kind, object
        )
        if hint is object:
            continue
        (value,) = await client.data_converter.decode(list(attrs.input.payloads), [hint])
        keys += [n.idempotency_key for n in value.notifications]
    return keys


async def check(client: Client, store: CaseStore, driven: list[Driven]) -> Report:
    """Everything the module docstring says must hold, case by case."""
    report = Report(journeys=len(driven))
    replayer = Replayer(workflows=[PatientJourney], data_converter=client.data_converter)
    for d in driven:
        workflow_id = f"journey-{d.case_id}"
        await quiet(client, workflow_id)
        handle = client.get_workflow_handle_for(PatientJourney.run, workflow_id)
        task = (await handle.describe()).raw_description.pending_workflow_task
        try:
            status = await asyncio.wait_for(handle.query(PatientJourney.status), 15)
            timeline = await asyncio.wait_for(handle.query(PatientJourney.timeline), 15)
        except Exception as e:  # a stuck journey answers nothing
            report.stuck.append(f"{d.case_id}: {type(e).__name__}")
            continue
        if task.attempt > 1:
            report.stuck.append(f"{d.case_id}: workflow task attempt {task.attempt}")
        ids = [e.milestone_id for e in timeline if e.milestone_id]
        missing = [m for m in d.milestones if m not in ids]
        if missing:
            report.lost.append(f"{d.case_id}: milestones {missing}")
        if status.observation_count != len(d.observations):
            report.lost.append(
                f"{d.case_id}: {status.observation_count} observations, "
                f"{len(d.observations)} acknowledged"
            )
        twice = sorted({m for m in ids if ids.count(m) > 1})
        if twice:
            report.duplicated.append(f"{d.case_id}: milestones {twice}")
        histories = await runs(client, workflow_id)
        report.histories += histories
        handed: list[str] = []
        for history in histories:
            handed += await handed_to_store(client, history)
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if result.replay_failure is not None:
                report.replay_failures.append(
                    f"{d.case_id} run {history.run_id}: {str(result.replay_failure)[:400]}"
                )
                report.failed_histories.append(history)
        stored = [n.idempotency_key for n in store.notifications(d.case_id)]
        if sorted(set(stored)) != sorted(set(handed)):
            report.lost.append(
                f"{d.case_id}: outbox {len(set(stored))} vs history {len(set(handed))}"
            )
        if len(stored) != len(set(stored)):
            report.duplicated.append(f"{d.case_id}: outbox rows repeat a key")
    return report


def jitter(low: float, high: float) -> float:
    """A pause between kills (8–25 s in `make chaos`)."""
    return random.uniform(low, high)
