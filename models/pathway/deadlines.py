"""Every deadline a journey opens (when it is due, when it reminds, who escalates it), and
what is sent when deadlines fire.

One function per deadline name (`DeadlineName`); durations come from the protocol. Phases
open theirs on entry (`models/pathway/phases.py`); milestones open the others (the arrival
opens accommodation registration, a thawed bag opens the thaw-to-infusion window…). Sources of
every duration: docs/clinical-rules.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from models.deadlines import Deadline, DeadlineEvent
from models.enums import (
    AlertKind,
    DeadlineName,
    NotificationKind,
    Recipient,
    Severity,
    registry_deadline,
    response_deadline,
)
from models.messages import Notification
from models.pathway import alerts

if TYPE_CHECKING:
    from models.pathway.journey import Journey

N = DeadlineName


def open_records(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.RECORDS,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.records_sla_days),
        summary=f"Records intake SLA, {p.records_sla_days} days",
        every=timedelta(days=p.records_reminder_every_days),
        level2_after=j.level2_after(),
    )


def open_pre_assessment(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    due = j.business(at, p.pre_assessment_business_days)
    remind = j.business(at, p.pre_assessment_reminder_business_days)
    j.book.open(
        N.PRE_ASSESSMENT,
        now=now,
        start=at,
        due_at=due,
        summary=f"Eligibility pre-assessment, {p.pre_assessment_business_days} business days",
        before=[due - remind],
        level2_after=j.level2_after(),
    )


def open_pi_submission(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.PI_SUBMISSION,
        now=now,
        start=at,
        due_at=j.business(at, p.pi_submission_business_days),
        summary=f"Submit to a PI, {p.pi_submission_business_days} business days",
        before=[timedelta(days=1)],
        level2_after=j.level2_after(),
    )


def open_pi_decision(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.PI_DECISION,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.pi_review_sla_days),
        summary=f"PI review SLA, {p.pi_review_sla_days} days",
        every=timedelta(days=p.pi_review_reminder_every_days),
        level2_after=j.level2_after(),
    )


def open_logistics(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.LOGISTICS,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.logistics_sla_days),
        summary=f"Logistics (quote, letter, visa, travel), {p.logistics_sla_days} days",
        before=[timedelta(days=7), timedelta(days=2)],
        level2_after=j.level2_after(),
    )


def open_arrival(j: Journey, now: datetime) -> None:
    """Due at the end of the booked arrival date, in the site's time zone."""
    s = j.state
    assert s.arrival_date is not None
    tz = ZoneInfo(j.protocol.site_timezone)
    end_of_day = datetime.combine(
        s.arrival_date + timedelta(days=1), time(0, 0), tzinfo=tz
    ).astimezone(UTC)
    j.book.open(
        N.ARRIVAL,
        now=now,
        due_at=end_of_day,
        summary=f"Patient arrives by {s.arrival_date}",
        before=[timedelta(days=1)],
        level2_after=j.level2_after(),
    )


def open_accommodation_registration(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    if p.accommodation_registration_hours is None:
        return
    j.book.open(
        N.ACCOMMODATION_REGISTRATION,
        now=now,
        start=at,
        due_at=at + timedelta(hours=p.accommodation_registration_hours),
        summary=(
            f"Register accommodation with police within {p.accommodation_registration_hours} h "
            "of arrival"
        ),
        before=[timedelta(hours=4)],
        clinical=True,
        level2_after=timedelta(minutes=p.clinical_level2_after_minutes),
    )


def open_pretreatment_clearance(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.PRETREATMENT_CLEARANCE,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.pretreatment_clearance_days),
        summary=f"Pre-treatment assessment, {p.pretreatment_clearance_days} days",
        before=[timedelta(days=2)],
        level2_after=j.level2_after(),
    )


def open_visa_extension(j: Journey, now: datetime) -> None:
    """From arrival until the return home: ask for an extension before the visa ends."""
    s, p = j.state, j.protocol
    if s.visa_valid_until is None or s.arrived_at is None or s.returned_home:
        return
    tz = ZoneInfo(p.site_timezone)
    due_day = s.visa_valid_until - timedelta(days=p.visa_extension_days_before)
    j.book.open(
        N.VISA_EXTENSION,
        now=now,
        due_at=datetime.combine(due_day, time(0, 0), tzinfo=tz).astimezone(UTC),
        summary=(
            f"Ask for a visa extension {p.visa_extension_days_before} days before "
            f"the stay permitted until {s.visa_valid_until}"
        ),
        before=[timedelta(days=7), timedelta(days=2)],
        level2_after=j.level2_after(),
        family_too=True,
    )


def open_apheresis(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.APHERESIS,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.apheresis_days),
        summary=f"Apheresis, {p.apheresis_days} days",
        before=[timedelta(days=2)],
        level2_after=j.level2_after(),
    )


