"""What coordinators do to a journey besides recording milestones: move a deadline, withdraw
the journey; and what happens to a `milestone` signal the journey refuses (kept, bounded).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from models import bounds
from models.deadlines import DeadlineView
from models.enums import AuditAction, MilestoneKind, Outcome
from models.errors import RefusalCode, refused
from models.messages import (
    NOTE_MAX_CHARS,
    MilestoneAck,
    MilestoneEvent,
    MilestoneInput,
    RejectedSignal,
    RescheduleInput,
    WithdrawInput,
)
from models.pathway import times
from models.state import JourneyState

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def check_reschedule(j: Journey, r: RescheduleInput, now: datetime) -> None:
    """Check a reschedule request; raise `Refused` saying what was expected."""
    if j.closed:
        raise refused(
            "the journey is closed; it has no deadline to move; expected an open journey",
            RefusalCode.CLOSED,
        )
    if j.v3:
        bounds.check_text(r.deadline, "deadline", limit=64)
    check_sender(j, r.actor, r.reason, "who moves the deadline", required="why the deadline moves")
    if j.book.get(r.deadline) is None:
        names = [v.name for v in j.open_deadlines()]
        raise refused(
            "no open deadline {deadline}; expected one of: {names}",
            RefusalCode.UNKNOWN_NAME,
            deadline=repr(r.deadline),
            names=", ".join(names) or "(none open)",
        )
    if r.due_at.tzinfo is None:
        raise refused("due_at must include a UTC offset", RefusalCode.INVALID_TIME)
    times.check_instant(j, r.due_at, "due_at", "expected a later time")
    if r.due_at <= now:
        raise refused(
            "due_at {due} UTC is not in the future; expected a time after now ({now} UTC)",
            RefusalCode.INVALID_TIME,
            due=r.due_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            now=now.strftime("%Y-%m-%d %H:%M"),
        )


def apply_reschedule(j: Journey, r: RescheduleInput, now: datetime) -> DeadlineView:
    """Move the deadline and record who moved it, from when to when, and why."""
    old = j.state.book.deadlines[r.deadline]
    moved = j.state.book.reschedule(r.deadline, now=now, due_at=r.due_at.astimezone(UTC))
    data = {
        "deadline": r.deadline,
        "from": old.due_at.isoformat(),
        "to": moved.due_at.isoformat(),
    }
    j.state.timeline.append(
        MilestoneEvent(
            kind="reschedule",
            actor=r.actor.strip(),
            occurred_at=now,
            recorded_at=now,
            data=data,
            note=r.reason,
        )
    )
    j.audit_entry(AuditAction.RESCHEDULE, r.actor.strip(), now, now, detail=data, reason=r.reason)
    j.touch()
    return moved.view()


def check_withdraw(j: Journey, w: WithdrawInput) -> None:
    """Check a withdrawal; raise `Refused` saying what was expected."""
    if j.closed:
        raise refused(
            "the journey is already closed ({outcome}); expected an open journey",
            RefusalCode.CLOSED,
            outcome=j.state.outcome,
        )
    if j.state.died_at is not None:
        # Withdrawn, the death's report to the sponsor would be owed with no deadline left.
        raise refused(
            "the patient died ({day}); the journey closes as died once the death is reported to "
            "the sponsor: expected sae_reported",
            RefusalCode.CLOSED,
            day=j.state.died_at.strftime("%Y-%m-%d"),
        )
    check_sender(
        j, w.actor, w.reason, "who withdraws the journey", required="why the journey is withdrawn"
    )


def apply_withdraw(j: Journey, w: WithdrawInput, now: datetime) -> MilestoneAck:
    """Close the journey as withdrawn."""
    j.state.timeline.append(
        MilestoneEvent(
            kind="withdraw",
            actor=w.actor.strip(),
            occurred_at=now,
            recorded_at=now,
            data={"phase": j.state.phase.value},
            note=w.reason,
        )
    )
    j.audit_entry(AuditAction.WITHDRAW, w.actor.strip(), now, now, reason=w.reason)
    j.close(Outcome.WITHDRAWN)
    j.touch()
    return j.ack()


# --- signals ------------------------------------------------------------------------------


def reject_signal(
    j: Journey,
    m: MilestoneInput | None,
    reason: str,
    now: datetime,
    kind: str = "?",
    size_bytes: int | None = None,
) -> None:
    """Keep a refused `milestone` signal with its reason (it is never dropped).

    Only a bounded summary is kept (see `RejectedSignal`), and only the most recent
    `MAX_REJECTED`; `rejected_total` counts them all. The audit log gets the same summary.
    """
    summary = rejected_summary(m, reason, now, kind=kind, size_bytes=size_bytes)
    j.state.rejected.append(summary)
    j.state.rejected_total += 1
    # The new summary is bounded and the older ones were when they were kept (or when the
    # journey was loaded): only the length needs trimming. Re-checking all of them on every
    # signal made a flood cost fifty serialisations a message.
    if len(j.state.rejected) > MAX_REJECTED:
        del j.state.rejected[:-MAX_REJECTED]
    j.audit_entry(
        AuditAction.SIGNAL_REJECTED,
        summary.actor or "unknown",
        now,
        now,
        detail={"kind": summary.kind},
        reason=summary.reason,
    )
    j.touch()


def reject_unread(j: Journey, count: int, reason: str, now: datetime) -> None:
    """Count signals that were never read, with one audit entry for all of them.

    Only when a flood left a run close to Temporal's hard limits: reading them would keep the
    run from continuing as new. Each is still whole in that run's history.
    """
    if count <= 0:
        return
    j.state.rejected_total += count
    j.state.rejected_unread += count
    j.audit_entry(
        AuditAction.SIGNAL_REJECTED,
        "unknown",
        now,
        now,
        detail={"kind": "?", "unread": count},
        reason=reason,
    )
    j.touch()


MAX_REJECTED = 50
# A fresh run carries the most recent timeline entries whole; older notes are cut to this
# many characters (each note is whole in the audit log).
TIMELINE_WHOLE_NOTES = 100
CARRIED_NOTE_CHARS = 200
CUT_MARK = " … [cut: whole in the audit log]"


# A fresh run carries at most this many timeline entries; older ones are archived (counted,
# their ids' digests kept, at most `ARCHIVED_IDS`); each is whole in the audit log.
TIMELINE_CARRIED = 1_000
_MILESTONE_KINDS = frozenset(k.value for k in MilestoneKind)
ARCHIVED_IDS = 5_000


def digest(kind: str, data: dict[str, object]) -> str:
    """What a repeated id of an archived milestone must repeat (its kind and data), in 16 hex
    digits (its note may have been cut before it was archived)."""
    body = json.dumps([kind, data], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def compact_timeline(state: JourneyState) -> None:
    """Archive the oldest timeline entries past `TIMELINE_CARRIED`, and cut the notes of
    older ones (see `Journey.compact_for_carry`)."""
    old, state.timeline = state.timeline[:-TIMELINE_CARRIED], state.timeline[-TIMELINE_CARRIED:]
    for e in old:
        state.timeline_archived += 1
        if e.kind in _MILESTONE_KINDS and (
            state.archived_last_occurred is None or e.occurred_at > state.archived_last_occurred
        ):
            state.archived_last_occurred = e.occurred_at
        if e.milestone_id is not None:
            state.archived_ids.pop(e.milestone_id, None)
            state.archived_ids[e.milestone_id] = digest(e.kind, e.data)
    while len(state.archived_ids) > ARCHIVED_IDS:
        del state.archived_ids[next(iter(state.archived_ids))]
    for n, e in enumerate(state.timeline[:-TIMELINE_WHOLE_NOTES]):
        if len(e.note) > CARRIED_NOTE_CHARS + len(CUT_MARK):
            state.timeline[n] = e.model_copy(
                update={"note": e.note[:CARRIED_NOTE_CHARS] + CUT_MARK}
            )


def same_note(note: str, earlier: str) -> bool:
    """Whether a repeated milestone's note is the one recorded (or its cut beginning)."""
    if earlier.endswith(CUT_MARK):
        return note.startswith(earlier[: -len(CUT_MARK)])
    return note == earlier


