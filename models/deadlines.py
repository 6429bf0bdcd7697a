"""The deadline primitive: a due time, reminders before it, escalation levels after it.

Every phase of a journey waits for something with a due time. Instead of one timer per phase,
the workflow keeps all open deadlines in a `DeadlineBook` and sleeps until the book's
`next_event_at()`; when it wakes it calls `fire(now)` and sends what that returns. The book is
pure (no Temporal imports), so reminder and escalation arithmetic is unit-tested without a
server, and the workflow needs only one timer at a time however many deadlines are open.

Escalation chain (docs/clinical-rules.md): reminders go to the case's coordinator before the
due time; at the due time level 1 goes to the lead coordinator (for a clinical deadline: at
once to the site's on-call physician); `level2_after` later, level 2 to the medical director.

A *window* (`window=True`) is a restriction with an end rather than a task with a due time:
stay near the centre, do not drive. It reminds before its end, tells the recipient when it has
ended, closes itself, and never escalates: nobody is late when a window ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from models.enums import NotificationKind, Recipient

MAX_ESCALATION_LEVEL = 2


class DeadlineView(BaseModel):
    """An open deadline as coordinators see it (`status().open_deadlines`, acks)."""

    name: str
    due_at: datetime
    escalation_level: int = 0
    overdue: bool = False


class Deadline(BaseModel):
    """One open deadline and what has been sent for it so far.

    `reminders` holds only reminders not yet sent; `escalation_level` is raised by `fire`, at
    the workflow's own timers, never computed from the clock inside a query.
    """

    name: str
    summary: str
    opened_at: datetime
    due_at: datetime
    reminders: list[datetime] = Field(default_factory=list)
    # Distances of all reminders (sent or not) from the due time, kept for `reschedule`.
    reminder_offsets: list[timedelta] = Field(default_factory=list)
    reminder_to: Recipient = Recipient.COORDINATOR
    # The family's own appointment (telemedicine, the visa extension): its reminders go to the
    # family too, in their language, besides `reminder_to`.
    family_too: bool = False
    clinical: bool = False
    escalation_level: int = 0
    level2_after: timedelta = timedelta(hours=48)
    window: bool = False
    # A deadline opened already past due (a milestone recorded after the fact) escalates no
    # earlier than this: the coordinator back-filling a journey records the next milestone
    # first. Escalation times shift by the hold, level 2 keeping its distance from level 1.
    hold_until: datetime | None = None
    # Its escalation was reported in a history import's summary to the coordinator rather
    # than paged: met on time after all, nobody needs to be told to stand down.
    summarised: bool = False

    @property
    def overdue(self) -> bool:
        """Level 1 is raised by the due-time timer, so "overdue" is exactly "level ≥ 1"."""
        return self.escalation_level >= 1

    def escalation_at(self, level: int) -> datetime:
        """When escalation `level` (1 or 2) falls due (after the hold, if one is set)."""
        at = self.due_at if level == 1 else self.due_at + self.level2_after
        if self.hold_until is not None and self.hold_until > self.due_at:
            at += self.hold_until - self.due_at
        return at

    def next_event_at(self) -> datetime | None:
        """The earliest pending reminder or escalation, or None when all have been sent."""
        times = list(self.reminders)
        if self.window:
            times.append(self.due_at)
        elif self.escalation_level < MAX_ESCALATION_LEVEL:
            times.append(self.escalation_at(self.escalation_level + 1))
        return min(times) if times else None

    def event(
        self,
        kind: NotificationKind,
        level: int,
        recipient: Recipient,
        scheduled_at: datetime,
        now: datetime,
        text: str,
    ) -> DeadlineEvent:
        """Something this deadline has to send now."""
        return DeadlineEvent(
            deadline=self.name,
            kind=kind,
            level=level,
            recipient=recipient,
            due_at=self.due_at,
            scheduled_at=scheduled_at,
            fired_at=now,
            clinical=self.clinical,
            text=text,
        )

    def view(self) -> DeadlineView:
        """The public view of this deadline."""
        return DeadlineView(
            name=self.name,
            due_at=self.due_at,
            escalation_level=self.escalation_level,
            overdue=self.overdue,
        )


class DeadlineEvent(BaseModel):
    """Something `DeadlineBook.fire` says is to be sent now."""

    deadline: str
    kind: NotificationKind
    level: int
    recipient: Recipient
    due_at: datetime
    scheduled_at: datetime  # the instant this reminder or level was due (names it uniquely)
    fired_at: datetime
    clinical: bool
    text: str


def reminder_times(
    now: datetime,
    due_at: datetime,
    *,
    start: datetime | None = None,
    every: timedelta | None = None,
    before: list[timedelta] | None = None,
) -> list[datetime]:
    """Reminder instants for a deadline: strictly after `now`, strictly before `due_at`.

    Args:
        start: when the clock started (a milestone's `occurred_at`); defaults to `now`.
        every: a reminder every such period counted from `start` (e.g. every 3 days).
        before: reminders at these offsets before the due time (e.g. 2 days before).
    """
    times: set[datetime] = set()
    if every is not None and every > timedelta(0):
        at = (start or now) + every
        while at < due_at:
            if at > now:
                times.add(at)
            at += every
    for offset in before or []:
        at = due_at - offset
        if now < at < due_at:
            times.add(at)
    return sorted(times)


class DeadlineBook(BaseModel):
    """All open deadlines of one journey, keyed by their stable snake_case name."""

    deadlines: dict[str, Deadline] = Field(default_factory=dict)

    def open(
        self,
        name: str,
        *,
        now: datetime,
        due_at: datetime,
        summary: str,
        start: datetime | None = None,
        every: timedelta | None = None,
        before: list[timedelta] | None = None,
        clinical: bool = False,
        reminder_to: Recipient = Recipient.COORDINATOR,
        level2_after: timedelta = timedelta(hours=48),
        window: bool = False,
        family_too: bool = False,
    ) -> Deadline:
        """Open (or restart) the deadline `name`; a restarted one begins again at level 0.

        `start` is when the clock started (it may be earlier than `now` when a milestone is
        recorded after the fact); reminders already in the past are not sent.
        """
        name = str(name)  # a DeadlineName is stored as its plain value
        every_offsets = []
        if every is not None and every > timedelta(0):
            at = (start or now) + every
            while at < due_at:
                every_offsets.append(due_at - at)
                at += every
        offsets = sorted(set(every_offsets) | set(before or []), reverse=True)
        deadline = Deadline(
            name=name,
            summary=summary,
            opened_at=start or now,
            due_at=due_at,
            reminders=reminder_times(now, due_at, before=offsets),
            reminder_offsets=offsets,
            reminder_to=reminder_to,
            clinical=clinical,
            level2_after=level2_after,
            window=window,
            family_too=family_too,
        )
        self.deadlines[name] = deadline
        return deadline

    def close(self, *names: str) -> None:
        """Close deadlines that were met or no longer apply (unknown names are ignored)."""
        for name in names:
            self.deadlines.pop(name, None)

    def close_all(self) -> None:
        """Close every deadline (the journey closed)."""
        self.deadlines.clear()

    def get(self, name: str) -> Deadline | None:
        """The open deadline called `name`, if any."""
        return self.deadlines.get(name)

    def reschedule(self, name: str, *, now: datetime, due_at: datetime) -> Deadline:
        """Move an open deadline: reminders are recomputed, escalation starts again at level 0.

        Reminders keep their distance from the due time (a reminder 2 days before stays 2 days
        before the new due time); only those still in the future are kept.

        Raises:
            KeyError: no open deadline has that name.
        """
        old = self.deadlines[name]
        moved = old.model_copy(
            update={
                "due_at": due_at,
                "escalation_level": 0,
                "reminders": reminder_times(now, due_at, before=old.reminder_offsets),
            }
        )
        self.deadlines[name] = moved
        return moved

    def next_event_at(self) -> datetime | None:
        """When the workflow must next wake up for a deadline, or None."""
        times = [t for d in self.deadlines.values() if (t := d.next_event_at()) is not None]
        return min(times) if times else None

    def next_event_summary(self) -> str:
        """A short, PHI-free description of what the next wake-up is for (timer summary)."""
        upcoming = [(t, d) for d in self.deadlines.values() if (t := d.next_event_at()) is not None]
        if not upcoming:
            return "no open deadline"
        at, deadline = min(upcoming, key=lambda pair: pair[0])
        if at in deadline.reminders:
            what = "reminder"
        else:
            what = "end" if deadline.window else "escalation"
        return f"{deadline.summary}: {what} due {at:%Y-%m-%d %H:%M} UTC"

    def fire(self, now: datetime) -> list[DeadlineEvent]:
        """Everything due at or before `now`, marked as sent.

        When the workflow wakes late (a worker outage), several reminders of one deadline may be
        due at once: they are coalesced into one (none at all once the due time has passed),
        while each escalation level is sent, in order.
        """
        events: list[DeadlineEvent] = []
        ended: list[str] = []
        for deadline in self.deadlines.values():
            due_reminders = [at for at in deadline.reminders if at <= now]
            # A reminder is for *before* the due time; once it has passed, escalation speaks.
            if due_reminders and now < deadline.due_at:
                recipients = [deadline.reminder_to]
                if deadline.family_too and deadline.reminder_to is not Recipient.PATIENT_FAMILY:
                    recipients.append(Recipient.PATIENT_FAMILY)
                events.extend(
                    deadline.event(
                        NotificationKind.REMINDER,
                        0,
                        recipient,
                        max(due_reminders),
                        now,
                        f"Reminder: {deadline.summary} — "
                        f"{'until' if deadline.window else 'due'} "
                        f"{deadline.due_at:%Y-%m-%d %H:%M} UTC",
                    )
                    for recipient in recipients
                )
            deadline.reminders = [at for at in deadline.reminders if at > now]
            if deadline.window:
                if deadline.due_at <= now:
                    ended.append(deadline.name)
                    events.append(
                        deadline.event(
                            NotificationKind.REMINDER,
                            0,
                            deadline.reminder_to,
                            deadline.due_at,
                            now,
                            f"Ended {deadline.due_at:%Y-%m-%d %H:%M} UTC: {deadline.summary}",
                        )
                    )
                continue
            while (
                deadline.escalation_level < MAX_ESCALATION_LEVEL
                and deadline.escalation_at(deadline.escalation_level + 1) <= now
            ):
                deadline.escalation_level += 1
                level = deadline.escalation_level
                if level == 1:
                    recipient = (
                        Recipient.ON_CALL_PHYSICIAN
                        if deadline.clinical
                        else Recipient.LEAD_COORDINATOR
                    )
                else:
                    recipient = Recipient.MEDICAL_DIRECTOR
                events.append(
                    deadline.event(
                        NotificationKind.ESCALATION,
                        level,
                        recipient,
                        deadline.escalation_at(level),
                        now,
                        f"Overdue (level {level}): {deadline.summary} — was due "
                        f"{deadline.due_at:%Y-%m-%d %H:%M} UTC",
                    )
                )
        self.close(*ended)
        return events