def open_manufacturing(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.MANUFACTURING,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.manufacturing_escalate_days),
        summary=(
            f"Manufacturing, expected {p.manufacturing_expected_days} days, "
            f"escalate at {p.manufacturing_escalate_days}"
        ),
        before=[timedelta(days=p.manufacturing_escalate_days - p.manufacturing_expected_days)],
        level2_after=j.level2_after(),
    )


def open_conditioning(j: Journey, at: datetime, now: datetime) -> None:
    """Conditioning, due `conditioning_escalate_days` after the product is ready, or after
    bridging therapy ends (runs under `WATCHED`) when that is later."""
    p = j.protocol
    until = j.state.bridging_until if j.watched else None
    start = max(at, until) if until is not None else at
    after = f", after bridging therapy ends {until:%Y-%m-%d}" if start != at else ""
    j.book.open(
        N.CONDITIONING,
        now=now,
        start=start,
        due_at=start + timedelta(days=p.conditioning_escalate_days),
        summary=(
            f"Lymphodepleting conditioning, {p.conditioning_days} days "
            f"(escalate at {p.conditioning_escalate_days}){after}"
        ),
        before=[timedelta(days=p.conditioning_escalate_days - p.conditioning_days)],
        level2_after=j.level2_after(),
    )


def open_infusion_window(j: Journey, at: datetime, now: datetime) -> None:
    """24–48 h after conditioning ends (protocol): a clinical window, escalated at once."""
    p = j.protocol
    opens = timedelta(hours=p.infusion_window_opens_hours)
    closes = timedelta(hours=p.infusion_window_closes_hours)
    j.book.open(
        N.INFUSION_WINDOW,
        now=now,
        start=at,
        due_at=at + closes,
        summary=(
            f"Infusion window {p.infusion_window_opens_hours}–"
            f"{p.infusion_window_closes_hours} h after conditioning"
        ),
        before=[closes - opens, timedelta(hours=2)],
        clinical=True,
        level2_after=timedelta(minutes=p.clinical_level2_after_minutes),
    )


def open_thaw_to_infusion(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.THAW_TO_INFUSION,
        now=now,
        start=at,
        due_at=at + timedelta(minutes=p.thaw_to_infusion_minutes),
        summary=f"Infuse within {p.thaw_to_infusion_minutes} min of thawing",
        before=[timedelta(minutes=15)],
        clinical=True,
        level2_after=timedelta(minutes=p.clinical_level2_after_minutes),
    )


def open_observation(j: Journey, last: datetime, now: datetime) -> None:
    """The next observation after one (or the infusion) at `last`: daily, then twice weekly."""
    s, p = j.state, j.protocol
    assert s.infused_at is not None
    day = (last - s.infused_at) / timedelta(hours=24)
    if day < p.daily_monitoring_days:
        interval, label = timedelta(hours=24), "daily"
    elif p.twice_weekly_after_daily:
        interval, label = timedelta(hours=84), "twice weekly"
    else:
        j.book.close(N.OBSERVATION)
        return
    j.book.open(
        N.OBSERVATION,
        now=now,
        start=last,
        due_at=last + interval,
        summary=f"Monitoring observation ({label})",
        before=[timedelta(hours=p.observation_reminder_hours_before)],
        reminder_to=Recipient.SITE_COORDINATOR,
        level2_after=timedelta(hours=p.observation_level2_after_hours),
    )


def open_restrictions(j: Journey, now: datetime, *, notify: bool = True) -> None:
    """The proximity and no-driving windows after infusion, with notices to the family."""
    s, p = j.state, j.protocol
    assert s.infused_at is not None
    windows = (
        (N.STAY_NEAR_CENTRE, p.stay_near_centre_days, "Stay within reach of the centre"),
        (N.NO_DRIVING, p.no_driving_days, "Do not drive"),
    )
    for name, days, what in windows:
        if not days or j.day(days) <= now:
            continue
        deadline = j.book.open(
            name,
            now=now,
            start=s.infused_at,
            due_at=j.day(days),
            summary=f"{what} until day {days} after infusion",
            every=timedelta(days=p.restriction_reminder_every_days),
            before=[timedelta(days=1)],
            reminder_to=Recipient.PATIENT_FAMILY,
            window=True,
        )
        if notify and not j.quiet:
            tell_family_of_window(j, deadline, now)