# A rejected milestone is kept whole only when it is this small (the history has it anyway).
REJECTED_KEEP_BYTES = 2048


def _clip(text: str, limit: int) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rejected_summary(
    m: MilestoneInput | None,
    reason: str,
    now: datetime,
    *,
    kind: str = "?",
    size_bytes: int | None = None,
) -> RejectedSignal:
    """A bounded record of a refused signal: short texts, field names, the size."""
    keep = None
    if m is not None and len(m.model_dump_json()) <= REJECTED_KEEP_BYTES:
        keep = m
    milestone_id = m.milestone_id if m is not None else None
    if milestone_id is not None and not bounds.ID_PATTERN.fullmatch(milestone_id):
        milestone_id = None
    return RejectedSignal(
        kind=_clip(m.kind if m else kind, 64),
        actor=_clip(m.actor if m else "", bounds.ACTOR_MAX_CHARS),
        received_at=now,
        reason=_clip(reason, 500),
        milestone=keep,
        milestone_id=milestone_id,
        data_fields=[_clip(str(k), 40) for k in list(m.data)[:20]] if m else [],
        size_bytes=size_bytes,
    )


def trim_rejected(state: JourneyState) -> None:
    """Keep the most recent `MAX_REJECTED` refused signals, each as a bounded summary."""
    if len(state.rejected) > MAX_REJECTED:
        state.rejected = state.rejected[-MAX_REJECTED:]
    for n, r in enumerate(state.rejected):
        too_big = r.milestone is not None and len(r.milestone.model_dump_json()) > (
            REJECTED_KEEP_BYTES
        )
        if too_big or len(r.reason) > 500 or len(r.kind) > 64 or len(r.actor) > 64:
            state.rejected[n] = rejected_summary(
                r.milestone, r.reason, r.received_at, kind=r.kind, size_bytes=r.size_bytes
            )
    state.rejected_total = max(state.rejected_total, len(state.rejected))


