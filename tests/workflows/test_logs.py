"""Logs: one structlog pipeline, JSON lines with Temporal ids as fields, and no PHI in any line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from cellpath.scenarios import observe, record, start, to_infusion
from cellpath.store import CaseStore
from cellpath.store.tables import Patient
from tests.builders import journey_input
from tests.support import TEST_QUEUE

pytestmark = pytest.mark.usefixtures("worker")

PHI = {"full_name": "Philomena Ozymandias-Quill", "passport_number": "PQ7766554"}


async def test_logs_are_json_with_temporal_ids_and_no_phi(
    env, case_id, store: CaseStore, log_lines
):
    inp = journey_input(case_id)
    with store.session() as session:
        store.add_patient(
            session,
            Patient(
                patient_ref=inp.patient_ref,
                birth_date=date(1958, 3, 14),
                nationality="FR",
                created_at=datetime.now(UTC),
                **PHI,
            ),
            case_id,
        )
    handle = await start(env.client, inp, TEST_QUEUE)
    await to_infusion(handle, (await env.get_current_time()).date())
    await env.sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    await observe(handle, temperature_c=39.0, systolic_bp=85)  # an urgent alert
    await env.sleep(timedelta(minutes=5))
    await handle.signal("milestone", {"kind": "discharged", "actor": "bridge"})  # refused
    await env.sleep(timedelta(minutes=5))

    lines = [line for line in log_lines() if line.get("case_id") == case_id]
    events = {line["event"] for line in lines}
    assert {"journey run started", "notification_queued", "milestone signal refused"} <= events
    started = next(line for line in lines if line["event"] == "journey run started")
    assert started["workflow_id"] == f"journey-{case_id}" and started["run_id"]
    assert started["logger"] == "temporalio.workflow" and started["level"] == "info"
    text = json.dumps(log_lines())
    for value in (*PHI.values(), "1958-03-14"):
        assert value not in text