def tell_family_of_window(j: Journey, deadline: Deadline, now: datetime) -> None:
    """The notice that a restriction window (stay near the centre, no driving) is open."""
    j.notifications.append(
        Notification(
            idempotency_key=f"{j.facts.case_id}:{deadline.name}:opened",
            case_id=j.facts.case_id,
            kind=NotificationKind.REMINDER,
            recipient=Recipient.PATIENT_FAMILY,
            recipient_ref=j.facts.patient_ref,
            deadline=deadline.name,
            scheduled_for=now,
            text=f"From today: {deadline.summary} ({deadline.due_at:%Y-%m-%d %H:%M} UTC)",
            due_at=deadline.due_at,
            timezone=j.family_timezone(),
        )
    )


def _copy_suffix(j: Journey, e: DeadlineEvent) -> str:
    """A family's copy of a reminder that also goes to someone else is a notification of its
    own (the key names who it is for)."""
    d = j.book.get(e.deadline)
    if d is None or not d.family_too or e.recipient is not Recipient.PATIENT_FAMILY:
        return ""
    return ":family" if d.reminder_to is not Recipient.PATIENT_FAMILY else ""


def open_telemedicine(j: Journey, now: datetime) -> None:
    """The next monthly telemedicine visit not yet recorded (or none: closed)."""
    month = j.next_telemedicine_month()
    if month is None:
        j.book.close(N.TELEMEDICINE)
        return
    j.book.open(
        N.TELEMEDICINE,
        now=now,
        due_at=j.month(month),
        summary=f"Telemedicine visit, month {month}",
        before=[timedelta(days=7), timedelta(days=1)],
        level2_after=j.level2_after(),
        family_too=True,
    )


def open_response_assessment(j: Journey, at: datetime, now: datetime) -> None:
    p = j.protocol
    j.book.open(
        N.RESPONSE_ASSESSMENT,
        now=now,
        start=at,
        due_at=j.month(p.response_assessment_month),
        summary=f"Response assessment at month {p.response_assessment_month}",
        before=[timedelta(days=14), timedelta(days=3)],
        level2_after=j.level2_after(),
    )


def open_response_months(j: Journey, now: datetime) -> None:
    """Runs under `WATCHED`: the response assessment at each protocol month after infusion
    (`response_month_N`), each not yet recorded."""
    for month in j.protocol.response_months:
        if month in j.state.response_months_done:
            continue
        j.book.open(
            response_deadline(month),
            now=now,
            due_at=j.month(month),
            summary=f"Response assessment at month {month}"
            + (" (PET-CT and bone marrow, MRD)" if month >= 3 else " (MRD)"),
            before=[timedelta(days=14), timedelta(days=3)],
            level2_after=j.level2_after(),
        )


def open_registry(j: Journey, now: datetime) -> None:
    """Every registry window not yet reported (due at the window's close); runs under
    `WATCHED` follow the registry's track by consent (`models.pathway.registry`)."""
    if j.tracked:
        from models.pathway import registry

        registry.open_follow_up(j, now)
        return
    s, p = j.state, j.protocol
    for w in p.registry_windows:
        if w.name in s.registry_reported:
            continue
        opens, closes = j.day(w.opens_day), j.day(w.closes_day)
        j.book.open(
            registry_deadline(w.name),
            now=now,
            due_at=closes,
            summary=f"Registry follow-up, {w.label}",
            before=[closes - opens, timedelta(days=7)],
            level2_after=j.level2_after(),
        )


def open_long_term(j: Journey, now: datetime) -> None:
    """The next yearly check-in (years 2 to 15 for CAR-T), or close the deadline."""
    year = j.next_check_in_year()
    if year is None:
        j.book.close(N.LONG_TERM_CHECK_IN)
        return
    window = j.protocol.long_term_check_in_window_days
    opens = j.day(365 * year)
    j.book.open(
        N.LONG_TERM_CHECK_IN,
        now=now,
        due_at=opens + timedelta(days=window),
        summary=f"Long-term follow-up check-in, year {year}",
        before=[timedelta(days=window), timedelta(days=14)],
        level2_after=j.level2_after(),
    )


def open_follow_up_completion(j: Journey, now: datetime) -> None:
    """Once every scheduled follow-up is recorded, ask the coordinator to close the journey."""
    j.book.open(
        N.FOLLOW_UP_COMPLETION,
        now=now,
        due_at=now + timedelta(days=j.protocol.follow_up_completion_days),
        summary="Every scheduled follow-up is recorded: record follow_up_completed",
        before=[timedelta(days=7)],
        level2_after=j.level2_after(),
    )


def open_readiness(j: Journey, at: datetime, now: datetime) -> None:
    """Rules v5: the readiness checklist, due `readiness_days` after the journey became ready
    to condition (product released, or the patient cleared with a reserved product)."""
    if not j.v5 or not j.protocol.readiness_checklist:
        return
    from models.pathway import gates

    if gates.ready(j):
        return
    j.book.open(
        N.READINESS,
        now=now,
        start=at,
        due_at=at + timedelta(days=j.protocol.readiness_days),
        summary="Readiness before conditioning: "
        + ", ".join(i.value for i in j.protocol.readiness_checklist),
        before=[timedelta(days=1)],
        level2_after=j.level2_after(),
    )


