"""The scheduled outbox's rows (`deadlines.ahead`): exactly what the journey's own timers
will send, each at its instant and under its key, so the dispatcher and the journey send one
message between them."""

from __future__ import annotations

import copy
from datetime import timedelta

from models.enums import NotificationKind
from models.pathway import deadlines
from tests.builders import Case


def _fired_on_time(c: Case, until_days: int) -> list[tuple[str, str]]:
    """Each notification the journey itself sends, waking at each next event on time."""
    j = copy.deepcopy(c.j)
    j.take_outbox()
    end = c.now + timedelta(days=until_days)
    sent: list[tuple[str, str]] = []
    while (at := j.book.next_event_at()) is not None and at <= end:
        j.fire_deadlines(at)
        sent += [(n.idempotency_key, n.text) for n in j.take_outbox()[0]]
    return sent


def soon() -> Case:
    """A journey whose records deadline is due within the horizon, with reminders before."""
    c = Case()
    c.j.book.reschedule("records", now=c.now, due_at=c.now + timedelta(days=2, hours=3))
    return c


def test_ahead_is_what_the_journey_will_send_itself_on_time() -> None:
    c = soon()
    rows = deadlines.ahead(c.j, c.now)
    assert rows, "a new journey's records deadline has reminders and escalations ahead"
    assert [n.scheduled_for for n in rows] == sorted(n.scheduled_for for n in rows)
    assert all(n.scheduled_for > c.now for n in rows)
    last = (rows[-1].scheduled_for - c.now).days + 1
    assert [(n.idempotency_key, n.text) for n in rows] == _fired_on_time(c, last)
    kinds = {n.kind for n in rows}
    assert {NotificationKind.REMINDER, NotificationKind.ESCALATION} <= kinds


def test_ahead_holds_the_next_days_only() -> None:
    """Each write that changes them carries them in the journey's history: kept few."""
    c = Case()  # records due in two weeks: its level-1 escalation is beyond the horizon
    rows = deadlines.ahead(c.j, c.now)
    assert all(n.scheduled_for <= c.now + deadlines.AHEAD_HORIZON for n in rows)
    assert not any(n.kind is NotificationKind.ESCALATION for n in rows)
    assert len(deadlines.ahead(soon().j, c.now)) <= deadlines.AHEAD_MAX


def test_ahead_changes_nothing_in_the_journey() -> None:
    c = Case()
    before = c.j.state.model_dump_json()
    deadlines.ahead(c.j, c.now)
    assert c.j.state.model_dump_json() == before and c.j.notifications == []


def test_a_deadline_met_or_moved_leaves_or_moves_its_rows() -> None:
    c = Case()
    first = {n.idempotency_key for n in deadlines.ahead(c.j, c.now)}
    c.j.book.reschedule("records", now=c.now, due_at=c.now + timedelta(hours=2))
    moved = deadlines.ahead(c.j, c.now)
    assert {n.idempotency_key for n in moved}.isdisjoint(
        k for k in first if ":records:escalation" in k
    )
    assert any(":records:escalation:1:" in n.idempotency_key for n in moved)
    c.j.book.close("records")
    assert all(n.deadline != "records" for n in deadlines.ahead(c.j, c.now))


def test_a_late_wake_up_still_sends_under_the_scheduled_key() -> None:
    """A timer that fires late (a storm, a worker outage) gives the escalation the key of its
    instant, not of the wake-up: the dispatcher's copy and the journey's are one row."""
    c = soon()
    rows = [n for n in deadlines.ahead(c.j, c.now) if n.kind is NotificationKind.ESCALATION]
    j = copy.deepcopy(c.j)
    j.take_outbox()
    j.fire_deadlines(rows[0].scheduled_for + timedelta(seconds=40))
    late = [n.idempotency_key for n in j.take_outbox()[0] if n.kind == "escalation"]
    assert late[0] == rows[0].idempotency_key


def test_the_basis_changes_exactly_when_the_rows_may() -> None:
    """The journey skips computing the rows while their basis is unchanged: an observation
    changes nothing ahead; a moved deadline or a record on file (the text) does."""
    c = Case()
    basis = deadlines.ahead_basis(c.j)
    assert deadlines.ahead_basis(c.j) == basis
    c.j.book.reschedule("records", now=c.now, due_at=c.now + timedelta(days=2))
    moved = deadlines.ahead_basis(c.j)
    assert moved != basis
    c.j.state.records_on_file.append(c.j.protocol.required_records[0])
    assert deadlines.ahead_basis(c.j) != moved


def test_met_in_the_grace_after_an_escalation_went_out_stands_those_paged_down() -> None:
    """Under `AHEAD` the dispatcher pages at the instant and the journey records it a grace
    later: a milestone met on time and recorded in between still tells them to stand down."""
    for ahead, told in ((True, 1), (False, 0)):
        c = soon()
        c.j.ahead = ahead
        d = c.j.book.get("records")
        assert d is not None and d.escalation_level == 0
        in_grace = d.due_at + timedelta(seconds=5)
        c.j.take_outbox()
        c.j.met("records", at=d.due_at - timedelta(minutes=5), now=in_grace)
        stand_down = [n for n in c.j.take_outbox()[0] if n.kind is NotificationKind.RESOLUTION]
        assert len(stand_down) == told
