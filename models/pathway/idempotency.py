"""Repeating a milestone: the same `milestone_id` again is acknowledged once, as a duplicate,
when it carries the same milestone; anything else under that id is refused as a conflict
(rules version 3 on; the note too for journeys under the flood bounds; archived entries by
the digest of their kind and data)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from models import bounds
from models.enums import MilestoneKind
from models.errors import RefusalCode, Refused, Words, refused, words
from models.messages import MilestoneEvent, MilestoneInput
from models.pathway import actions
from models.pathway.data import NoData
from models.pathway.rules import Accepted

if TYPE_CHECKING:
    from models.pathway.journey import Journey

MILESTONE_KINDS = frozenset(k.value for k in MilestoneKind)


def event_with_id(j: Journey, milestone_id: str | None) -> MilestoneEvent | None:
    """The timeline entry recorded under `milestone_id`, if any."""
    if milestone_id is None:
        return None
    return next((e for e in j.state.timeline if e.milestone_id == milestone_id), None)


def repeated(j: Journey, m: MilestoneInput, now: datetime) -> Accepted[Any] | None:
    """A duplicate of a milestone already recorded (None when the id is new); `Refused`
    (conflict) when the id was used for another milestone."""
    earlier = event_with_id(j, m.milestone_id)
    if earlier is None and m.milestone_id in j.state.archived_ids:
        _check_same_archived(j, m, j.state.archived_ids[m.milestone_id])
        return Accepted(kind=None, occurred_at=now, data=NoData(), raw=m, duplicate=True)
    if earlier is None:
        return None
    if j.v3:
        _check_same_milestone(j, m, earlier)
    return Accepted(
        kind=MilestoneKind(m.kind) if m.kind in MILESTONE_KINDS else None,
        occurred_at=now,
        data=NoData(),
        raw=m,
        duplicate=True,
    )


def _check_same_milestone(j: Journey, m: MilestoneInput, earlier: MilestoneEvent) -> None:
    """A repeated idempotency key must carry the same milestone, else it is a conflict."""
    differs: list[Words] = []
    if m.kind != earlier.kind:
        differs.append(
            words("kind ({kind}, not {earlier})", kind=repr(m.kind), earlier=repr(earlier.kind))
        )
    else:
        try:
            data = j.parse_data(MilestoneKind(m.kind), m.data)
            same = data.model_dump(mode="json", exclude_none=True) == earlier.data
        except (Refused, ValueError):
            same = False
        if not same:
            differs.append(words("data"))
    if j.strict_ids and not actions.same_note(m.note, earlier.note):
        differs.append(words("note"))
    if m.occurred_at is not None:
        at = bounds.check_instant(m.occurred_at, "occurred_at")
        if at != earlier.occurred_at:
            differs.append(words("occurred_at ({at} UTC)", at=f"{at:%Y-%m-%d %H:%M}"))
    if differs:
        raise refused(
            "milestone_id {id} was already used for '{kind}' recorded {at} UTC, with a "
            "different {differs}; expected the same milestone to repeat it, or a new milestone_id",
            RefusalCode.DUPLICATE_CONFLICT,
            id=repr(m.milestone_id),
            kind=earlier.kind,
            at=f"{earlier.recorded_at:%Y-%m-%d %H:%M}",
            differs=differs,
        )


def _check_same_archived(j: Journey, m: MilestoneInput, recorded: str) -> None:
    """A repeated id of an archived milestone must carry its kind and data."""
    try:
        data = j.parse_data(MilestoneKind(m.kind), m.data)
        same = actions.digest(m.kind, data.model_dump(mode="json", exclude_none=True))
    except (Refused, ValueError):
        same = ""
    if same != recorded:
        raise refused(
            "milestone_id {id} was already used for an earlier milestone "
            "(archived: see `cellpath audit`) with a different kind or data; expected "
            "the same milestone to repeat it, or a new milestone_id",
            RefusalCode.DUPLICATE_CONFLICT,
            id=repr(m.milestone_id),
        )