def open_handover(j: Journey, at: datetime, now: datetime) -> None:
    """Rules v5: the hand-over summary to the home oncologist, due days after discharge."""
    if not j.v5:
        return
    j.book.open(
        N.HANDOVER_SUMMARY,
        now=now,
        start=at,
        due_at=at + timedelta(days=j.protocol.handover_summary_days),
        summary="Hand-over summary (FHIR bundle) to the home oncologist",
        before=[timedelta(days=1)],
        level2_after=j.level2_after(),
    )


def notification_of(j: Journey, e: DeadlineEvent, now: datetime) -> Notification:
    """The notification a deadline's event sends at `now`."""
    text = e.text
    if e.deadline == N.RECORDS:
        missing = [r.value for r in j.protocol.required_records if r not in j.state.records_on_file]
        if missing:
            text += f" — still missing: {', '.join(missing)}"
    severity = Severity.INFO
    if e.kind is NotificationKind.ESCALATION:
        severity = Severity.URGENT if e.clinical else Severity.WARNING
    return Notification(
        # Unique per reminder instant and level: a retried activity (same payload) is stored
        # once, two reminders of one deadline are two rows; and the scheduled outbox's copy
        # (`ahead`) carries the same key as the one the journey's own timer sends.
        idempotency_key=(
            f"{j.facts.case_id}:{e.deadline}:{e.kind}:{e.level}:"
            f"{e.scheduled_at.isoformat()}" + _copy_suffix(j, e)
        ),
        case_id=j.facts.case_id,
        kind=e.kind,
        recipient=e.recipient,
        recipient_ref=j.recipient_ref(e.recipient),
        deadline=e.deadline,
        level=e.level,
        severity=severity,
        scheduled_for=now,
        text=text,
        due_at=e.due_at,
        timezone=j.family_timezone() if e.recipient is Recipient.PATIENT_FAMILY else None,
    )


# The scheduled outbox holds a journey's sends due within `AHEAD_HORIZON` of its write, at
# most `AHEAD_MAX` (the soonest): each write that changes them carries them in the journey's
# history, so they are kept few (the 15-year journey's largest run: 742 KB of history before,
# 1.9 MB with every send ahead, ≈ 0.9 MB with these). A later send is written by a later write
# (a reminder's own firing writes, a day or two before the due time), or sent by the
# journey's own timer, `AHEAD_GRACE` late.
AHEAD_HORIZON = timedelta(days=3)
AHEAD_MAX = 16


def ahead_basis(j: Journey) -> tuple[object, ...]:
    """Everything `ahead` depends on, cheap to compare: while it is the same, so are the
    rows (the journey skips computing them on most writes, which change no deadline)."""
    book = tuple(
        (
            d.name,
            d.summary,
            d.due_at,
            tuple(d.reminders),
            d.reminder_to,
            d.family_too,
            d.clinical,
            d.escalation_level,
            d.level2_after,
            d.window,
            d.hold_until,
        )
        for d in j.book.deadlines.values()
    )
    s = j.state
    return (
        book,
        tuple(s.records_on_file),
        j.facts.coordinator,
        s.current_site,
        s.returned_home,
    )


def ahead(j: Journey, now: datetime) -> list[Notification]:
    """The reminders and escalations the open deadlines will send, each at its own instant,
    if nothing changes first: `fire` run on a copy of the book at each next event. Each
    carries the key the journey's own timer will give it, so the two are one message."""
    book = j.book.model_copy(deep=True)
    out: list[Notification] = []
    for _ in range(AHEAD_MAX):  # each round sends at least one, or ends a deadline
        at = book.next_event_at()
        if at is None or len(out) >= AHEAD_MAX or at > now + AHEAD_HORIZON:
            break
        events = book.fire(max(at, now))
        if at > now:  # what is due already, the journey's own timer sends at once
            out.extend(notification_of(j, e, at) for e in events)
    return out[:AHEAD_MAX]


def fire(j: Journey, now: datetime) -> list[DeadlineEvent]:
    """Send reminders and escalations that are due; clinical breaches also raise alerts."""
    events = j.book.fire(now)
    for e in events:
        n = notification_of(j, e, now)
        j.notifications.append(n)
        if e.clinical and e.kind is NotificationKind.ESCALATION and e.level == 1:
            alert = j.raise_alert(AlertKind.DEADLINE_BREACHED, Severity.URGENT, now, n.text, False)
            if alert is not None:
                alert.deadline = e.deadline
    resent = alerts.resend_critical(j, now)
    if events or resent:
        j.touch()
    return events
