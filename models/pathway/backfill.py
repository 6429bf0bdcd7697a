"""Recording the past without paging anyone by mistake (rules version 4).

Coordinators often record a milestone after the fact: the infusion at 14:00, typed in at
16:00. Three rules keep that from setting off escalations for deadlines that were in fact met:

- **A hold on deadlines born overdue.** A deadline opened already past due (because the
  milestone that opened it was back-dated) escalates only `backfill_grace_minutes` after it
  opened, unless the milestone that meets it is recorded first.
- **Met on time, recorded late, stands down.** When a milestone closes a deadline that had
  already escalated, and its `occurred_at` shows the deadline was met, everyone paged gets a
  `resolution` notification, the breach alert is resolved with that reason, and the timeline
  says so (`escalation_resolved`).
- **A whole history at once.** `import_history` applies a patient's past milestones and
  observations oldest first, each checked as a live one, all or nothing; deadlines are then
  evaluated once, and what fell due in the past goes to the coordinator in one summary.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import AuditAction, MilestoneKind, NotificationKind, Recipient, Severity
from models.errors import RefusalCode, Refused, Words, refused
from models.messages import (
    HistoryImport,
    HistoryImportAck,
    MilestoneEvent,
    MilestoneInput,
    Notification,
    ObservationInput,
)
from models.pathway import alerts, deadlines
from models.protocol import resolve_protocol
from models.state import JourneyState

if TYPE_CHECKING:
    from models.calendar import BusinessCalendar
    from models.deadlines import Deadline
    from models.journey import JourneyInput
    from models.pathway.journey import Journey

MAX_IMPORT_ITEMS = 400


def open_now(j: Journey) -> list[Deadline]:
    """The deadlines open now (an opened or restarted one is a new object). The list keeps
    them alive, so that a closed one's memory cannot be reused by one opened later."""
    return list(j.book.deadlines.values())


def hold_born_overdue(j: Journey, before: list[Deadline], now: datetime) -> None:
    """Hold the escalation of every deadline opened since `before` that is already past due."""
    if not j.v4:
        return
    grace = timedelta(minutes=j.protocol.backfill_grace_minutes)
    for d in j.book.deadlines.values():
        if any(d is b for b in before) or d.window or d.escalation_level or d.due_at > now:
            continue
        d.hold_until = now + grace


def met(j: Journey, names: tuple[str, ...], at: datetime, now: datetime, cause: str) -> None:
    """Close deadlines that `cause`, which happened `at`, met (or made moot).

    A deadline that escalated although `at` is on time was recorded late, not missed: whoever
    was paged is told to stand down (rules version 4).
    """
    for name in names:
        d = j.book.get(name)
        if d is None:
            continue
        level = d.escalation_level
        if j.ahead:
            # The dispatcher sent each level at its instant; the journey's own timer records
            # it `AHEAD_GRACE` later. Met in between, those paged still stand down.
            level = max(level, sum(1 for n in (1, 2) if d.escalation_at(n) <= now))
        if j.v4 and level > 0 and at <= d.due_at:
            _stand_down(j, d, at, now, cause, level)
        j.book.close(name)


def _stand_down(
    j: Journey, d: Deadline, at: datetime, now: datetime, cause: str, level: int
) -> None:
    first = Recipient.ON_CALL_PHYSICIAN if d.clinical else Recipient.LEAD_COORDINATOR
    paged = [] if d.summarised else [first, Recipient.MEDICAL_DIRECTOR]
    recipients = paged[:level]
    reason = (
        f"{cause} at {at:%Y-%m-%d %H:%M} UTC met the deadline (due {d.due_at:%Y-%m-%d %H:%M} "
        "UTC); it was recorded after the deadline had escalated"
    )
    for level, recipient in enumerate(recipients, start=1):
        j.notifications.append(
            Notification(
                idempotency_key=(
                    f"{j.facts.case_id}:{d.name}:resolution:{level}:{d.due_at.isoformat()}"
                ),
                case_id=j.facts.case_id,
                kind=NotificationKind.RESOLUTION,
                recipient=recipient,
                recipient_ref=j.recipient_ref(recipient),
                deadline=d.name,
                level=level,
                severity=Severity.INFO,
                scheduled_for=now,
                text=f"Stand down: {d.summary} was met on time — {reason}; the level {level} "
                "escalation needs no action",
            )
        )
    alerts.resolve_where(j, lambda a: a.deadline == d.name, now, reason)
    data = {
        "deadline": d.name,
        "level": level,
        "met_at": at.isoformat(),
        "due_at": d.due_at.isoformat(),
        "cause": cause,
    }
    j.state.timeline.append(
        MilestoneEvent(
            kind="escalation_resolved",
            actor="system",
            occurred_at=now,
            recorded_at=now,
            data=data,
            note=reason,
        )
    )
    j.audit_entry(AuditAction.ESCALATION_RESOLVED, "system", now, now, detail=data, reason=reason)


