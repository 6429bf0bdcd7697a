"""`PatientJourney` on the time-skipping server: phases, exits, refusals, timers, continue-as-new.

Virtual time only moves while a test awaits a result or `env.sleep()`; reminder times are read
from the outbox's `scheduled_for`, which is the workflow's own clock when the timer fired.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.testing import WorkflowEnvironment

from cellpath.scenarios import (
    arrive_and_clear,
    drive_long_journey,
    observe,
    record,
    start,
    status,
    to_arrival,
    to_infusion,
    to_logistics,
    to_pi_review,
)
from cellpath.store import CaseStore
from models.enums import CellSource, Outcome, Phase
from models.examples import DISCHARGE, ELIGIBLE, PI_ACCEPTED, readiness
from models.messages import MilestoneInput, RescheduleInput, WithdrawInput
from models.protocol import ProtocolConfig
from tests.builders import Case, follow_up_protocol, journey_input
from tests.support import TEST_QUEUE, refused
from workflows import PatientJourney
from workflows.boundary import details

pytestmark = pytest.mark.usefixtures("worker")


# Follow-up completes only when every scheduled follow-up is recorded: a short protocol (three
# monthly visits, responses at months 1 and 3, the registry's pre-infusion and infusion forms
# only, no yearly check-ins) keeps this journey to a few months.
SHORT_FOLLOW_UP = ProtocolConfig(
    name="short_follow_up",
    telemedicine_months=3,
    response_months=(1, 3),
    registry_windows=(),
    long_term_follow_up_therapies=(),
)


async def test_full_autologous_journey_completes_across_runs(env: WorkflowEnvironment, case_id):
    handle = await start(env.client, journey_input(case_id, protocol=SHORT_FOLLOW_UP), TEST_QUEUE)
    now = await env.get_current_time()
    await to_infusion(handle, now.date())
    await env.sleep(timedelta(hours=30))
    ack = await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    assert ack.phase is Phase.MONITORING
    await observe(handle)
    await record(handle, "registry_reported", window="pre_infusion", form="CIBMTR F4000")
    await record(handle, "registry_reported", window="infusion", form="CIBMTR F4006")
    await env.sleep(timedelta(days=28))
    await record(handle, "discharged", **DISCHARGE)
    await record(handle, "returned_home")
    for month in (1, 2, 3):
        await env.sleep(timedelta(days=30))
        await record(handle, "telemedicine_completed", month=month)
        if month in (1, 3):
            await record(handle, "response_assessed", response="CR", method="PET-CT")
    await record(handle, "follow_up_completed")
    result = await handle.result()
    assert (result.phase, result.outcome) == (Phase.CLOSED, Outcome.COMPLETED)
    # Continued as new at monitoring and at follow-up; the timeline is whole in the last run.
    assert result.run_count == 3
    timeline = await handle.query(PatientJourney.timeline)
    # 20 milestones to infusion, 4 consents and the readiness check of rules version 5; two
    # registry forms and two responses after it.
    assert result.milestone_count == len(timeline) == 33
    assert [e.kind for e in timeline][:2] == ["records_complete", "eligibility_assessed"]
    assert timeline[-1].kind == "follow_up_completed"


async def test_allogeneic_journey_reserves_and_thaws_the_product(env, case_id):
    inp = journey_input(case_id, cell_source=CellSource.ALLOGENEIC)
    handle = await start(env.client, inp, TEST_QUEUE)
    await to_infusion(handle, (await env.get_current_time()).date(), allogeneic=True)
    await env.sleep(timedelta(hours=26))
    await refused(
        handle, "infusion_completed", "product_thawed before", lot="LOT-NK-1", coi_id="COI-NK-1"
    )
    await record(handle, "product_thawed", lot="LOT-NK-1")
    ack = await record(handle, "infusion_completed", lot="LOT-NK-1", coi_id="COI-NK-1")
    assert ack.phase is Phase.MONITORING
    assert (await status(handle)).alerts == []


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("ineligible", Outcome.INELIGIBLE),
        ("declined", Outcome.DECLINED),
        ("not_cleared", Outcome.NOT_CLEARED),
        ("manufacturing_failed", Outcome.MANUFACTURING_FAILED),
    ],
)
async def test_exits_close_the_journey_with_their_outcome(env, case_id, path, outcome):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    if path == "ineligible":
        await record(
            handle,
            "records_complete",
            records=["pathology", "imaging", "treatment_history", "labs"],
        )
        await record(
            handle,
            "eligibility_assessed",
            outcome="ineligible",
            reviewer="dr-li",
            signature_meaning="reviewed",
        )
    elif path == "declined":
        await to_pi_review(handle)
        for site in ("site-a", "site-b"):
            await record(handle, "submitted_to_pi", site=site)
            await record(
                handle, "pi_decision", site=site, decision="declined", signature_meaning="reviewed"
            )
    elif path == "not_cleared":
        await to_arrival(handle, (await env.get_current_time()).date())
        await record(handle, "patient_arrived")
        await record(handle, "pretreatment_cleared", outcome="not_cleared")
    else:
        await to_arrival(handle, (await env.get_current_time()).date())
        await arrive_and_clear(handle)
        for n in (1, 2):
            await record(handle, "apheresis_completed", coi_id=f"COI-{n}")
            await record(handle, "manufacturing_started")
            await record(handle, "manufacturing_failed", reason="insufficient expansion")
    result = await handle.result()
    assert (result.phase, result.outcome) == (Phase.CLOSED, outcome)
    assert result.open_deadlines == []


async def test_withdraw_closes_with_reason_in_the_timeline(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(PatientJourney.withdraw, WithdrawInput(reason="", actor="c"))
    assert err.value.cause.message == "reason is required: why the journey is withdrawn"
    ack = await handle.execute_update(
        PatientJourney.withdraw, WithdrawInput(reason="family decision", actor="coord-1")
    )
    assert ack.phase is Phase.CLOSED
    result = await handle.result()
    assert result.outcome is Outcome.WITHDRAWN
    last = (await handle.query(PatientJourney.timeline))[-1]
    assert (last.kind, last.actor, last.note) == ("withdraw", "coord-1", "family decision")


async def test_refusals_explain_and_change_nothing(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    now = await env.get_current_time()
    await record(
        handle, "records_complete", records=["pathology", "imaging", "treatment_history", "labs"]
    )
    msg = await refused(handle, "infusion_completed", "not expected", lot="L", coi_id="C")
    assert msg == (
        "milestone 'infusion_completed' is not expected in phase 'pre_assessment'; "
        "expected one of: eligibility_assessed"
    )
    await refused(handle, "warp_drive", "unknown milestone kind")
    await refused(handle, "eligibility_assessed", "outcome", reviewer="dr-li")
    await refused(
        handle,
        "eligibility_assessed",
        "in the future",
        outcome="eligible",
        reviewer="dr",
        at=now + timedelta(days=1),
    )
    await refused(
        handle,
        "eligibility_assessed",
        "before the previous milestone",
        outcome="eligible",
        reviewer="dr",
        at=now - timedelta(days=1),
    )
    await refused(
        handle,
        "eligibility_assessed",
        "at most 2000",
        outcome="eligible",
        reviewer="dr",
        note="n" * 2001,
    )
    await record(handle, "eligibility_assessed", reviewer="dr-li", **ELIGIBLE)
    await refused(handle, "submitted_to_pi", "not one of this case's sites", site="site-x")


async def test_chain_of_identity_and_discharge_refusals(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_arrival(handle, (await env.get_current_time()).date())
    await arrive_and_clear(handle)
    await record(handle, "apheresis_completed", coi_id="COI-001")
    await record(handle, "manufacturing_started")
    await refused(
        handle, "product_released", "chain of identity mismatch", lot="LOT-001", coi_id="COI-999"
    )
    await record(handle, "product_released", lot="LOT-001", coi_id="COI-001")
    # Rules v5: the readiness gate names every item missing; the refusal changes nothing.
    message = await refused(handle, "conditioning_started", "not ready")
    assert message == (
        "conditioning_started refused: not ready — tls_prophylaxis: tumour-lysis prophylaxis "
        "started ≥ 24 h before; tocilizumab: 0 of 2 doses of tocilizumab on hand; icu_bed: ICU "
        "bed confirmed; caregiver: caregiver present"
    )
    now = await env.get_current_time()
    await record(handle, "readiness_checked", **readiness(now))
    await record(handle, "conditioning_started")
    await record(handle, "conditioning_completed")
    await env.sleep(timedelta(hours=25))
    await refused(
        handle, "infusion_completed", "chain of identity", lot="LOT-001", coi_id="COI-002"
    )
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    await env.sleep(timedelta(days=10))
    await refused(handle, "discharged", "discharge is allowed from day 28")


async def test_duplicate_milestone_id_acknowledged_once(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    first = await record(handle, "record_received", record_type="labs", milestone_id="lab-1")
    again = await record(handle, "record_received", record_type="labs", milestone_id="lab-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert (await status(handle)).milestone_count == 1


async def test_invalid_signals_are_kept_not_dropped(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await handle.signal(
        PatientJourney.milestone, MilestoneInput(kind="patient_arrived", actor="his-bridge")
    )
    await handle.signal(
        "milestone",
        RawValue(env.client.data_converter.payload_converter.to_payload(["not", "a", "milestone"])),
    )
    await handle.signal(
        PatientJourney.milestone,
        MilestoneInput(kind="record_received", actor="his-bridge", data={"record_type": "labs"}),
    )
    s = await status(handle)
    assert [r.kind for r in s.rejected] == ["patient_arrived", "?"]
    assert "not expected in phase 'intake'" in s.rejected[0].reason
    assert s.rejected[0].milestone.actor == "his-bridge"
    assert "expected a JSON object" in s.rejected[1].reason
    assert s.records_on_file == ["labs"]


async def test_reminders_and_escalations_fire_at_the_right_virtual_time(
    env, case_id, store: CaseStore
):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    t0 = await env.get_current_time()
    await record(handle, "record_received", record_type="pathology")
    await env.sleep(timedelta(days=3, minutes=1))
    reminders = [n for n in store.notifications(case_id) if n.kind == "reminder"]
    assert len(reminders) == 1
    assert abs(reminders[0].scheduled_for - (t0 + timedelta(days=3))) < timedelta(minutes=1)
    assert "still missing: imaging, treatment_history, labs" in reminders[0].text
    await env.sleep(timedelta(days=11))  # due at day 14: level 1 → lead coordinator
    s = await status(handle)
    (records,) = s.open_deadlines
    assert (records.name, records.overdue, records.escalation_level) == ("records", True, 1)
    await env.sleep(timedelta(days=2))  # + 48 h: level 2 → medical director
    sent = [(n.kind, n.level, n.recipient) for n in store.notifications(case_id)]
    assert sent == [("reminder", 0, "coordinator")] * 4 + [
        ("escalation", 1, "lead_coordinator"),
        ("escalation", 2, "medical_director"),
    ]
    level1 = store.notifications(case_id)[4]
    assert abs(level1.scheduled_for - (t0 + timedelta(days=14))) < timedelta(minutes=1)
    row = next(r for r in store.list_journeys() if r.case_id == case_id)
    assert (row.overdue, row.escalation_level, row.next_deadline) == (True, 2, "records")


async def test_reschedule_moves_a_deadline_and_resets_escalation(env, case_id, store):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await env.sleep(timedelta(days=15))
    assert (await status(handle)).open_deadlines[0].escalation_level == 1
    now = await env.get_current_time()
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            PatientJourney.reschedule,
            RescheduleInput(
                deadline="pi_decision", due_at=now + timedelta(days=5), reason="r", actor="lead"
            ),
        )
    view = await handle.execute_update(
        PatientJourney.reschedule,
        RescheduleInput(
            deadline="records",
            due_at=now + timedelta(days=5),
            reason="records in translation",
            actor="lead-1",
        ),
    )
    assert (view.escalation_level, view.overdue) == (0, False)
    await env.sleep(timedelta(days=5, minutes=1))
    assert (await status(handle)).open_deadlines[0].escalation_level == 1
    last = [e for e in await handle.query(PatientJourney.timeline) if e.kind == "reschedule"]
    assert last[0].note == "records in translation"


async def test_missed_infusion_window_alerts_the_on_call_physician(env, case_id, store):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_infusion(handle, (await env.get_current_time()).date())
    await env.sleep(timedelta(hours=48, minutes=1))
    s = await status(handle)
    assert [a.kind for a in s.alerts] == ["deadline_breached"]
    window = next(d for d in s.open_deadlines if d.name == "infusion_window")
    assert window.overdue
    urgent = [
        n
        for n in store.notifications(case_id)
        if n.deadline == "infusion_window" and n.kind == "escalation"
    ]
    assert [(n.recipient, n.severity) for n in urgent] == [("on_call_physician", "urgent")]


async def test_missed_daily_observation_reminds_the_site_then_escalates(env, case_id, store):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_infusion(handle, (await env.get_current_time()).date())
    await env.sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    await observe(handle)
    await env.sleep(timedelta(hours=24, minutes=1))
    sent = [
        (n.kind, n.recipient) for n in store.notifications(case_id) if n.deadline == "observation"
    ]
    assert sent == [("reminder", "site_coordinator"), ("escalation", "lead_coordinator")]
    ack = await observe(handle)
    assert ack.accepted
    obs = next(d for d in (await status(handle)).open_deadlines if d.name == "observation")
    assert obs.escalation_level == 0


async def test_logistics_and_pi_deadlines_visible_in_acks(env, case_id):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_pi_review(handle)
    ack = await record(handle, "submitted_to_pi", site="site-b")
    assert [d.name for d in ack.next_deadlines] == ["pi_decision"]
    await record(handle, "pi_decision", site="site-b", **PI_ACCEPTED)
    s = await status(handle)
    assert (s.phase, s.current_site) == (Phase.LOGISTICS, "site-b")
    assert [d.name for d in s.open_deadlines] == ["logistics"]


async def test_audit_and_projection_reach_the_case_store(env, case_id, store):
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_logistics(handle)
    # The write follows the journey's answer: waited for (a loaded machine once took longer
    # than the 5 s of skipped time this test used to wait).
    for _ in range(400):
        row = store.journey_row(case_id)
        if row is not None and row.phase == "logistics":
            break
        await asyncio.sleep(0.025)
    actions = [a.action for a in store.audit_trail(case_id)]
    assert actions[0] == "journey_started"
    assert "milestone:pi_decision" in actions
    assert row is not None
    assert (row.phase, row.site, row.coordinator) == ("logistics", "site-a", "coord-1")
    assert handle  # the journey is still open


async def test_search_attributes_are_upserted_on_the_time_skipping_server(env, case_id):
    # `env` registered them with ensure_search_attributes; without it this upsert fails.
    from workflows import visibility as va

    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    await to_logistics(handle)
    sa = (await handle.describe()).typed_search_attributes
    assert sa.get(va.JOURNEY_PHASE) == "logistics"
    assert sa.get(va.SITE) == "site-a"
    assert sa.get(va.CASE_ID) == case_id
    assert sa.get(va.OVERDUE) is False
    logistics = next(d for d in (await status(handle)).open_deadlines if d.name == "logistics")
    assert sa.get(va.NEXT_DEADLINE_AT) == logistics.due_at


async def test_every_activity_and_timer_of_a_journey_carries_a_summary(env, case_id):
    inp = journey_input(case_id, protocol=follow_up_protocol(2))
    handle = await start(env.client, inp, TEST_QUEUE)
    first_run = handle.result_run_id
    await drive_long_journey(handle, env.get_current_time, env.sleep, years=2)
    await handle.result()
    missing, seen, run_id = [], 0, first_run
    while run_id:
        history = await env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        for e in history.events:
            marker = e.marker_recorded_event_attributes
            needs = (
                e.HasField("activity_task_scheduled_event_attributes")
                or e.HasField("timer_started_event_attributes")
                or (
                    e.HasField("marker_recorded_event_attributes")
                    and marker.marker_name == "core_local_activity"
                )
            )
            if needs:
                seen += 1
                if not e.user_metadata.summary.data:
                    missing.append((run_id, e.event_id, e.event_type))
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    assert seen > 100 and missing == []
    first = await env.client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
    assert first.events[0].user_metadata.summary.data  # the static summary


def test_the_ui_details_show_what_is_next_and_what_stood_down():
    """The Temporal UI's current details: what the journey waits for, open alerts, and an
    escalation stood down because the deadline was met on time (recorded late)."""
    c = Case()
    c.to_conditioning()
    c.at(days=4)
    c.record("conditioning_completed", occurred_at=c.now - timedelta(hours=50))
    c.at(minutes=31)
    c.j.fire_deadlines(c.now)
    shown = details(c.j)
    assert "waiting for: `infusion_completed`" in shown and "🚨 urgent `deadline_breached`" in shown
    c.at(minutes=5)
    c.record(
        "infusion_completed", occurred_at=c.now - timedelta(hours=26), lot="LOT-1", coi_id="COI-1"
    )
    shown = details(c.j)
    assert "🚨" not in shown
    assert "✅ `infusion_window` stood down: infusion_completed at" in shown


def test_the_ui_details_shorten_an_alert_at_a_word_never_mid_word():
    from workflows.boundary import _words

    text = "Escalation level 1: infusion window closed without an infusion recorded at site-a"
    short = _words(text, 40)
    assert short.endswith("…") and len(short) <= 40
    assert text.startswith(short[:-1]) and text[len(short) - 1] == " "
    assert _words("short", 40) == "short"