def check_message_fields(actor: str, note: str, who: str, *, note_field: str = "note") -> None:
    """Rules version 3: who sent a message and its free text, bounded and plain."""
    bounds.check_actor(actor, who)
    bounds.check_text(note, note_field, limit=NOTE_MAX_CHARS, multiline=True)


def check_sender(
    j: Journey, actor: str, text: str, who: str, *, required: str | None = None
) -> None:
    """Who sent a message, and its free text: every message's one check.

    `text` is the message's note, or its reason when `required` says why one is needed (a
    reschedule, a withdrawal). Rules version 3 bounds both and refuses control characters
    (`check_message_fields`); every version requires the actor and caps a note's length.
    """
    field = "note" if required is None else "reason"
    if j.v3:
        check_message_fields(actor, text, who, note_field=field)
    if j.strict_ids:
        bounds.check_actor_id(actor, who)
    if required is not None and not text.strip():
        raise refused("reason is required: {what}", RefusalCode.MISSING_FIELD, what=required)
    if not actor.strip():
        raise refused("actor is required: {who}", RefusalCode.MISSING_FIELD, who=who)
    # Before version 3 a reason's length was not capped; journeys still running under those
    # rules keep answering as they did (their histories must replay the same).
    if len(text) > NOTE_MAX_CHARS and (required is None or j.v3):
        raise refused(
            "{field} is {n} characters; expected at most {most}",
            RefusalCode.INVALID_DATA,
            field=field,
            n=len(text),
            most=NOTE_MAX_CHARS,
        )
