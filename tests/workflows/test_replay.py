"""Determinism: stored histories replay against the current workflow code.

`tests/histories/` holds the runs of a full autologous journey recorded with
`benchmarks/history_events.py --save tests/histories`. A change to `PatientJourney` that
would break journeys already running (a new command, a reordered timer) fails here; such a
change must go behind `workflow.patched(...)`, and the old histories must still replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.messages import MilestoneInput
from scenarios import journey_input, record, start, to_logistics
from tests.conftest import TEST_QUEUE
from workflows import PatientJourney

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def replayer() -> Replayer:
    return Replayer(workflows=[PatientJourney], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_stored_history_replays(path: Path):
    history = WorkflowHistory.from_json("journey-BENCH-0001", path.read_text())
    result = await replayer().replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_stored_histories_are_present():
    assert len(HISTORIES) == 3, "re-record with benchmarks/history_events.py --save"


@pytest.mark.usefixtures("worker")
async def test_a_fresh_history_with_refusals_and_signals_replays(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_logistics(handle)
    await handle.signal(
        PatientJourney.milestone, MilestoneInput(kind="patient_arrived", actor="bridge")
    )
    await record(handle, "cost_estimate_accepted", currency="USD", total=100)
    history = await handle.fetch_history()
    result = await replayer().replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
