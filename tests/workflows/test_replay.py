"""Determinism: stored histories replay against the current workflow code.

`tests/histories/` holds journeys recorded with `benchmarks/history_events.py --save DIR`,
one folder per patch: `rules-v1/` (a 12-month autologous journey recorded before graded
monitoring existed), `rules-v2/`, `search-attributes/`, `rules-v3/`, `rules-v4/` and `rules-v5/`
(runs of the 15-year CAR-T journey recorded under each later patch, gzipped; `rules-v5/` with its
consents, readiness check, signed decisions and hand-over; `rules-v4/` also holds a
journey whose history was imported in one update, one refused import before it, then a
milestone that met an overdue deadline on time), `bounded-floods/` (recorded by
`tests/e2e/test_floods.py` with CELLPATH_SAVE_HISTORIES: 5,000 refused signals read 200 a
task, then a fresh run; 1,150 milestones from 8 clients continuing as new at 1,000 updates),
`signers/` (the 15-year journey under `SIGNERS`: the PI's decision transcribed by its
coordinator from the signed letter), `forms-in-words/` (the same under `FORMS_IN_WORDS`
too), `after-infusion/` (and `AFTER_INFUSION`), `watched-after-infusion/` (the 15-year
journey under `WATCHED`, with MRD and the registry's track, and `drive_complications`: a trial
patient through neutropenic fever, grade 3 CRS, the ICU, serious adverse events reported,
low IgG, prolonged cytopenia, progression and death), `records-and-family/` (the 15-year
journey under `RECORDS`: an English pathology report translated for the PI and verified before
submission), `ledger/` (the same under `LEDGER`: a quote issued and accepted, its deposit paid),
`custody-and-condition/` (and `CUSTODY`: the product handed to the lab, shipped in range to the
ward), `capacity/` (and `CAPACITY`: a bed and the apheresis chair booked, the chair given
back once used, the bed when the journey completes), `reassigned/` (and `REASSIGNED`: a
colleague takes the case over before the infusion), `escalations-ahead/` (and `AHEAD`: its
next reminders and escalations written ahead for the dispatcher, its own timer a grace
later), and `chaos/`: journeys recorded by
`make chaos` while their workers were SIGKILLed and the server restarted (each has 2–7 workflow
tasks lost to a crash, the kind of history that once could not replay). A change to
`PatientJourney` that would break journeys already running (a new command, a reordered timer)
fails here; such a change must go behind `workflow.patched(...)`, and every stored history
must still replay.

`stuck-before-rules-v3/` holds the opposite: three journeys recorded live while workers were
killed, before rules version 3, whose histories can never replay (a worker merged an activity
completion into an update's task; replay does not). No code can make them replay again;
`cellpath doctor` finds them and names the reset that recovers them.
"""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from cellpath.scenarios import acknowledge, observe, record, start, to_infusion, to_logistics
from cellpath.services.doctor import diagnose
from models.messages import HistoryImport, HistoryImportAck, MilestoneInput
from tests.builders import journey_input, past_pathway
from tests.support import TEST_QUEUE
from workflows import PatientJourney

ROOT = Path(__file__).parents[1] / "histories"
ALL = sorted([*ROOT.glob("*/*.json"), *ROOT.glob("*/*.json.gz")])
STUCK = [p for p in ALL if p.parent.name.startswith("stuck-")]
HISTORIES = [p for p in ALL if p not in STUCK]


def load(path: Path, workflow_id: str = "journey-BENCH-0001") -> WorkflowHistory:
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    return WorkflowHistory.from_json(workflow_id, text)


