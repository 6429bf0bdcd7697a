"""An update that arrives with a journey's very first workflow task is validated before `run`
has applied the run's patches (the rules the run takes). It is then accepted, and its handler
— waiting until the run is ready — decides as the validator would have: a kind of this run
is taken, and a bad one is still refused with its words, the journey unchanged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.scenarios import QUOTE, start
from cellpath.store import CaseStore
from models.examples import journey_input
from models.messages import MilestoneAck, MilestoneInput


@pytest_asyncio.fixture(loop_scope="session")
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this test's own: a journey that waited for its first task
    with no worker polling left the session's server unable to skip time in later tests."""
    path = find_binary("temporal-test-server")
    assert path is not None, "temporal-test-server not on PATH (make test installs it)"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=data_converter()
    ) as environment:
        await ensure_search_attributes(environment.client)
        yield environment


async def test_an_update_in_the_first_task_is_decided_by_the_run_s_own_rules(
    own_env: WorkflowEnvironment, store: CaseStore
) -> None:
    env = own_env
    # Without skipping time: an update that fails while the test server skips time leaves
    # its lock unbalanced, and a later test's `env.sleep` then times out.
    with env.auto_time_skipping_disabled():
        queue = f"first-task-{uuid.uuid4().hex[:6]}"  # no worker yet: both wait for the first task
        handle = await start(env.client, journey_input(f"FT-{uuid.uuid4().hex[:6]}"), queue)
        quote = MilestoneInput(kind="quote_issued", actor="coord-1", data=QUOTE)
        bad = MilestoneInput(kind="quote_issued", actor="coord-1", data={"currency": "USD"})
        taken = asyncio.ensure_future(
            handle.execute_update("record_milestone", quote, result_type=MilestoneAck)
        )
        refused = asyncio.ensure_future(
            handle.execute_update("record_milestone", bad, result_type=MilestoneAck)
        )
        await asyncio.sleep(1)  # both updates wait on the server for the first task
        async with create_worker(env.client, task_queue=queue, store=store, deliver=False):
            ack = await taken
            assert ack.accepted
            with pytest.raises(WorkflowUpdateFailedError) as e:
                await refused
            assert "invalid" in str(e.value.cause)
            # Without the fix the validator refused the first as "unknown … for this journey's
            # run": the run's patches were not applied yet.
            await handle.terminate("test over")
