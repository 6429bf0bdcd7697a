"""Patient data stays out of Temporal, with encryption on and off; keys rotate mid-journey.

A journey is admitted from an intake document full of distinctive identifying values and run
from intake to the end of follow-up. Then every history event of every run (payloads decoded
and, when encrypted, decrypted), every search attribute, the static summary and every log line
are scanned for those values: none may appear. With encryption on, the stored history is also
checked to hold no milestone, summary or refusal text in clear.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from pydantic import SecretStr
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from activities.delivery import delivery_id
from cellpath.codec import KEY_ID, KeyRing, new_key_entry
from cellpath.config import Settings
from cellpath.connection import data_converter
from cellpath.runtime import create_worker
from cellpath.scenarios import drive_long_journey, record, start
from cellpath.services.intake import admit
from cellpath.store import CaseStore
from models.messages import MilestoneInput, WithdrawInput
from tests.builders import follow_up_protocol, intake_document, journey_input
from tests.history_text import decoded_text, message_text, raw_text
from workflows import PatientJourney

PATIENT = {
    "full_name": "Wilhelmina Zzyzx-Featherstonehaugh",
    "birth_date": "1959-07-23",
    "nationality": "NZ",
    "passport_number": "LA8830179",
    "email": "w.zzyzx.featherstone@example.net",
    "phone": "+64 21 555 0199",
}
PHI_VALUES = [v for k, v in PATIENT.items() if k != "nationality"]  # "NZ" matches base64 noise


def client_with(env_client: Client, converter: DataConverter) -> Client:
    """Another client on the same server with its own data converter."""
    return Client(
        env_client.service_client, namespace=env_client.namespace, data_converter=converter
    )


@asynccontextmanager
async def worker_on(
    client: Client, queue: str, store: CaseStore, **overrides: object
) -> AsyncIterator[None]:
    async with create_worker(client, task_queue=queue, store=store, **overrides):
        yield


async def all_runs(client: Client, workflow_id: str, first_run: str) -> list[str]:
    """Run ids of a journey's continue-as-new chain, first to last."""
    runs, run_id = [], first_run
    while run_id:
        runs.append(run_id)
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    return runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def delivery_histories(client: Client, store: CaseStore, case_id: str) -> list[str]:
    """The decoded text of every delivery of a case's notifications, once each has ended."""
    texts = []
    for n in store.notifications(case_id):
        handle = client.get_workflow_handle(delivery_id(n.idempotency_key))
        await handle.result()
        texts.append(await decoded_text(await handle.fetch_history(), None))
    return texts


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_no_identifying_value_reaches_temporal(env, store: CaseStore, log_lines, encrypted):
    ring = KeyRing.parse(new_key_entry("phi-test")) if encrypted else None
    client = client_with(env.client, data_converter(ring=ring))
    queue = f"phi-{'encrypted' if encrypted else 'plain'}"
    doc = intake_document(
        PATIENT,
        home_timezone="Pacific/Auckland",
        protocol=follow_up_protocol(2).model_dump(mode="json"),
    )
    # Unencrypted, the journey's notifications are also delivered (the family by e-mail, to a
    # real SMTP server here): their delivery histories must hold no identifying value either.
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the test server's own chatter
    mail = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    mail.start()
    # Every notification through its own delivery workflow (not sent directly by the outbox
    # write), so that every delivery leaves a history to search.
    settings = Settings(
        smtp_url=SecretStr(f"smtp://127.0.0.1:{mail.port}"),
        delivery_retry_seconds=1,
        delivery_direct=False,
    )
    try:
        async with worker_on(client, queue, store, settings=settings, deliver=not encrypted):
            inp, first_run = await admit(doc, store=store, client=client, task_queue=queue)
            handle = client.get_workflow_handle_for(PatientJourney.run, f"journey-{inp.case_id}")
            # A signal that fails validation is kept (with its raw text) in the journey's state.
            await handle.signal(
                PatientJourney.milestone, MilestoneInput(kind="discharged", actor="x")
            )
            await drive_long_journey(handle, env.get_current_time, env.sleep, years=2)
            result = await handle.result()
            deliveries = [] if encrypted else await delivery_histories(client, store, inp.case_id)
    finally:
        mail.stop()
    if not encrypted:
        family = [d for d in deliveries if "patient_family" in d]
        assert family and len(deliveries) == len(store.notifications(inp.case_id))
    assert result.phase == "closed" and result.outcome == "completed"
    assert store.patient(inp.patient_ref).full_name == PATIENT["full_name"]

    runs = await all_runs(client, handle.id, first_run)
    assert len(runs) >= 3  # monitoring, follow-up, the yearly run
    codec = client.data_converter.payload_codec
    texts, attributes = [], []
    for run_id in runs:
        run = client.get_workflow_handle(handle.id, run_id=run_id)
        history = await run.fetch_history()
        texts.append(await decoded_text(history, codec))
        # The raw description: the time-skipping server's datetime attributes lack the type
        # metadata `describe()` decodes with. Its payloads are walked like the history's.
        raw = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=handle.id, run_id=run_id),
            )
        )
        attributes.append(await message_text(raw.workflow_execution_info.search_attributes, None))
        attributes.append(await message_text(raw.execution_config.user_metadata, codec))
        if encrypted:
            stored = await raw_text(history)
            # Search attributes (case id, phase, coordinator…) stay readable: visibility needs
            # them, and they hold no PHI by design. Everything else is ciphertext.
            for clear in ("records_complete", "Records intake SLA", "Reminder:", inp.patient_ref):
                assert clear not in stored, clear
            assert f"{KEY_ID}=phi-test" in stored
    history_text = "\n".join(texts + deliveries)
    assert "records_complete" in history_text and inp.patient_ref in history_text  # it decodes
    logs = json.dumps(log_lines())
    assert inp.case_id in logs
    for value in PHI_VALUES:
        assert value not in history_text, value
        assert value not in "\n".join(attributes), value
        assert value not in logs, value


