"""A worker killed between sending an e-mail and recording it: the mailbox holds one message.

A real worker process (`python worker.py`) delivers an escalation to a real SMTP server in this
process — from the outbox write itself, as nothing in it has to wait. The moment the server has
the message, it SIGKILLs the worker — before the worker hears "250 OK", let alone writes the
delivery ledger. Another worker retries the write once the first one's time is up; the retry
hands the notification to its `DeliverNotification` workflow, which sends it again (it cannot
know) and records it. The mail system sees the same Message-ID twice: one message.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.delivery import delivery_id
from cellpath.codec import KeyRing, new_key_entry
from cellpath.connection import data_converter
from cellpath.scenarios import reschedule_soon, start
from cellpath.store import CaseStore
from cellpath.store.directory import Deliveries, Directory
from models.directory import AssignedRole, AssignmentInput, ContactInput, DeliveryOutcome
from tests.chaos.harness import Cluster, Workers
from tests.support import e2e_journey

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KillOnFirstMessage:
    """Keeps every message; on the first one, kills the worker that is sending it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.victim: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return "250 OK"


async def test_a_worker_killed_after_sending_before_recording_leaves_one_message(
    dev_server: WorkflowEnvironment, tmp_path
):
    keys = new_key_entry("delivery-crash")
    address = dev_server.client.service_client.config.target_host
    client = await Client.connect(address, data_converter=data_converter(ring=KeyRing.parse(keys)))
    handler = KillOnFirstMessage()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    cluster = Cluster(
        address=address,
        queue=f"delivery-crash-{uuid.uuid4().hex[:6]}",
        db_url=f"sqlite:///{tmp_path / 'crash.db'}",
        keys=keys,
        env={
            "CELLPATH_DELIVERY_ENABLED": "true",
            "CELLPATH_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            # The dead worker's send is handed to another after 4 s (production: 2 min).
            "CELLPATH_DELIVERY_SEND_TIMEOUT_SECONDS": "4",
            "CELLPATH_DELIVERY_RETRY_SECONDS": "1",
            # The outbox write's own path is what dies here (its send 30 s after the instant,
            # the journey's grace); a dispatcher dying mid-send is
            # tests/delivery/test_dispatcher.py's.
            "CELLPATH_DISPATCHER_ENABLED": "false",
        },
    )
    store = CaseStore.from_url(cluster.db_url)
    directory = Directory(store)
    directory.set_contact(ContactInput(actor="lead-x", email="lead@example.org"), by="test")
    directory.assign(AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor="lead-x"), by="t")
    workers = Workers(cluster)
    await workers.start()
    try:
        handler.victim = workers.processes[0].pid
        case = f"DCRASH-{uuid.uuid4().hex[:6]}"
        handle = await start(client, e2e_journey(case), cluster.queue)
        await reschedule_soon(handle, "records", 1, "test")
        for _ in range(600):  # the escalation is sent, the worker dies
            if handler.messages and workers.processes[0].returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert handler.messages and handler.victim is None, "the first send reached the server"
        await workers.processes[0].wait()
        workers.processes.pop(0)
        await workers.start()  # another worker takes the send over
        [escalation] = [n for n in store.notifications(case) if n.kind == "escalation"]
        delivery = client.get_workflow_handle(
            delivery_id(escalation.idempotency_key), result_type=DeliveryOutcome
        )
        # The dead worker sent it from the outbox write (nothing had to wait): the write is
        # retried once its 10 s are up, and the retry hands the notification to a workflow.
        for _ in range(600):
            try:
                await delivery.describe()
                break
            except RPCError as e:
                if e.status is not RPCStatusCode.NOT_FOUND:
                    raise
                await asyncio.sleep(0.1)
        outcome = await delivery.result()
        await handle.terminate("test over")
    finally:
        await workers.stop()
        smtp.stop()
    assert outcome.delivered_to == ["lead-x"]
    assert len(handler.messages) == 2, "sent, the worker died unrecorded, sent again"
    assert len({m["Message-ID"] for m in handler.messages}) == 1, "one message to the mail system"
    [ledger] = Deliveries(store).of(escalation.idempotency_key)
    assert ledger.attempts == 2 and ledger.delivered_at is not None