# --- a whole history at once --------------------------------------------------------------


Item = MilestoneInput | ObservationInput


def _items(h: HistoryImport) -> list[tuple[str, Item]]:
    """The history's items, labelled as the file numbers them, oldest first (stable)."""
    items: list[tuple[datetime, int, str, Item]] = []
    for n, m in enumerate(h.milestones, start=1):
        label = f"milestones[{n}] ({str(m.kind)[:40]})"
        if m.occurred_at is None:
            raise refused(
                "{item} has no occurred_at; every imported milestone needs the time it happened",
                RefusalCode.MISSING_FIELD,
                item=label,
            )
        items.append((m.occurred_at, len(items), label, m))
    for n, o in enumerate(h.observations, start=1):
        label = f"observations[{n}]"
        if o.observed_at is None:
            raise refused(
                "{item} has no observed_at; every imported observation needs its time",
                RefusalCode.MISSING_FIELD,
                item=label,
            )
        items.append((o.observed_at, len(items), label, o))
    if not items:
        raise refused(
            "the history is empty; expected milestones and/or observations",
            RefusalCode.MISSING_FIELD,
        )
    if len(items) > MAX_IMPORT_ITEMS:
        raise refused(
            "the history has {count} items; at most {most} in one import",
            RefusalCode.INVALID_DATA,
            count=len(items),
            most=MAX_IMPORT_ITEMS,
        )
    try:
        ordered = sorted(items, key=lambda t: (t[0], t[1]))
    except TypeError:  # a naive time among aware ones
        raise refused(
            "every time in the history must include a UTC offset", RefusalCode.INVALID_TIME
        ) from None
    return [(label, item) for _, _, label, item in ordered]


def _apply(j: Journey, h: HistoryImport, now: datetime) -> tuple[int, int]:
    milestones = observations = 0
    for label, item in _items(h):
        try:
            if isinstance(item, MilestoneInput):
                m = item if item.actor.strip() else item.model_copy(update={"actor": h.actor})
                j.apply_milestone(j.check_milestone(m, now), now)
                milestones += 1
            else:
                o = item if item.actor.strip() else item.model_copy(update={"actor": h.actor})
                j.apply_observation(o, j.check_observation(o, now), now)
                observations += 1
        except Refused as e:
            # The item's own refusal, in its own words when it has them (a sentence nested
            # once: its own parts, if any, stay as the English that filled it in).
            reason = Words(e.template, e.params) if e.template and not e.nested else str(e)
            raise refused(
                "{item}: {reason}; nothing was imported", e.code, item=label, reason=reason
            ) from None
    return milestones, observations


def check_import(j: Journey, h: HistoryImport, now: datetime) -> None:
    """Refuse (naming the item and why) unless the whole history applies to this journey."""
    if not j.v4:
        raise refused(
            "this journey runs rules from before history import; start the patient's journey "
            "again with the history",
            RefusalCode.PATHWAY_RULE,
        )
    j.check_sender(h.actor, h.note, "who imports the history")
    recorded = [e for e in j.state.timeline if e.kind in set(MilestoneKind)]
    if recorded or j.state.observations:
        raise refused(
            "history can be imported only into a journey with nothing recorded yet; this one "
            "has {milestones} milestone(s) and {observations} observation(s)",
            RefusalCode.PATHWAY_RULE,
            milestones=len(recorded),
            observations=len(j.state.observations),
        )
    counter = itertools.count()
    # type(j), not an import: this runs inside the workflow sandbox, where a late import
    # would be re-imported from scratch.
    trial = type(j)(
        j.facts,
        JourneyState.model_validate(j.state.model_dump()),
        new_id=lambda: f"trial-{next(counter)}",
    )
    trial.quiet = True
    _apply(trial, h, now)