async def test_failure_messages_are_encoded_when_encrypting():
    """An exception's message and stack go into an encrypted attribute, not clear text."""
    converter = data_converter(ring=KeyRing.parse(new_key_entry("f")))
    failure = Failure()
    converter.failure_converter.to_failure(
        ApplicationError("wrong phase for CN-1: expected pi_review"),
        converter.payload_converter,
        failure,
    )
    assert failure.message == "Encoded failure"
    assert "pi_review" in str(failure)  # inside the attribute that the codec then encrypts
    [sealed] = await converter.payload_codec.encode([failure.encoded_attributes])
    assert b"pi_review" not in sealed.SerializeToString()
    plain, unencrypted = Failure(), data_converter(ring=None)
    unencrypted.failure_converter.to_failure(
        ApplicationError("visible"), unencrypted.payload_converter, plain
    )
    assert plain.message == "visible"


async def test_keys_rotate_mid_journey(env, store: CaseStore, case_id):
    """Start under key A; rotate to B (A kept for decryption); the journey finishes."""
    key_a, key_b = new_key_entry("key-a"), new_key_entry("key-b")
    queue = "rotation"
    client_a = client_with(env.client, data_converter(ring=KeyRing.parse(key_a)))
    # No sticky cache: the time-skipping server never moves a stopped worker's sticky tasks back
    # to the shared queue (a real server does after a few seconds).
    async with worker_on(client_a, queue, store, max_cached_workflows=0):
        inp = journey_input(case_id, protocol=follow_up_protocol(2))
        handle_a = await start(client_a, inp, queue)
        await record(handle_a, "record_received", record_type="imaging")
    # The rotation: every process restarts with B first (encrypts) and A still in the ring.
    client_b = client_with(env.client, data_converter(ring=KeyRing.parse(f"{key_b},{key_a}")))
    handle = client_b.get_workflow_handle_for(PatientJourney.run, handle_a.id)
    async with worker_on(client_b, queue, store):
        # The new worker has no cache: it replays the history written under A, then goes on.
        await drive_long_journey(handle, env.get_current_time, env.sleep, years=2)
        result = await handle.result()
        timeline = await handle.query(PatientJourney.timeline)
    assert result.outcome == "completed"
    first_run = client_b.get_workflow_handle(handle.id, run_id=handle_a.result_run_id)
    stored = await raw_text(await first_run.fetch_history())
    assert f"{KEY_ID}=key-a" in stored and f"{KEY_ID}=key-b" in stored
    assert timeline[0].kind == "record_received"  # written under A, read under B


async def completed(client: Client, workflow_id: str) -> None:
    """Wait until a journey has completed, without awaiting its result (which would let the
    shared time-skipping server skip ten years)."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    for _ in range(200):
        described = await client.workflow_service.describe_workflow_execution(request)
        if described.workflow_execution_info.status == WorkflowExecutionStatus.COMPLETED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} did not complete")


async def test_rotation_is_safe_in_any_restart_order(env, store: CaseStore, case_id):
    """A message sealed with a key the workers lack is refused (or kept as rejected), never
    fails the journey's task; rotating in two steps works whatever restarts first."""
    key_a, key_b = new_key_entry("rot-a"), new_key_entry("rot-b")
    queue = "rotation-order"

    def client_for(ring: str) -> Client:
        return client_with(env.client, data_converter(ring=KeyRing.parse(ring)))

    a_only, a_then_b, b_then_a = (
        client_for(key_a),
        client_for(f"{key_a},{key_b}"),
        client_for(f"{key_b},{key_a}"),
    )
    handle_a = await start(a_only, journey_input(case_id), queue)
    # The wrong order: a CLI host already encrypts with B while the workers know only A.
    async with worker_on(a_only, queue, store, max_cached_workflows=0):
        await record(handle_a, "record_received", record_type="imaging")
        early = b_then_a.get_workflow_handle_for(PatientJourney.run, handle_a.id)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await record(early, "record_received", record_type="labs")
        assert "encrypted with a key this worker does not have" in refused.value.cause.message
        await early.signal(
            PatientJourney.milestone, MilestoneInput(kind="record_received", actor="early")
        )
        s = await handle_a.query(PatientJourney.status)
        assert "encrypted with a key this worker does not have" in s.rejected[-1].reason
        assert s.records_on_file == ["imaging"] and s.milestone_count == 1
    # Step 1: B added after A everywhere (decrypts only), any order. Step 2: B promoted.
    async with worker_on(a_then_b, queue, store, max_cached_workflows=0):
        # A client promoted before the workers: they decrypt B already.
        promoted = b_then_a.get_workflow_handle_for(PatientJourney.run, handle_a.id)
        await record(promoted, "record_received", record_type="labs")
    async with worker_on(b_then_a, queue, store, max_cached_workflows=0):
        # A client not yet promoted writes with A, which the promoted workers still read.
        late = a_then_b.get_workflow_handle_for(PatientJourney.run, handle_a.id)
        await record(late, "record_received", record_type="pathology")
        s = await promoted.query(PatientJourney.status)
        # Closed while a worker polls its queue: a journey with a task nobody will take
        # holds the shared time-skipping server still for every later test.
        await promoted.execute_update(
            PatientJourney.withdraw, WithdrawInput(reason="test over", actor="tests")
        )
        # A write a stopped worker had started ends only at its timeout: let the clock move.
        await env.sleep(timedelta(minutes=1))
        await completed(env.client, promoted.id)
    assert s.records_on_file == ["imaging", "labs", "pathology"]