def replayer(converter: DataConverter = pydantic_data_converter) -> Replayer:
    """A replayer; stored histories are unencrypted, fresh ones use the session's codec."""
    # Without the 2-second deadlock detector (`debug_mode`): this is about determinism. Under a
    # loaded machine, replaying 5,000 flood signals once took longer than 2 s in one
    # activation and failed as a "deadlock" (tests/e2e/test_floods.py holds the live bound).
    return Replayer(workflows=[PatientJourney], data_converter=converter, debug_mode=True)


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_stored_history_replays(path: Path):
    result = await replayer().replay_workflow(load(path), raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_stored_histories_are_present():
    versions = {p.parent.name for p in HISTORIES}
    assert versions == {
        "rules-v1",
        "rules-v2",
        "search-attributes",
        "rules-v3",
        "rules-v4",
        "rules-v5",
        "bounded-floods",
        "signers",
        "forms-in-words",
        "after-infusion",
        "watched-after-infusion",
        "records-and-family",
        "ledger",
        "custody-and-condition",
        "capacity",
        "reassigned",
        "escalations-ahead",
        "chaos",
    }, "see history_events.py"
    assert len(STUCK) == 3


@pytest.mark.parametrize("path", STUCK, ids=[p.stem for p in STUCK])
async def test_a_stuck_history_is_diagnosed_with_its_reset_point(path: Path):
    """The repro of the crash-order bug: event 37 (the third store activity) has no command
    on replay; the reset re-runs the update's task and the command-less tasks before it."""
    diagnosis = await diagnose(load(path, path.stem))
    assert diagnosis is not None and diagnosis.nondeterminism
    assert diagnosis.failing_event == 37
    assert "No command scheduled for event" in diagnosis.message
    # Events 18 and 23 completed tasks that issued no command; 28 is the update's task.
    assert diagnosis.reset_to_event == 18


@pytest.mark.usefixtures("worker")
async def test_a_fresh_history_with_refusals_and_signals_replays(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_logistics(handle)
    await handle.signal(
        PatientJourney.milestone, MilestoneInput(kind="patient_arrived", actor="bridge")
    )
    await record(handle, "cost_estimate_accepted", currency="USD", total=100)
    history = await handle.fetch_history()
    result = await replayer(env.client.data_converter).replay_workflow(
        history, raise_on_replay_failure=True
    )
    assert result.replay_failure is None


@pytest.mark.usefixtures("worker")
async def test_a_fresh_monitoring_history_with_critical_alerts_replays(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_infusion(handle, (await env.get_current_time()).date())
    await env.sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    await env.sleep(timedelta(days=2, hours=3))
    (alert,) = (await observe(handle, temperature_c=39.4, systolic_bp=80, vasopressors=2)).alerts
    await env.sleep(timedelta(minutes=40))  # two resends
    await acknowledge(handle, alert.id, note="seen")
    history = await handle.fetch_history()  # the monitoring run (continued at infusion)
    result = await replayer(env.client.data_converter).replay_workflow(
        history, raise_on_replay_failure=True
    )
    assert result.replay_failure is None


@pytest.mark.usefixtures("worker")
async def test_a_fresh_history_with_an_import_and_a_stand_down_replays(env, case_id):
    """Rules version 4: a history imported in one update, then a milestone that meets an
    overdue deadline on time (the stand-down), replay as recorded."""
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    now = await env.get_current_time()
    first = now - timedelta(days=60)
    milestones = []
    for kind, after, data in past_pathway(first.date()):
        milestones.append(MilestoneInput(kind=kind, occurred_at=first + after, data=data))
        if kind == "conditioning_completed":
            break
    ack = await handle.execute_update(
        "import_history",
        HistoryImport(actor="coord-1", milestones=milestones),
        result_type=HistoryImportAck,
    )
    assert ack.phase == "infusion" and "infusion_window" in ack.summary
    done = first + timedelta(days=53, hours=2)  # 26 h after conditioning ended
    await record(handle, "infusion_completed", at=done, lot="LOT-1", coi_id="COI-1")
    timeline = await handle.query(PatientJourney.timeline)
    assert "escalation_resolved" in [e.kind for e in timeline]
    history = await handle.fetch_history()
    result = await replayer(env.client.data_converter).replay_workflow(
        history, raise_on_replay_failure=True
    )
    assert result.replay_failure is None
