"""Recording the past pages nobody by mistake, and a patient's history imported at once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from models.enums import AuditAction, CellSource, NotificationKind, Phase, Recipient
from models.errors import Refused
from models.messages import HistoryImport, MilestoneInput, ObservationInput
from tests.builders import T0, Case, past_pathway

# A journey started "now" (T0) for a patient whose pathway began 60 days earlier.
PAST = T0 - timedelta(days=60)


def escalations(c: Case) -> list[tuple[str | None, int | None]]:
    return [
        (n.deadline, n.level) for n in c.j.notifications if n.kind is NotificationKind.ESCALATION
    ]


@pytest.mark.parametrize(("rules_version", "paged"), [(3, True), (4, False)])
def test_a_back_filled_on_time_journey_pages_nobody(rules_version: int, paged: bool):
    """One milestone a minute, each with the time it really happened, the clock firing between
    them as the workflow's timers would: every deadline was met, so nobody is paged."""
    c = Case(rules_version=rules_version)
    for kind, after, data in past_pathway(PAST.date()):
        c.at(minutes=1)
        c.record(kind, occurred_at=PAST + after, **data)
        c.j.fire_deadlines(c.now)
    c.at(minutes=1)
    # The bedside takes over: the first live observation meets the observation deadline.
    o = ObservationInput(actor="nurse-1", temperature_c=37.0, systolic_bp=120)
    c.j.apply_observation(o, c.j.check_observation(o, c.now), c.now)
    c.at(hours=1)
    c.j.fire_deadlines(c.now)
    assert c.phase is Phase.MONITORING
    if paged:
        # Before rules version 4, each deadline opened already past due escalated at once.
        assert len(escalations(c)) >= 16
    else:
        assert escalations(c) == []
        assert [a for a in c.j.state.alerts if a.open] == []


def records_long_ago() -> Case:
    """A journey started now, its records recorded (a minute later) as complete 60 days ago:
    the pre-assessment deadline is born overdue."""
    c = Case()
    c.at(minutes=1)
    c.record(
        "records_complete",
        occurred_at=PAST,
        records=["pathology", "imaging", "treatment_history", "labs"],
    )
    return c


def test_a_deadline_born_overdue_escalates_after_the_grace_when_nothing_meets_it():
    c = records_long_ago()
    c.at(minutes=29)
    c.j.fire_deadlines(c.now)
    assert escalations(c) == []
    c.at(minutes=2)
    c.j.fire_deadlines(c.now)
    assert ("pre_assessment", 1) in escalations(c)


def test_an_infusion_in_the_window_recorded_late_stands_the_escalation_down():
    """The issue's case: conditioning ended 50 h ago, the window escalated, then the infusion
    is recorded as having happened 26 h ago (inside 24–48 h)."""
    c = Case()
    c.to_conditioning()
    c.at(days=4)
    c.record("conditioning_completed", occurred_at=c.now - timedelta(hours=50))
    c.at(minutes=31)
    c.j.fire_deadlines(c.now)
    assert ("infusion_window", 1) in escalations(c)
    alert = next(a for a in c.j.state.alerts if a.deadline == "infusion_window")
    assert alert.open and alert.severity == "urgent"

    c.at(minutes=5)
    c.record(
        "infusion_completed", occurred_at=c.now - timedelta(hours=26), lot="LOT-1", coi_id="COI-1"
    )

    assert not alert.open
    assert "infusion_completed" in alert.resolution and "met the deadline" in alert.resolution
    stand_downs = [n for n in c.j.notifications if n.kind is NotificationKind.RESOLUTION]
    resolved = [e for e in c.j.state.timeline if e.kind == "escalation_resolved"]
    assert [e.data["deadline"] for e in resolved] == ["infusion_window"]
    level = resolved[0].data["level"]
    assert level >= 1
    assert [n.recipient for n in stand_downs] == [
        Recipient.ON_CALL_PHYSICIAN,
        Recipient.MEDICAL_DIRECTOR,
    ][:level]
    assert all("Stand down" in n.text for n in stand_downs)
    assert AuditAction.ESCALATION_RESOLVED in [e.action for e in c.j.audit]
    assert c.j.status().alerts[-1].resolution  # visible in status
    # The infusion itself was in the window: no new alert for it.
    assert [a for a in c.j.state.alerts if a.open] == []


def test_a_late_milestone_does_not_stand_down_a_deadline_it_missed():
    c = records_long_ago()
    c.at(hours=1)
    c.j.fire_deadlines(c.now)
    # Eligibility assessed 20 days after records: the 5-business-day deadline was missed.
    c.record(
        "eligibility_assessed",
        occurred_at=PAST + timedelta(days=20),
        outcome="eligible",
        reviewer="dr-li",
    )
    assert [n for n in c.j.notifications if n.kind is NotificationKind.RESOLUTION] == []
    assert "escalation_resolved" not in [e.kind for e in c.j.state.timeline]


