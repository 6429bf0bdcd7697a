"""Monitoring and follow-up rules without Temporal: grades, alerts, discharge, windows, years.

Journeys here run under rules version 2 (what new journeys get) unless a test says otherwise.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from models.enums import CellSource, NotificationKind, Phase, Recipient, Severity, Therapy
from models.errors import Refused
from models.messages import AcknowledgeAlertInput, ObservationInput
from models.protocol import PRESETS, ProtocolConfig
from tests.builders import Case, monitoring_case

CALM = {"temperature_c": 37.0, "systolic_bp": 120}
CRS2 = {"temperature_c": 38.9, "systolic_bp": 85}  # fever + hypotension without vasopressors
CRS3 = {"temperature_c": 39.2, "systolic_bp": 95, "vasopressors": 1}


def observe(c: Case, **fields: Any):
    o = ObservationInput(actor="nurse-1", **fields)
    return c.j.apply_observation(o, c.j.check_observation(o, c.now), c.now)


def alerts_sent(c: Case) -> list:
    notifications, _ = c.j.take_outbox()
    return [n for n in notifications if n.kind is NotificationKind.ALERT]


def test_observation_is_graded_and_status_keeps_current_and_worst():
    c = monitoring_case()
    c.at(hours=6)
    ack = observe(c, **CRS2)
    assert (ack.crs_grade, ack.icans_grade, ack.gvhd_grade) == (2, 0, None)
    c.at(hours=6)
    ack = observe(c, **CALM, ice_score=8)
    assert (ack.crs_grade, ack.icans_grade) == (0, 1)
    tox = c.j.status().toxicity
    assert (tox.crs_current, tox.crs_worst, tox.icans_current, tox.icans_worst) == (0, 2, 1, 1)
    assert tox.gvhd_worst is None  # autologous: never graded


def test_grade_2_crs_reaches_the_on_call_physician_once_and_a_rise_alerts_again():
    c = monitoring_case()
    alerts_sent(c)
    c.at(days=3)
    ack = observe(c, **CRS2)
    (alert,) = ack.alerts
    assert (alert.kind, alert.severity) == ("crs", Severity.URGENT)
    assert alert.text.startswith("CRS grade 2 on day 3")
    (sent,) = alerts_sent(c)
    assert (sent.recipient, sent.recipient_ref, sent.scheduled_for) == (
        Recipient.ON_CALL_PHYSICIAN,
        "site-a",
        c.now,
    )
    c.at(hours=4)
    assert observe(c, **CRS2).alerts == []  # unchanged grade: no spam
    assert alerts_sent(c) == []
    c.at(hours=4)
    (rise,) = observe(c, **CRS3).alerts
    assert (rise.kind, rise.severity) == ("crs", Severity.CRITICAL)


def test_a_critical_alert_repeats_until_a_physician_acknowledges_it():
    c = monitoring_case()
    c.at(days=2)
    (alert,) = observe(c, **CRS3).alerts
    alerts_sent(c)
    assert c.j.next_event_at() == c.now + timedelta(minutes=15)
    for repeat in (1, 2):
        c.at(minutes=15)
        c.j.fire_deadlines(c.now)
        (sent,) = alerts_sent(c)
        assert sent.severity is Severity.CRITICAL and f"repeat {repeat}" in sent.text
    ack = AcknowledgeAlertInput(alert_id=alert.id, actor="dr-wang", note="tocilizumab given")
    c.j.check_acknowledge(ack)
    acknowledged = c.j.apply_acknowledge(ack, c.now)
    assert (acknowledged.acknowledged_by, acknowledged.repeats) == ("dr-wang", 2)
    assert c.j.state.timeline[-1].kind == "alert_acknowledged"
    c.at(hours=2)
    c.j.fire_deadlines(c.now)
    assert alerts_sent(c) == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"alert_id": "nope"}, "expected one of the open alerts: id-"),
        ({"actor": " "}, "actor is required"),
        ({"note": "x" * 2001}, "at most 2000"),
    ],
)
def test_acknowledgement_refusals_change_nothing(change: dict[str, Any], match: str):
    c = monitoring_case()
    c.at(days=1)
    (alert,) = observe(c, **CRS3).alerts
    before = c.j.state.model_dump_json()
    ack = AcknowledgeAlertInput(alert_id=alert.id, actor="dr-wang").model_copy(update=change)
    with pytest.raises(Refused, match=match):
        c.j.check_acknowledge(ack)
    assert c.j.state.model_dump_json() == before
    c.j.apply_acknowledge(AcknowledgeAlertInput(alert_id=alert.id, actor="dr-wang"), c.now)
    with pytest.raises(Refused, match="already acknowledged by dr-wang"):
        c.j.check_acknowledge(AcknowledgeAlertInput(alert_id=alert.id, actor="dr-li"))


def test_any_seizure_is_critical_whatever_the_thresholds():
    protocol = ProtocolConfig(icans_urgent_grade=4, icans_critical_grade=4)
    c = monitoring_case(protocol=protocol)
    c.at(days=5)
    ack = observe(c, **CALM, seizure="resolved_rapidly")
    (alert,) = ack.alerts
    assert (alert.kind, alert.severity, ack.icans_grade) == ("icans", Severity.CRITICAL, 3)
    assert "seizure" in ack.flags


def test_hlh_like_flag_is_critical():
    c = monitoring_case()
    c.at(days=1)
    observe(c, **CALM, ferritin_ng_ml=900)  # the baseline
    c.at(days=1)
    ack = observe(c, **CALM, ferritin_ng_ml=2500)  # above twice the baseline
    assert "hlh_like" in ack.flags
    assert [(a.kind, a.severity) for a in ack.alerts] == [("hlh_like", Severity.CRITICAL)]


def test_allogeneic_gvhd_is_graded_and_alerts():
    c = monitoring_case(cell_source=CellSource.ALLOGENEIC)
    c.at(days=20)
    ack = observe(c, **CALM, gvhd_skin_bsa_pct=30, bilirubin_mg_dl=4.0)
    assert ack.gvhd_grade == 3
    assert [(a.kind, a.severity) for a in ack.alerts] == [("gvhd", Severity.CRITICAL)]
    c.at(hours=12)
    assert observe(c, **CALM).gvhd_grade is None  # nothing assessed this time


def test_children_are_flagged_for_capd():
    c = monitoring_case(paediatric=True)
    c.at(hours=8)
    ack = observe(c, **CALM, ice_score=4)
    assert (ack.icans_grade, ack.flags) == (0, ["capd_required"])


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"temperature_c": 101.3}, "looks like °F; expected °C"),
        ({"oxygen_flow_l_min": 3}, "oxygen_device is 'none'"),
        ({"consciousness": "sleepy"}, "consciousness"),
        ({"ice_score": 12}, "ice_score"),
    ],
)
def test_inconsistent_observations_are_refused(fields: dict[str, Any], match: str):
    c = monitoring_case()
    with pytest.raises(Refused, match=match):
        c.j.check_observation(ObservationInput(actor="n", **(CALM | fields)), c.now)


# --- discharge ----------------------------------------------------------------------------------


def test_discharge_names_each_failing_condition_then_accepts():
    c = monitoring_case()
    c.at(days=26)
    (alert,) = observe(c, **CRS3).alerts
    c.at(days=2)
    message = c.refused("discharged", "discharge refused")
    assert "1 critical alert(s) not acknowledged" in message
    assert "CRS grade 3 observed" in message and "last 48 h" in message
    c.j.apply_acknowledge(AcknowledgeAlertInput(alert_id=alert.id, actor="dr-wang"), c.now)
    message = c.refused("discharged", "CRS grade 3 observed")
    assert "critical" not in message
    c.at(hours=49)
    observe(c, **CALM)
    assert c.record("discharged").phase is Phase.FOLLOW_UP


def test_rules_version_1_keeps_its_discharge_rule_and_raises_no_grade_alerts():
    c = monitoring_case(rules_version=1)
    c.at(days=28)
    assert observe(c, **CRS3).alerts == []
    assert c.record("discharged").phase is Phase.FOLLOW_UP


# --- restriction windows ------------------------------------------------------------------------


def test_us_label_windows_remind_the_family_and_end_without_escalating():
    c = monitoring_case(protocol=PRESETS["us_label_2025"])
    infused = c.j.state.infused_at
    assert infused is not None
    notices, _ = c.j.take_outbox()
    opened = [n for n in notices if n.recipient is Recipient.PATIENT_FAMILY]
    assert sorted(n.deadline for n in opened) == ["no_driving", "stay_near_centre"]
    assert all(n.recipient_ref == c.j.facts.patient_ref for n in opened)
    window = c.deadline("no_driving")
    assert window.window and window.due_at == infused + timedelta(days=14)
    c.now = infused + timedelta(days=13, minutes=1)
    c.j.fire_deadlines(c.now)
    sent, _ = c.j.take_outbox()
    (reminder,) = [n for n in sent if n.deadline == "no_driving"]
    assert reminder.text.startswith("Reminder: Do not drive until day 14 after infusion — until")
    c.now = infused + timedelta(days=14, minutes=1)
    c.j.fire_deadlines(c.now)
    sent, _ = c.j.take_outbox()
    ended = sorted(n.deadline for n in sent if n.text.startswith("Ended"))
    assert ended == ["no_driving", "stay_near_centre"]
    assert c.deadline("no_driving") is None and c.deadline("stay_near_centre") is None
    assert not any(
        n.kind is NotificationKind.ESCALATION for n in sent if n.deadline != "observation"
    )


def test_returning_home_inside_the_proximity_window_is_a_deviation():
    protocol = ProtocolConfig(stay_near_centre_days=42, earliest_discharge_day=28)
    c = monitoring_case(protocol=protocol)
    c.at(days=29)
    c.record("discharged")
    c.record("returned_home")
    (alert,) = [a for a in c.j.state.alerts if a.kind == "protocol_deviation"]
    assert alert.severity is Severity.WARNING and "before the end of the 42-day stay" in alert.text
    assert c.deadline("stay_near_centre") is None


# --- follow-up ------------------------------------------------------------------------------------


def _follow_up(**kw: Any) -> Case:
    c = monitoring_case(**kw)
    c.at(days=28)
    c.record("discharged")
    c.record("returned_home")
    return c


def test_follow_up_opens_registry_windows_and_the_year_2_check_in():
    c = _follow_up()
    infused = c.j.state.infused_at
    assert infused is not None
    day100 = c.deadline("registry_day_100")
    assert day100.due_at == infused + timedelta(days=115)
    assert day100.reminders[0] == infused + timedelta(days=85)  # when the window opens
    assert c.deadline("registry_year_1").due_at == infused + timedelta(days=425)
    check_in = c.deadline("long_term_check_in")
    assert check_in.summary.endswith("year 2")
    assert check_in.due_at == infused + timedelta(days=2 * 365 + 60)
    c.refused("registry_reported", "window opens", window="day_100")
    c.refused("registry_reported", "expected one of: day_100, month_6, year_1", window="day_99")
    c.now = infused + timedelta(days=90)
    c.record("registry_reported", window="day_100")
    assert c.deadline("registry_day_100") is None
    c.refused("registry_reported", "already reported", window="day_100")


def test_long_term_check_ins_run_to_year_15_then_ask_to_close():
    c = _follow_up()
    infused = c.j.state.infused_at
    assert infused is not None
    for month in range(1, 13):
        c.record("telemedicine_completed", month=month)
    c.record("response_assessed", response="CR")
    for window, day in (("day_100", 90), ("month_6", 180), ("year_1", 370)):
        c.now = infused + timedelta(days=day)
        c.record("registry_reported", window=window)
    c.refused("long_term_check_in", "window opens", year=2)
    for year in range(2, 16):
        c.now = infused + timedelta(days=365 * year + 3)
        assert c.deadline("long_term_check_in").summary.endswith(f"year {year}")
        assert c.deadline("follow_up_completion") is None
        c.record("long_term_check_in", year=year)
    assert c.deadline("long_term_check_in") is None
    assert c.deadline("follow_up_completion") is not None
    c.refused("long_term_check_in", "runs to year 15", year=16)


def test_car_nk_has_no_yearly_check_ins():
    c = _follow_up(cell_source=CellSource.ALLOGENEIC)
    assert c.j.facts.therapy is Therapy.CAR_NK
    assert c.deadline("long_term_check_in") is None
    c.refused("long_term_check_in", "apply to car_t journeys", year=2)


def test_upgrading_a_version_1_journey_in_follow_up_opens_what_version_1_never_did():
    c = _follow_up(rules_version=1)
    assert c.deadline("registry_day_100") is None
    c.j.take_outbox()
    c.j.upgrade_rules(c.now, carried=True)
    assert c.j.state.rules_version == 2
    assert c.deadline("registry_day_100") is not None
    assert c.deadline("long_term_check_in") is not None
    _, audit = c.j.take_outbox()
    assert [e.action for e in audit] == ["rules_upgraded"]
