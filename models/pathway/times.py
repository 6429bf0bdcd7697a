"""When things happened, as a journey checks them: with an offset, in range, not in the future
(beyond the protocol's clock-skew tolerance), not before what they follow. Milestones,
observations, gates and reschedules share these rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from models import bounds
from models.errors import RefusalCode, refused
from models.pathway.idempotency import MILESTONE_KINDS

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def occurred_at(
    j: Journey, at: datetime | None, now: datetime, field: str = "occurred_at"
) -> datetime:
    """When a milestone happened: now (never before the previous one) when not given, else
    `check_time` against the previous milestone."""
    last = last_occurred(j)
    if at is None:
        # A time within the clock-skew tolerance may lie a little ahead of `now`: the
        # next milestone without a time of its own must not land before it.
        return max(now, last) if j.v3 and last is not None else now
    return check_time(
        j, at, now, field, not_before=last, what="the previous milestone", then="at or after it"
    )


def check_time(
    j: Journey,
    at: datetime,
    now: datetime,
    field: str,
    *,
    not_before: datetime | None,
    what: str,
    then: str,
) -> datetime:
    """When something happened, as UTC: with its offset, in range, not in the future
    (beyond the protocol's clock-skew tolerance) and not before `not_before` (`what`
    names it, `then` the time expected). Milestones and observations share it."""
    at = check_instant(j, at, field, "expected a time near now")
    if at > now + timedelta(minutes=j.protocol.future_skew_minutes):
        raise refused(
            "{field} {at} UTC is in the future; expected a time at or before now ({now} UTC)",
            RefusalCode.FUTURE_TIME,
            field=field,
            at=at.strftime("%Y-%m-%d %H:%M"),
            now=now.strftime("%Y-%m-%d %H:%M"),
        )
    if not_before is not None and at < not_before:
        raise refused(
            "{field} {at} UTC is before {what} ({before} UTC); expected a time {then}",
            RefusalCode.OUT_OF_ORDER,
            field=field,
            at=at.strftime("%Y-%m-%d %H:%M"),
            what=what,
            before=not_before.strftime("%Y-%m-%d %H:%M"),
            then=then,
        )
    return at


def check_instant(j: Journey, at: datetime, field: str, expected: str) -> datetime:
    """A time with its UTC offset, in range, as UTC (v3: `bounds.check_instant`).

    Rules before version 3 refuse a naive time and an overflow in their own words, kept
    so that journeys started under them answer exactly as they did.
    """
    if j.v3:
        return bounds.check_instant(at, field, strict=j.strict_ids)
    if at.tzinfo is None:
        example = ", e.g. 2026-11-21T10:00:00+08:00" if field == "occurred_at" else ""
        raise refused(
            "{field} must include a UTC offset{example}",
            RefusalCode.INVALID_TIME,
            field=field,
            example=example,
        )
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise refused(
            "{field} {at} is out of range; {expected}",
            RefusalCode.INVALID_TIME,
            field=field,
            at=at.isoformat(),
            expected=expected,
        ) from None


def last_occurred(j: Journey) -> datetime | None:
    """When the latest milestone happened (archived ones counted)."""
    times = [e.occurred_at for e in j.state.timeline if e.kind in MILESTONE_KINDS]
    if j.state.archived_last_occurred is not None:
        times.append(j.state.archived_last_occurred)
    return max(times) if times else None
