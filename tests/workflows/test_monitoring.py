"""Monitoring and long-term follow-up on the time-skipping server.

The clinical promises of the product: a grade-2 CRS reaches the on-call physician at once, a
critical alert repeats until a physician acknowledges it, discharge waits until it is safe, and
a CAR-T journey is followed for fifteen years in runs that each stay small.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cellpath.scenarios import (
    acknowledge,
    drive_long_journey,
    observe,
    record,
    start,
    status,
    to_infusion,
)
from cellpath.store import CaseStore
from models.enums import Outcome, Phase
from models.examples import DISCHARGE
from tests.builders import journey_input
from tests.support import TEST_QUEUE, refused
from workflows import PatientJourney

pytestmark = pytest.mark.usefixtures("worker")

CRS2 = {"temperature_c": 38.9, "systolic_bp": 85}
CRS3 = {"temperature_c": 39.2, "systolic_bp": 95, "vasopressors": 1}


async def infused(env: WorkflowEnvironment, case_id: str):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_infusion(handle, (await env.get_current_time()).date())
    await env.sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    return handle


def alert_rows(store: CaseStore, case_id: str) -> list:
    return [n for n in store.notifications(case_id) if n.kind == "alert"]


async def test_grade_2_crs_on_day_3_reaches_the_on_call_physician_within_a_minute(
    env: WorkflowEnvironment, case_id: str, store: CaseStore
):
    handle = await infused(env, case_id)
    await env.sleep(timedelta(days=3, hours=2))
    observed = await env.get_current_time()
    ack = await observe(handle, **CRS2)
    assert (ack.crs_grade, [a.severity for a in ack.alerts]) == (2, ["urgent"])
    await env.sleep(timedelta(minutes=1))
    (row,) = alert_rows(store, case_id)
    assert (row.recipient, row.recipient_ref, row.severity) == (
        "on_call_physician",
        "site-a",
        "urgent",
    )
    assert row.text.startswith("CRS grade 2 on day 3")
    assert row.scheduled_for - observed < timedelta(minutes=1)
    tox = (await status(handle)).toxicity
    assert (tox.crs_current, tox.crs_worst) == (2, 2)


async def test_a_critical_alert_repeats_until_a_physician_acknowledges_it(
    env: WorkflowEnvironment, case_id: str, store: CaseStore
):
    handle = await infused(env, case_id)
    await env.sleep(timedelta(days=2))
    (alert,) = (await observe(handle, **CRS3)).alerts
    assert alert.severity == "critical"
    await env.sleep(timedelta(minutes=50))
    assert len(alert_rows(store, case_id)) == 4  # raised, then at 15, 30 and 45 minutes
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await acknowledge(handle, "no-such-alert")
    assert "expected one of the open alerts" in err.value.cause.message
    acked = await acknowledge(handle, alert.id, note="tocilizumab 8 mg/kg given")
    assert (acked.acknowledged, acked.acknowledged_by, acked.repeats) == (True, "dr-wang", 3)
    await env.sleep(timedelta(hours=2))
    assert len(alert_rows(store, case_id)) == 4
    timeline = await handle.query(PatientJourney.timeline)
    assert timeline[-1].kind == "alert_acknowledged" and timeline[-1].actor == "dr-wang"


async def test_discharge_is_refused_naming_the_failing_condition_then_accepted(
    env: WorkflowEnvironment, case_id: str
):
    handle = await infused(env, case_id)
    await env.sleep(timedelta(days=27))
    (alert,) = (await observe(handle, **CRS3)).alerts
    # A critical alert in a trial is reported to the sponsor (its deadline's escalation would
    # otherwise fire as the refusal below is checked, changing the status it compares).
    await record(handle, "sae_reported", sponsor_reference="SP-1")
    # Seven minutes off the alert's 15-minute repeats: an update landing on the instant a timer
    # fires wedges the time-skipping server ("Already accepted update"), and every test after it.
    await env.sleep(timedelta(days=1, hours=1, minutes=7))
    message = await refused(handle, "discharged", "discharge refused")
    assert "critical alert(s) not acknowledged" in message and "CRS grade 3 observed" in message
    await acknowledge(handle, alert.id)
    message = await refused(handle, "discharged", "CRS grade 3 observed")
    assert "critical" not in message
    await env.sleep(timedelta(hours=49, minutes=7))
    await observe(handle)
    ack = await record(handle, "discharged", **DISCHARGE)
    assert ack.phase is Phase.FOLLOW_UP


async def test_fifteen_years_of_follow_up_in_small_runs(
    env: WorkflowEnvironment, case_id: str, store: CaseStore
):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    first_run = handle.result_run_id
    done = await drive_long_journey(handle, env.get_current_time, env.sleep)
    result = await handle.result()
    assert (result.phase, result.outcome) == (Phase.CLOSED, Outcome.COMPLETED)

    # The timeline is whole in the last run: every milestone since intake.
    timeline = await handle.query(PatientJourney.timeline)
    kinds = [e.kind for e in timeline]
    assert len(kinds) == done.milestones == result.milestone_count
    assert kinds[0] == "record_received" and kinds[-1] == "follow_up_completed"
    assert "translation_verified" in kinds  # the English pathology report, for the PI
    # The product's chain went with it: the lab, the courier, the ward.
    assert [c.to_party for c in result.custody] == ["cell-lab", "courier cryo-courier", "ward"]
    # The family's money went with it: a quote accepted, its deposit paid (Decimal, exact).
    ledger = result.ledger
    assert ledger is not None and (ledger.accepted_version, ledger.deposit_paid) == (
        1,
        Decimal("2000"),
    )
    assert [e.data["year"] for e in timeline if e.kind == "long_term_check_in"] == list(
        range(2, 16)
    )

    # Every run stays well under 2,000 history events.
    sizes, run_id = [], first_run
    while run_id:
        history = await env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        sizes.append(len(history.events))
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    assert max(sizes) < 2_000, sizes
    assert len(sizes) >= 16  # monitoring, follow-up, then at least one run a year

    # Each yearly check-in was reminded when its window opened (the anniversary), on time.
    reminders = [
        n
        for n in store.notifications(case_id)
        if n.deadline == "long_term_check_in" and n.kind == "reminder"
    ]
    assert len(reminders) == 14
    for year, n in zip(range(2, 16), sorted(reminders, key=lambda n: n.scheduled_for), strict=True):
        expected = done.infused_at + timedelta(days=365 * year)
        assert abs(n.scheduled_for - expected) < timedelta(minutes=1), (year, n.scheduled_for)
        assert n.text.startswith(f"Reminder: Long-term follow-up check-in, year {year}")
