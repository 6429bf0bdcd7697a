"""The pathway's rules, without Temporal: what is accepted when, what is refused and why."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from models.enums import (
    CellSource,
    NotificationKind,
    Outcome,
    Phase,
    Program,
    Recipient,
    Severity,
)
from models.errors import RefusalCode, Refused
from models.messages import (
    AcknowledgeAlertInput,
    ObservationInput,
    RescheduleInput,
    WithdrawInput,
)
from models.protocol import PRESETS, resolve_protocol
from models.state import JourneyState
from tests.builders import T0, Case, monitoring_case

# --- refusals (issue point 6) ------------------------------------------------------------------


def test_wrong_phase_names_the_phase_and_what_is_expected():
    c = Case()
    c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    msg = c.refused("infusion_completed", "not expected", lot="L", coi_id="C")
    assert msg == (
        "milestone 'infusion_completed' is not expected in phase 'pre_assessment'; "
        "expected one of: eligibility_assessed"
    )


def test_unknown_kind_lists_the_expected_ones():
    msg = Case().refused("paperwork_done", "unknown milestone kind 'paperwork_done'")
    assert "record_received" in msg and "records_complete" in msg


def test_missing_and_malformed_data_say_which_field():
    c = Case()
    msg = c.refused("record_received", "record_type")
    assert "expected: record_type, note?" in msg
    c.refused("record_received", "record_type", record_type="x-ray")
    c.refused("record_received", "is not a field of this form", record_type="labs", colour="blue")


def test_records_complete_refused_while_required_types_are_missing():
    c = Case()
    c.record("record_received", record_type="pathology")
    msg = c.refused("records_complete", "imaging", records=["labs"])
    assert "treatment_history" in msg and "pathology" not in msg.split("requires")[1]


def test_site_not_in_case_and_declined_site_are_refused():
    c = Case()
    c.to_pi_review()
    c.refused("submitted_to_pi", "'site-z' is not one of this case's sites", site="site-z")
    c.record("submitted_to_pi", site="site-a")
    c.refused("submitted_to_pi", "awaiting the PI decision of 'site-a'", site="site-b")
    c.refused(
        "pi_decision", "submitted to 'site-a', not 'site-b'", site="site-b", decision="accepted"
    )
    c.record("pi_decision", site="site-a", decision="declined")
    c.refused("submitted_to_pi", "already declined", site="site-a")


def test_occurred_at_in_the_future_or_before_the_previous_milestone():
    c = Case()
    c.refused(
        "record_received",
        "in the future",
        record_type="labs",
        occurred_at=c.now + timedelta(hours=1),
    )
    c.record("record_received", record_type="labs", occurred_at=c.now - timedelta(hours=1))
    c.refused(
        "record_received",
        "before the previous milestone",
        record_type="imaging",
        occurred_at=c.now - timedelta(hours=2),
    )
    c.refused(
        "record_received",
        "UTC offset",
        record_type="imaging",
        occurred_at=datetime(2026, 11, 1, 10, 0),
    )


def test_note_longer_than_2000_characters():
    msg = Case().refused("record_received", "at most 2000", record_type="labs", note="x" * 2001)
    assert "2001 characters" in msg


def test_actor_is_required():
    Case().refused("record_received", "actor is required", record_type="labs", actor=" ")


def test_chain_of_identity_at_release_and_at_infusion():
    c = Case()
    c.to_arrival()
    c.arrive_and_clear()
    c.record("apheresis_completed", coi_id="COI-1")
    c.refused("product_released", "manufacturing_started", lot="L1", coi_id="COI-1")
    c.record("manufacturing_started")
    said = c.refused("product_released", "coi_id 'COI-2' differs", lot="L1", coi_id="COI-2")
    assert "COI-1" not in said, "the expected CoI must never be shown"
    c.record("product_released", lot="L1", coi_id="COI-1")
    c.record("conditioning_started")
    c.record("conditioning_completed")
    # Which one differs, never the expected value (it must be read from the bag).
    said = c.refused("infusion_completed", "the coi_id given differs", lot="L1", coi_id="COI-9")
    assert "COI-1" not in said
    said = c.refused("infusion_completed", "the lot given differs", lot="L9", coi_id="COI-1")
    assert "'L1'" not in said
    said = c.refused("infusion_completed", "the lot and the coi_id", lot="L9", coi_id="COI-9")
    assert "L1" not in said and "COI-1" not in said
    c.at(hours=30)
    assert c.record("infusion_completed", lot="L1", coi_id="COI-1").phase is Phase.MONITORING


def test_discharge_before_the_earliest_day_names_the_day():
    c = Case()
    c.to_infusion()
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    c.at(days=12)
    msg = c.refused("discharged", "discharge is allowed from day 28")
    assert msg.endswith("it is day 12")
    c.at(days=16)
    assert c.record("discharged").phase is Phase.FOLLOW_UP


def test_cell_source_specific_milestones_are_refused_for_the_other_source():
    c = Case()
    c.to_logistics()
    c.refused("product_reserved", "allogeneic products only", lot="L", coi_id="C")


def test_dependencies_within_logistics():
    c = Case()
    c.to_logistics()
    c.refused(
        "visa_issued", "invitation_letter_issued first", visa_type="S2", valid_until="2027-06-01"
    )
    c.refused("travel_booked", "cost_estimate_accepted first", arrival_date="2026-12-01")
    c.refused("invitation_letter_issued", "accepting site", site="site-b")


def test_duplicate_milestone_id_is_acknowledged_once():
    c = Case()
    first = c.record("record_received", record_type="labs", milestone_id="m-1")
    again = c.record("record_received", record_type="labs", milestone_id="m-1")
    assert not first.duplicate and again.duplicate
    assert [e.kind for e in c.j.state.timeline].count("record_received") == 1
    assert c.j.state.records_on_file == ["labs"]


def test_a_reused_milestone_id_with_other_content_is_refused_as_a_conflict():
    """It used to be acknowledged as a duplicate, and the new data was lost in silence."""
    c = Case()
    c.record("record_received", record_type="labs", milestone_id="m-1")
    msg = c.refused("record_received", "already used", record_type="imaging", milestone_id="m-1")
    assert "with a different data" in msg and "or a new milestone_id" in msg
    msg = c.refused("records_complete", "already used", records=["labs"], milestone_id="m-1")
    assert "different kind ('records_complete', not 'record_received')" in msg
    # Rules version 2 keeps acknowledging it (journeys recorded so replay the same).
    old = Case(rules_version=2)
    old.record("record_received", record_type="labs", milestone_id="m-1")
    assert old.record("record_received", record_type="imaging", milestone_id="m-1").duplicate


def test_closed_journey_refuses_everything():
    c = Case()
    c.j.apply_withdraw(WithdrawInput(reason="family decision", actor="coord-1"), c.now)
    c.refused("record_received", "closed", record_type="labs")
    with pytest.raises(Refused, match="already closed"):
        c.j.check_withdraw(WithdrawInput(reason="again", actor="coord-1"))


# --- paths and effects --------------------------------------------------------------------------


def test_pre_assessment_due_in_five_business_days_in_the_team_zone():
    c = Case()
    c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    # Monday 10:00 Shanghai + 5 business days = next Monday 10:00; reminder at 3 (Thursday).
    d = c.deadline("pre_assessment")
    assert d.due_at == T0 + timedelta(days=7)
    assert d.reminders == [T0 + timedelta(days=3)]
    assert c.deadline("records") is None


def test_more_info_loops_back_and_restarts_the_clock():
    c = Case()
    c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    c.at(days=1)
    c.record("eligibility_assessed", outcome="more_info_needed", reviewer="dr-li")
    assert c.phase is Phase.INTAKE and c.deadline("records").due_at == c.now + timedelta(14)
    c.to_pi_review()
    c.record("submitted_to_pi", site="site-a")
    c.at(days=10)
    c.record("pi_decision", site="site-a", decision="more_info_needed")
    assert c.phase is Phase.PI_REVIEW
    assert c.deadline("pi_decision").due_at == c.now + timedelta(days=21)


def test_declines_fall_through_to_the_next_site_then_close():
    c = Case()
    c.to_pi_review()
    c.record("submitted_to_pi", site="site-a")
    c.record("pi_decision", site="site-a", decision="declined")
    assert c.phase is Phase.PI_REVIEW and c.deadline("pi_submission") is not None
    c.record("submitted_to_pi", site="site-b")
    c.record("pi_decision", site="site-b", decision="declined")
    assert (c.phase, c.j.state.outcome) == (Phase.CLOSED, Outcome.DECLINED)
    assert c.j.open_deadlines() == []


@pytest.mark.parametrize(
    ("setup", "kind", "data", "outcome"),
    [
        (
            "records",
            "eligibility_assessed",
            {"outcome": "ineligible", "reviewer": "dr"},
            Outcome.INELIGIBLE,
        ),
        ("arrived", "pretreatment_cleared", {"outcome": "not_cleared"}, Outcome.NOT_CLEARED),
    ],
)
def test_exits(setup: str, kind: str, data: dict[str, Any], outcome: Outcome):
    c = Case()
    if setup == "records":
        c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    else:
        c.to_arrival()
        c.record("patient_arrived")
    c.record(kind, **data)
    assert (c.phase, c.j.state.outcome) == (Phase.CLOSED, outcome)


def test_manufacturing_failure_recollects_until_attempts_are_exhausted():
    c = Case()
    c.to_arrival()
    c.arrive_and_clear()
    assert c.phase is Phase.COLLECTION
    c.record("apheresis_completed", coi_id="COI-1")
    c.record("manufacturing_started")
    c.record("bridging_therapy_started", regimen="R-GemOx")
    c.record("manufacturing_failed", reason="insufficient expansion")
    assert c.phase is Phase.COLLECTION and c.deadline("apheresis") is not None
    c.record("apheresis_completed", coi_id="COI-2")
    c.record("manufacturing_started")
    said = c.refused("product_released", "recorded at apheresis", lot="L", coi_id="COI-1")
    assert "COI-2" not in said
    c.record("manufacturing_failed", reason="sterility")
    assert (c.phase, c.j.state.outcome) == (Phase.CLOSED, Outcome.MANUFACTURING_FAILED)


def test_allogeneic_thaw_window_and_reserved_lot():
    c = Case(CellSource.ALLOGENEIC)
    c.to_infusion()
    assert c.phase is Phase.INFUSION
    c.at(hours=30)
    c.refused("infusion_completed", "product_thawed before", lot="LOT-NK", coi_id="COI-NK")
    said = c.refused("product_thawed", "differs from the reserved lot", lot="LOT-X")
    assert "LOT-NK" not in said
    c.record("product_thawed", lot="LOT-NK")
    assert c.deadline("thaw_to_infusion").due_at == c.now + timedelta(minutes=60)
    c.at(minutes=40)
    c.record("infusion_completed", lot="LOT-NK", coi_id="COI-NK")
    assert c.j.state.alerts == []
    assert c.phase is Phase.MONITORING


def test_infusion_outside_the_window_is_recorded_and_raises_an_urgent_alert():
    c = Case()
    c.to_infusion()
    c.at(hours=60)
    c.j.take_outbox()
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    assert c.phase is Phase.MONITORING
    (alert,) = c.j.state.alerts
    assert (alert.kind, alert.severity) == ("protocol_deviation", Severity.URGENT)
    notifications, _ = c.j.take_outbox()
    alerts = [n for n in notifications if n.kind is NotificationKind.ALERT]
    assert [n.recipient for n in alerts] == [Recipient.ON_CALL_PHYSICIAN]


def test_short_visa_raises_a_warning():
    c = Case()
    c.to_arrival(visa_days=60)
    (alert,) = c.j.state.alerts
    assert alert.kind == "visa_validity_short" and alert.severity is Severity.WARNING


def test_arrival_opens_registration_clearance_and_visa_extension_deadlines():
    c = Case()
    c.to_arrival()
    assert c.phase is Phase.ARRIVAL and c.deadline("arrival") is not None
    c.at(days=7)
    c.record("patient_arrived")
    assert c.deadline("arrival") is None
    reg = c.deadline("accommodation_registration")
    assert reg.clinical and reg.due_at == c.now + timedelta(hours=24)
    visa = c.deadline("visa_extension")
    valid_until = c.j.state.visa_valid_until
    assert visa.due_at.date() == valid_until - timedelta(days=8)  # midnight Shanghai, in UTC
    c.record("visa_extended", valid_until=str(valid_until + timedelta(days=60)))
    assert c.deadline("visa_extension").due_at > visa.due_at
    c.refused("visa_extended", "not later", valid_until=str(valid_until))


def test_us_label_preset_needs_no_accommodation_registration():
    c = Case(protocol=resolve_protocol("us_label_2025"))
    c.to_arrival()
    c.record("patient_arrived")
    assert c.deadline("accommodation_registration") is None
    c.record("pretreatment_cleared", outcome="cleared")
    assert c.phase is Phase.COLLECTION


# Three months of follow-up, no registry windows or yearly check-ins: a path that completes.
SHORT_FOLLOW_UP = PRESETS["default"].model_copy(
    update={"registry_windows": (), "long_term_follow_up_therapies": ()}
)


@pytest.mark.parametrize("program", list(Program))
def test_full_autologous_path_to_completed(program: Program):
    c = Case(program=program, protocol=SHORT_FOLLOW_UP)
    c.to_infusion()
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    assert c.deadline("observation").due_at == c.now + timedelta(hours=24)
    c.at(days=28)
    c.record("discharged")
    assert c.deadline("telemedicine") is not None and c.deadline("response_assessment")
    c.record("returned_home")
    assert c.deadline("visa_extension") is None
    for month in range(1, 13):
        c.at(days=30)
        c.record("telemedicine_completed", month=month)
        if month == 3:
            c.record("response_assessed", response="CR", method="PET-CT")
    c.refused("telemedicine_completed", "already recorded", month=12)
    assert c.deadline("telemedicine") is None and c.deadline("response_assessment") is None
    c.record("follow_up_completed")
    assert (c.phase, c.j.state.outcome) == (Phase.CLOSED, Outcome.COMPLETED)


# --- observations, reschedule, signals -----------------------------------------------------------


def test_observation_moves_the_schedule_daily_then_twice_weekly():
    c = monitoring_case()
    infused = c.now
    c.at(hours=20)
    obs = ObservationInput(actor="nurse-1", temperature_c=37.2, systolic_bp=118)
    ack = c.j.apply_observation(obs, c.j.check_observation(obs, c.now), c.now)
    assert ack.next_observation_due == c.now + timedelta(hours=24)
    assert (ack.crs_grade, ack.icans_grade, ack.gvhd_grade) == (0, 0, None)
    late = infused + timedelta(days=15)
    c.now = late
    ack = c.j.apply_observation(obs, c.j.check_observation(obs, c.now), c.now)
    assert ack.next_observation_due == late + timedelta(hours=84)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"temperature_c": 60}, "temperature_c"),
        ({"systolic_bp": None}, "required"),
        ({"oxygen_device": "snorkel"}, "oxygen_device"),
        ({"gvhd_skin_bsa_pct": 20}, "allogeneic products only"),
        ({"actor": ""}, "actor is required"),
    ],
)
def test_observation_refusals(fields: dict[str, Any], match: str):
    c = monitoring_case()
    values: dict[str, Any] = {"actor": "nurse-1", "temperature_c": 37, "systolic_bp": 120}
    values.update(fields)
    with pytest.raises(Refused, match=match):
        c.j.check_observation(ObservationInput(**values), c.now)


def test_observation_outside_monitoring_is_refused():
    with pytest.raises(Refused, match="phase 'monitoring'"):
        Case().j.check_observation(
            ObservationInput(actor="n", temperature_c=37, systolic_bp=120), T0
        )


def test_reschedule_refusals_and_effect():
    c = Case()
    r = RescheduleInput(
        deadline="records", due_at=c.now + timedelta(days=30), reason="holiday", actor="lead-1"
    )
    with pytest.raises(Refused, match="expected one of: records"):
        c.j.check_reschedule(r.model_copy(update={"deadline": "pi_decision"}), c.now)
    # Times in refusals carry their zone: "2026-11-01 02:00 UTC", not a bare "02:00".
    with pytest.raises(Refused, match="due_at 2026-11-01 02:00 UTC is not in the future"):
        c.j.check_reschedule(r.model_copy(update={"due_at": c.now - timedelta(1)}), c.now)
    with pytest.raises(Refused, match="reason is required"):
        c.j.check_reschedule(r.model_copy(update={"reason": ""}), c.now)
    c.j.check_reschedule(r, c.now)
    view = c.j.apply_reschedule(r, c.now)
    assert view.due_at == c.now + timedelta(days=30)
    assert c.j.state.timeline[-1].kind == "reschedule"


def test_records_reminders_name_what_is_missing():
    c = Case()
    c.record("record_received", record_type="pathology")
    c.j.take_outbox()
    c.j.fire_deadlines(T0 + timedelta(days=3))
    (n,) = c.j.notifications
    assert n.kind is NotificationKind.REMINDER and n.recipient is Recipient.COORDINATOR
    assert n.text.endswith("still missing: imaging, treatment_history, labs")


def test_every_accepted_milestone_is_audited_with_actor_and_reason():
    c = Case()
    c.j.take_outbox()
    c.record("record_received", record_type="labs", actor="coord-2", note="via portal")
    _, audit = c.j.take_outbox()
    (entry,) = audit
    assert (entry.action, entry.actor, entry.reason) == (
        "milestone:record_received",
        "coord-2",
        "via portal",
    )


def test_state_round_trips_through_json_for_continue_as_new():
    c = monitoring_case()
    restored = JourneyState.model_validate_json(c.j.state.model_dump_json())
    assert restored == c.j.state


def test_protocol_presets_follow_the_domain_table():
    assert PRESETS["default"].earliest_discharge_day == 28
    assert PRESETS["us_label_2025"].daily_monitoring_days == 7
    assert PRESETS["us_rems_legacy"].no_driving_days == 56
    with pytest.raises(ValueError, match="expected one of: default"):
        resolve_protocol("nope")
    assert date(2026, 1, 1)  # keeps the import honest for type checkers


# --- rules version 3: what the integrity issue found wrong in the pathway ------------------------


def _home(**kw: Any) -> Case:
    c = Case(**kw)
    c.to_infusion()
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    c.at(days=28)
    c.record("discharged")
    c.at(days=15)
    c.record("returned_home")
    return c


def test_follow_up_completed_is_refused_naming_what_is_still_scheduled():
    """It closed a CAR-T journey as completed with yearly check-ins 2–15 still open."""
    c = _home()
    for month in (1, 2, 3):
        c.at(days=30)
        c.record("telemedicine_completed", month=month)
    c.record("response_assessed", response="CR")
    msg = c.refused("follow_up_completed", "follow-up is not complete")
    assert msg == (
        "follow-up is not complete: telemedicine month(s) 4–12; registry window(s) day_100, "
        "month_6, year_1; long-term check-in year(s) 2–15; expected each recorded before "
        "follow_up_completed (or withdraw the journey, with the reason, when follow-up ends "
        "early)"
    )
    old = _home(rules_version=2)  # version 2 journeys keep closing as they did
    old.record("follow_up_completed")
    assert old.j.state.outcome is Outcome.COMPLETED


def test_a_visa_extension_that_covers_the_stay_resolves_the_short_validity_warning():
    c = Case()
    c.to_arrival(visa_days=60)  # shorter than the 118-day autologous stay
    (warning,) = [a for a in c.j.state.alerts if a.kind == "visa_validity_short"]
    c.at(days=7)
    c.record("patient_arrived")
    c.record("visa_extended", valid_until=str(c.now.date() + timedelta(days=90)))
    assert warning.open  # still short of the stay
    c.record("visa_extended", valid_until=str(c.now.date() + timedelta(days=200)))
    assert not warning.open and warning.resolved_at == c.now and not warning.acknowledged
    assert "covers the expected stay" in warning.resolution
    _, audit = c.j.take_outbox()
    assert "alert_resolved" in [e.action for e in audit]
    with pytest.raises(Refused, match="was resolved at"):
        c.j.check_acknowledge(AcknowledgeAlertInput(alert_id=warning.id, actor="coord-1"))


def test_a_milestone_without_a_time_never_lands_before_the_previous_one():
    """A time within the clock-skew tolerance lies a little ahead; the next one must not
    land before it (the timeline's times went backwards)."""
    c = Case()
    ahead = c.now + timedelta(minutes=3)
    c.record("record_received", record_type="labs", occurred_at=ahead)
    c.record("record_received", record_type="imaging")  # no time given: "now"
    times = [e.occurred_at for e in c.j.state.timeline]
    assert times == sorted(times) and times[-1] == ahead


def _refusal_code(c: Case, kind: str, **kw: Any) -> RefusalCode:
    before = c.j.state.model_dump_json()
    with pytest.raises(Refused) as refused:
        c.record(kind, **kw)
    assert c.j.state.model_dump_json() == before
    return refused.value.code


def _released() -> Case:
    c = Case()
    c.to_infusion()
    c.at(hours=30)
    return c


@pytest.mark.parametrize(
    ("setup", "kind", "kw", "code"),
    [
        (Case, "infusion_completed", {"lot": "L", "coi_id": "C"}, RefusalCode.WRONG_PHASE),
        (Case, "bogus", {}, RefusalCode.UNKNOWN_NAME),
        (Case, "record_received", {"record_type": "x-ray"}, RefusalCode.INVALID_DATA),
        (Case, "record_received", {"record_type": "labs", "actor": " "}, RefusalCode.MISSING_FIELD),
        (Case, "product_thawed", {"lot": "L"}, RefusalCode.WRONG_PRODUCT),
        (
            Case,
            "record_received",
            {"record_type": "labs", "occurred_at": T0 + timedelta(days=1)},
            RefusalCode.FUTURE_TIME,
        ),
        (
            Case,
            "record_received",
            {"record_type": "labs", "occurred_at": T0.replace(tzinfo=None)},
            RefusalCode.INVALID_TIME,
        ),
        (
            _released,
            "infusion_completed",
            {"lot": "LOT-1", "coi_id": "COI-2"},
            RefusalCode.CHAIN_OF_IDENTITY,
        ),
        (monitoring_case, "discharged", {}, RefusalCode.DISCHARGE_CONDITIONS),
        (_home, "follow_up_completed", {}, RefusalCode.FOLLOW_UP_INCOMPLETE),
    ],
    ids=[
        "wrong-phase",
        "unknown-kind",
        "invalid-data",
        "missing-actor",
        "wrong-product",
        "future",
        "no-offset",
        "chain-of-identity",
        "discharge",
        "follow-up",
    ],
)
def test_each_refusal_family_carries_its_code(setup, kind, kw, code):
    assert _refusal_code(setup(), kind, **kw) is code


def test_time_order_duplicate_conflict_and_closed_journeys_carry_their_codes():
    c = Case()
    c.record("record_received", record_type="labs", milestone_id="m-1")
    earlier = c.now - timedelta(hours=1)
    assert (
        _refusal_code(c, "record_received", record_type="labs", occurred_at=earlier)
        is RefusalCode.OUT_OF_ORDER
    )
    assert (
        _refusal_code(c, "record_received", record_type="imaging", milestone_id="m-1")
        is RefusalCode.DUPLICATE_CONFLICT
    )
    c.j.apply_withdraw(WithdrawInput(reason="family decision", actor="coord-1"), c.now)
    assert _refusal_code(c, "record_received", record_type="labs") is RefusalCode.CLOSED


def test_the_familys_own_appointments_remind_the_family_too():
    """Telemedicine visits and the visa extension are the family's to attend: their reminders
    reach the family as well as the coordinator (they once reached the coordinator only)."""
    c = Case(protocol=SHORT_FOLLOW_UP)
    c.to_arrival(visa_days=60)
    c.at(days=7)
    c.record("patient_arrived")
    visa = c.deadline("visa_extension")
    c.now = visa.due_at - timedelta(days=7)
    c.j.take_outbox()
    c.j.fire_deadlines(c.now)
    notes, _ = c.j.take_outbox()
    to = {(n.deadline, n.recipient) for n in notes if n.kind is NotificationKind.REMINDER}
    assert to == {
        ("visa_extension", Recipient.COORDINATOR),
        ("visa_extension", Recipient.PATIENT_FAMILY),
    }
    keys = [n.idempotency_key for n in notes]
    assert len(set(keys)) == len(keys), "two notifications, not one deduplicated"


@pytest.mark.parametrize("forms_in_words", [True, False])
def test_a_cost_estimates_items_add_up_to_its_total(forms_in_words: bool):
    """`total=100` with items of 12,500 was accepted; runs under `FORMS_IN_WORDS` refuse it."""
    c = Case()
    c.j.forms_in_words = forms_in_words
    c.to_logistics()
    items = [
        {"name": "ward, 28 days", "amount": 9500, "payer": "family"},
        {"name": "manufacturing", "amount": 3000, "payer": "trial"},
    ]
    if forms_in_words:
        c.refused(
            "cost_estimate_accepted",
            r"the items add up to 12,500.00 USD, not the total 100.00 USD",
            currency="USD",
            total=100,
            items=items,
        )
        c.refused(
            "cost_estimate_accepted",
            r"items: item 1: expected a name, an amount of 0 or more",
            currency="USD",
            total=5,
            items=[{"amount": 5}],
        )
    c.record(
        "cost_estimate_accepted",
        currency="USD",
        total=12500 if forms_in_words else 100,
        items=items,
    )


@pytest.mark.parametrize("forms_in_words", [True, False])
def test_a_consent_form_version_may_be_written_as_printed(forms_in_words: bool):
    from models.examples import consents

    c = Case()
    c.j.forms_in_words = forms_in_words
    c.to_arrival()
    c.at(days=7)
    c.record("patient_arrived")
    treatment = consents()[0] | {"form_version": "ICF v3.0"}
    if forms_in_words:
        c.record("consent_signed", **treatment)
    else:
        c.refused("consent_signed", "takes versions like 'ICF v3.0' from its next run", **treatment)


def test_the_journey_knows_when_the_patient_is_in_intensive_care():
    """Where the patient is: admitted to and discharged from the ICU; never discharged home
    from it; runs started before the patch refuse these kinds as they always did."""
    old = monitoring_case()
    old.refused("icu_admitted", "unknown milestone kind 'icu_admitted'", reason="grade 3 CRS")
    c = monitoring_case()
    c.j.after_infusion = True
    c.refused("icu_discharged", "not in the ICU; expected icu_admitted first")
    c.at(hours=6)
    c.record("icu_admitted", reason="grade 3 CRS on two pressors")
    assert c.j.status().icu_since == c.now and c.j.status().icu_reason.startswith("grade 3")
    c.refused("icu_admitted", "in the ICU since", reason="again")
    c.at(days=28)
    c.refused(
        "discharged",
        "in the ICU since .*expected icu_discharged first",
        actor="dr-li",
        signature_meaning="responsible",
    )
    c.record("icu_discharged")
    assert c.j.status().icu_since is None and c.j.state.icu_stays == 1
