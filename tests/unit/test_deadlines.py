"""The deadline primitive: reminders before, escalation levels after, reschedule, coalescing."""

from datetime import UTC, datetime, timedelta

from models.deadlines import DeadlineBook, reminder_times
from models.enums import NotificationKind, Recipient

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_reminders_every_period_strictly_before_due():
    times = reminder_times(T0, T0 + 14 * DAY, every=3 * DAY)
    assert times == [T0 + n * DAY for n in (3, 6, 9, 12)]


def test_reminders_before_due_skip_the_past():
    times = reminder_times(T0, T0 + DAY, before=[2 * DAY, timedelta(hours=2)])
    assert times == [T0 + DAY - timedelta(hours=2)]


def test_reminders_counted_from_a_past_start_keep_only_future_ones():
    start = T0 - 4 * DAY
    assert reminder_times(T0, T0 + 10 * DAY, start=start, every=3 * DAY) == [
        start + 6 * DAY,
        start + 9 * DAY,
        start + 12 * DAY,
    ]


def _book() -> DeadlineBook:
    book = DeadlineBook()
    book.open(
        "pi_decision", now=T0, due_at=T0 + 21 * DAY, summary="PI review SLA, 21 days", every=7 * DAY
    )
    return book


def test_fire_sends_each_reminder_once_then_escalates_by_level():
    book = _book()
    assert book.next_event_at() == T0 + 7 * DAY
    assert book.fire(T0 + 7 * DAY - timedelta(seconds=1)) == []
    (first,) = book.fire(T0 + 7 * DAY)
    assert (first.kind, first.recipient) == (NotificationKind.REMINDER, Recipient.COORDINATOR)
    assert book.fire(T0 + 7 * DAY) == []
    (_second,) = book.fire(T0 + 14 * DAY)
    assert book.next_event_at() == T0 + 21 * DAY
    (level1,) = book.fire(T0 + 21 * DAY)
    assert (level1.kind, level1.level, level1.recipient) == (
        NotificationKind.ESCALATION,
        1,
        Recipient.LEAD_COORDINATOR,
    )
    view = book.get("pi_decision").view()
    assert view.overdue and view.escalation_level == 1
    assert book.next_event_at() == T0 + 23 * DAY
    (level2,) = book.fire(T0 + 23 * DAY)
    assert (level2.level, level2.recipient) == (2, Recipient.MEDICAL_DIRECTOR)
    assert book.next_event_at() is None


def test_clinical_deadline_escalates_at_once_to_on_call_physician():
    book = DeadlineBook()
    book.open(
        "infusion_window",
        now=T0,
        due_at=T0 + timedelta(hours=48),
        summary="window",
        clinical=True,
        level2_after=timedelta(hours=1),
    )
    (level1,) = book.fire(T0 + timedelta(hours=48))
    assert level1.recipient is Recipient.ON_CALL_PHYSICIAN
    (level2,) = book.fire(T0 + timedelta(hours=49))
    assert level2.recipient is Recipient.MEDICAL_DIRECTOR


def test_a_late_wake_up_coalesces_reminders_but_sends_every_level():
    book = _book()
    events = book.fire(T0 + 30 * DAY)
    assert [(e.kind, e.level) for e in events] == [
        (NotificationKind.ESCALATION, 1),
        (NotificationKind.ESCALATION, 2),
    ]
    book = _book()
    events = book.fire(T0 + 15 * DAY)
    assert [e.kind for e in events] == [NotificationKind.REMINDER]


def test_reschedule_moves_due_resets_level_and_keeps_reminder_offsets():
    book = DeadlineBook()
    book.open("conditioning", now=T0, due_at=T0 + 5 * DAY, summary="c", before=[2 * DAY])
    book.fire(T0 + 5 * DAY)
    assert book.get("conditioning").escalation_level == 1
    moved = book.reschedule("conditioning", now=T0 + 5 * DAY, due_at=T0 + 10 * DAY)
    assert moved.escalation_level == 0 and not moved.overdue
    assert moved.reminders == [T0 + 8 * DAY]
    assert book.next_event_at() == T0 + 8 * DAY


def test_closed_deadlines_fire_nothing():
    book = _book()
    book.close("pi_decision", "not-open")
    assert book.fire(T0 + 100 * DAY) == [] and book.next_event_at() is None


def test_next_event_summary_names_the_deadline_without_phi():
    assert _book().next_event_summary().startswith("PI review SLA, 21 days: reminder due")


def test_two_reminders_of_one_deadline_are_distinct_events():
    book = DeadlineBook()
    book.open(
        "response_assessment", now=T0, due_at=T0 + 90 * DAY, summary="r", before=[14 * DAY, 3 * DAY]
    )
    first = book.fire(T0 + 76 * DAY)
    second = book.fire(T0 + 87 * DAY)
    assert first[0].scheduled_at != second[0].scheduled_at