def history(start: date, upto: str | None = None, **extra: Any) -> HistoryImport:
    items = []
    for kind, after, data in past_pathway(start):
        items.append(MilestoneInput(kind=kind, occurred_at=PAST + after, data=data))
        if kind == upto:
            break
    return HistoryImport(
        actor="coord-1", note="adopted from the spreadsheet", milestones=items, **extra
    )


def test_a_history_is_imported_at_once_with_one_summary_and_no_escalations():
    c = Case()
    obs = [
        ObservationInput(
            observed_at=PAST + timedelta(days=53, hours=12), temperature_c=38.6, systolic_bp=118
        ),
        ObservationInput(
            observed_at=PAST + timedelta(days=54), temperature_c=37.1, systolic_bp=121
        ),
    ]
    h = history(PAST.date(), observations=obs)
    c.at(minutes=1)
    c.j.check_import(h, c.now)
    ack = c.j.apply_import(h, c.now)
    assert (ack.milestones, ack.observations, ack.phase) == (23, 2, Phase.MONITORING)
    assert escalations(c) == []
    summaries = [n for n in c.j.notifications if n.kind is NotificationKind.SUMMARY]
    assert len(summaries) == 1 and summaries[0].recipient is Recipient.COORDINATOR
    # The daily observation was due in the past: reported, not paged.
    assert "observation (due" in summaries[0].text
    assert "23 milestone(s), 2 observation(s)" in summaries[0].text
    assert c.j.state.book.get("observation").escalation_level >= 1
    # Alerts from the imported fever were raised without being sent.
    assert [n for n in c.j.notifications if n.kind is NotificationKind.ALERT] == []
    assert AuditAction.HISTORY_IMPORTED in [e.action for e in c.j.audit]
    c.at(hours=2)
    c.j.fire_deadlines(c.now)
    assert escalations(c) == [], "what the summary reported is not escalated afterwards"


def test_an_import_is_all_or_nothing_and_names_the_item():
    c = Case()
    h = history(PAST.date(), upto="travel_booked")
    bad = h.milestones[5].model_copy(update={"data": {"site": "site-z"}})
    h.milestones[5] = bad
    before = c.j.state.model_dump_json()
    with pytest.raises(Refused, match=r"milestones\[6\] \(invitation_letter_issued\).*nothing"):
        c.j.check_import(h, c.now)
    assert c.j.state.model_dump_json() == before
    with pytest.raises(Refused, match=r"milestones\[2\] .*occurred_at"):
        c.j.check_import(
            HistoryImport(actor="c", milestones=[h.milestones[0], MilestoneInput(kind="x")]),
            c.now,
        )
    with pytest.raises(Refused, match="history is empty"):
        c.j.check_import(HistoryImport(actor="c"), c.now)
    assert c.j.state.model_dump_json() == before


def test_an_import_needs_an_empty_journey_and_rules_version_4():
    c = Case()
    c.record("record_received", record_type="labs")
    with pytest.raises(Refused, match="nothing recorded yet"):
        c.j.check_import(history(PAST.date(), upto="records_complete"), c.now)
    old = Case(rules_version=3)
    with pytest.raises(Refused, match="rules from before history import"):
        old.j.check_import(history(PAST.date(), upto="records_complete"), old.now)


def test_an_allogeneic_history_can_stop_in_logistics():
    c = Case(CellSource.ALLOGENEIC)
    h = history(PAST.date(), upto="accommodation_booked")
    ack = c.j.apply_import(h, c.now)
    assert ack.phase is Phase.LOGISTICS
    kinds = [e.kind for e in c.j.status().expected]
    assert "product_reserved" in kinds and "travel_booked" in kinds


def test_a_summarised_deadline_met_after_all_is_resolved_without_paging_anyone():
    c = Case()
    c.j.apply_import(history(PAST.date(), upto="conditioning_completed"), c.now)
    assert c.j.state.book.get("infusion_window").escalation_level >= 1
    c.at(minutes=5)
    c.record(
        "infusion_completed",
        occurred_at=PAST + timedelta(days=53, hours=2),
        lot="LOT-1",
        coi_id="COI-1",
    )
    resolved = [e for e in c.j.state.timeline if e.kind == "escalation_resolved"]
    assert [e.data["deadline"] for e in resolved] == ["infusion_window"]
    # It went to the coordinator in the import's summary, never paged: nobody to stand down.
    assert [n for n in c.j.notifications if n.kind is NotificationKind.RESOLUTION] == []


def test_a_family_taken_in_after_infusion_is_told_of_the_restrictions_they_live_under():
    """The import is quiet about the past, but the stay-near-centre window is open now: the
    family is told (it once never was)."""
    c = Case()
    h = history(PAST.date())  # infused 7 days ago
    c.at(minutes=1)
    c.j.check_import(h, c.now)
    c.j.apply_import(h, c.now)
    told = {
        n.deadline
        for n in c.j.notifications
        if n.recipient is Recipient.PATIENT_FAMILY and n.idempotency_key.endswith(":opened")
    }
    assert "stay_near_centre" in told
