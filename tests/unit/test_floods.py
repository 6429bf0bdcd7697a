"""What a flood leaves in a journey's state, without Temporal: bounded refusals, a carried state
that stays small, repeated ids checked against what was archived."""

from __future__ import annotations

from models.messages import MilestoneInput
from models.pathway import actions
from tests.builders import Case


def flood(c: Case, n: int, note: str = "n" * 2000) -> None:
    for i in range(n):
        c.at(seconds=1)
        c.record("record_received", record_type="labs", note=note, milestone_id=f"m-{i}")


def test_a_carried_state_stays_small_whatever_a_flood_recorded():
    c = Case()
    flood(c, 3 * actions.TIMELINE_CARRIED)
    before = len(c.j.state.model_dump_json())
    c.j.compact_for_carry()
    s = c.j.state
    assert len(s.timeline) == actions.TIMELINE_CARRIED
    assert s.timeline_archived == 2 * actions.TIMELINE_CARRIED
    assert c.j.status().milestone_count == 3 * actions.TIMELINE_CARRIED
    # The most recent notes whole, older ones cut (each is whole in the audit log).
    assert s.timeline[-1].note == "n" * 2000
    assert s.timeline[0].note.endswith(actions.CUT_MARK) and len(s.timeline[0].note) < 300
    size = len(s.model_dump_json())
    assert size < 1024 * 1024 < before, (size, before)
    # Compacting again changes nothing more.
    c.j.compact_for_carry()
    assert len(c.j.state.model_dump_json()) == size


def test_a_repeated_id_is_checked_against_the_archive_and_the_cut_note():
    c = Case()
    flood(c, actions.TIMELINE_CARRIED + 10, note="first note " + "x" * 400)
    c.j.compact_for_carry()
    # Archived: the same milestone again is a duplicate; other data is a conflict.
    ack = c.record("record_received", record_type="labs", milestone_id="m-0")
    assert ack.duplicate
    msg = c.refused("record_received", "already used", record_type="imaging", milestone_id="m-1")
    assert "archived" in msg
    # Carried with a cut note: its beginning must match (strict ids).
    c.j.strict_ids = True
    assert c.record(
        "record_received", record_type="labs", milestone_id="m-20", note="first note " + "x" * 400
    ).duplicate
    c.refused("record_received", "different note", record_type="labs", milestone_id="m-20")


def test_a_repeated_id_with_another_note_is_a_conflict_under_strict_ids():
    c = Case()
    c.j.strict_ids = True
    c.record("record_received", record_type="labs", note="scan from Dr Wu", milestone_id="a1")
    assert c.record(
        "record_received", record_type="labs", note="scan from Dr Wu", milestone_id="a1"
    ).duplicate
    msg = c.refused(
        "record_received", "different note", record_type="labs", note="other", milestone_id="a1"
    )
    assert "expected the same milestone" in msg


def test_the_last_occurred_time_survives_archiving():
    c = Case()
    flood(c, actions.TIMELINE_CARRIED + 5)
    last = c.j.state.timeline[-1].occurred_at
    c.j.compact_for_carry()
    c.j.state.timeline.clear()  # only the archive remembers now
    c.refused(
        "record_received",
        "previous milestone",
        record_type="labs",
        occurred_at=last.replace(year=2020),
    )


def test_signals_counted_unread_are_kept_as_a_count_and_one_audit_entry():
    c = Case()
    c.j.take_outbox()
    c.j.reject_unread(4000, "not read: a flood", c.now)
    s = c.j.status()
    assert (s.rejected_total, s.rejected_unread) == (4000, 4000)
    _, audit = c.j.take_outbox()
    assert len(audit) == 1 and audit[0].detail["unread"] == 4000


def test_a_refused_signal_summary_stays_bounded_and_only_the_recent_are_kept():
    c = Case()
    for i in range(actions.MAX_REJECTED + 30):
        m = MilestoneInput(kind="bogus", actor="x" * 64, note="s" * 1900, data={"i": i})
        c.j.reject_signal(m, "r" * 900, c.now, size_bytes=2100)
    s = c.j.state
    assert len(s.rejected) == actions.MAX_REJECTED and s.rejected_total == actions.MAX_REJECTED + 30
    assert all(len(r.reason) <= 500 for r in s.rejected)
    assert s.rejected[-1].milestone is None  # too big to keep whole