def apply_import(j: Journey, h: HistoryImport, now: datetime) -> HistoryImportAck:
    """Apply an accepted history, then evaluate deadlines once and tell the coordinator."""
    alerts_before = len(j.state.alerts)
    j.quiet = True
    try:
        milestones, observations = _apply(j, h, now)
    finally:
        j.quiet = False
    # Deadlines are evaluated once, now that the whole history is in: what fell due in the
    # past is marked (overdue, at its level) and summarised, not escalated one by one.
    for d in j.book.deadlines.values():
        d.hold_until = None
    j.book.fire(now)
    for d in j.book.deadlines.values():
        d.summarised = d.escalation_level > 0
    # A family taken in mid-way must still be told of the restrictions they live under now
    # (the import itself is quiet: nothing of the past is sent).
    for d in list(j.book.deadlines.values()):
        if d.window and d.reminder_to is Recipient.PATIENT_FAMILY and d.due_at > now:
            deadlines.tell_family_of_window(j, d, now)
    overdue = [d for d in j.open_deadlines() if d.overdue]
    raised = j.state.alerts[alerts_before:]
    parts = [
        f"History imported by {h.actor.strip()}: {milestones} milestone(s), {observations} "
        f"observation(s); the journey is in {j.state.phase}."
    ]
    if overdue:
        parts.append(
            "Due in the past, not escalated one by one: "
            + "; ".join(
                f"{d.name} (due {d.due_at:%Y-%m-%d %H:%M} UTC, level {d.escalation_level})"
                for d in overdue
            )
            + "."
        )
    else:
        parts.append("Nothing is overdue.")
    if raised:
        parts.append(
            f"{len(raised)} alert(s) from the imported observations are open; acknowledge them "
            "once reviewed (critical ones repeat to the on-call physician until then): "
            + "; ".join(f"{a.id[:8]} {a.severity} {a.kind}" for a in raised)
            + "."
        )
    summary = " ".join(parts)
    j.notifications.append(
        Notification(
            idempotency_key=f"{j.facts.case_id}:history_import:{now.isoformat()}",
            case_id=j.facts.case_id,
            kind=NotificationKind.SUMMARY,
            recipient=Recipient.COORDINATOR,
            recipient_ref=j.recipient_ref(Recipient.COORDINATOR),
            severity=Severity.WARNING if overdue or raised else Severity.INFO,
            scheduled_for=now,
            text=summary,
        )
    )
    j.audit_entry(
        AuditAction.HISTORY_IMPORTED,
        h.actor.strip(),
        now,
        now,
        detail={"milestones": milestones, "observations": observations, "overdue": len(overdue)},
        reason=h.note,
    )
    j.touch()
    return HistoryImportAck(
        milestones=milestones,
        observations=observations,
        phase=j.state.phase,
        summary=summary,
        next_deadlines=j.open_deadlines(),
    )


def rehearse_import(
    facts: JourneyInput, calendar: BusinessCalendar, h: HistoryImport, now: datetime
) -> HistoryImportAck:
    """Apply a history to a journey started `now` for `facts`, without Temporal: what intake
    does before it starts anything, so that a refused history leaves no journey behind.

    Raises:
        Refused: an item of the history (named) is refused, as the journey would refuse it.
    """
    from models.pathway.journey import Journey as Facade  # (a cycle at import time)

    counter = itertools.count()
    state = JourneyState(protocol=resolve_protocol(facts.protocol), calendar=calendar)
    # The rules version a journey started now runs under (the workflow's latest patch).
    state.rules_version = 5
    j = Facade(facts, state, new_id=lambda: f"rehearsal-{next(counter)}")
    j.start(now)
    check_import(j, h, now)
    return apply_import(j, h, now)
