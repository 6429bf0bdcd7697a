"""A site's scarce resources as the journey holds them (runs under `CAPACITY`; earlier runs
refuse these kinds as unknown).

The case store decides who gets the last slot (`cellpath.store.capacity`: one transaction under
the resource's row lock); the service then records what it granted here, so the journey's
history says who booked what and when, and the journey can give it all back when it closes.

- `slot_booked`: bookings granted together (one, or a chain); `replaces` names bookings given
  back in the same step (a chain moved). Each on the journey's site once it has one; no
  apheresis chair or manufacturing start for an off-the-shelf product.
- `slot_released`: bookings given back, by id; only ones the journey holds.

A journey that closes (withdrawn, ineligible, declined, manufacturing failed, died,
completed) releases every booking it holds (`release_all`); its next write tells the case
store, which frees the slots.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.capacity import Booking, ResourceKind
from models.enums import CellSource, MilestoneKind
from models.errors import RefusalCode, refused, words
from models.pathway.data_capacity import SlotBookedData, SlotReleasedData
from models.pathway.rules import (
    Accepted,
    AnyTimeRule,
    D,
    require_run,
    rule,
)

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind
# Bookings a journey may hold at once (a chain is four).
MAX_ACTIVE = 16
# What the journey keeps of bookings given back (the history has them all).
MAX_KEPT = 64
PRODUCT_MADE = (ResourceKind.APHERESIS, ResourceKind.MANUFACTURING)


def require_capacity(j: Journey, what: str) -> None:
    """Refuse what only runs under `CAPACITY` take, as earlier runs always did."""
    require_run(j.capacity, what)


def active(j: Journey) -> list[Booking]:
    """The bookings the journey holds now."""
    return [b for b in j.state.bookings if b.active]


def _held(j: Journey, booking_id: str) -> Booking:
    found = next((b for b in active(j) if b.booking_id == booking_id), None)
    if found is None:
        held = ", ".join(b.booking_id for b in active(j))
        raise refused(
            "this journey holds no booking {booking}; expected one of: {held}",
            RefusalCode.PATHWAY_RULE,
            booking=repr(booking_id),
            held=held or words("none"),
        )
    return found


def _release(b: Booking, at: datetime, reason: str) -> None:
    b.released_at, b.release_reason = at, reason


def _trim(j: Journey) -> None:
    gone = [b for b in j.state.bookings if not b.active]
    if len(gone) > MAX_KEPT:
        drop = {id(b) for b in gone[: len(gone) - MAX_KEPT]}
        j.state.bookings = [b for b in j.state.bookings if id(b) not in drop]


def release_all(j: Journey, at: datetime, reason: str) -> None:
    """Give back every booking the journey holds (it closed)."""
    for b in active(j):
        _release(b, at, reason)
    _trim(j)


class CapacityRule(AnyTimeRule[D]):
    """A capacity milestone: optional, never waited for, in any open phase (runs under
    `CAPACITY`)."""

    def taken(self, j: Journey) -> bool:
        return j.capacity


@rule
class SlotBooked(CapacityRule[SlotBookedData]):
    """The case store granted bookings to this journey."""

    kind = K.SLOT_BOOKED
    data = SlotBookedData

    def check(self, j: Journey, a: Accepted[SlotBookedData]) -> None:
        super().check(j, a)
        d = a.data
        known = {b.booking_id for b in j.state.bookings}
        site = j.state.current_site or j.state.submitted_site
        for s in d.slots:
            if s.booking_id in known:
                raise refused(
                    "booking {booking} is already recorded; expected a new booking id",
                    RefusalCode.PATHWAY_RULE,
                    booking=s.booking_id,
                )
            if site is not None and s.site != site:
                raise refused(
                    "booking {booking} is at {at}; this journey's site is {site}",
                    RefusalCode.PATHWAY_RULE,
                    booking=s.booking_id,
                    at=s.site,
                    site=site,
                )
            if s.kind in PRODUCT_MADE and j.facts.cell_source is CellSource.ALLOGENEIC:
                raise refused(
                    "an off-the-shelf product needs no {kind} slot (booking {booking}); "
                    "expected a bed or an ICU bed",
                    RefusalCode.WRONG_PRODUCT,
                    kind=s.kind.value,
                    booking=s.booking_id,
                )
        for booking_id in d.replaces:
            _held(j, booking_id)
        if len(active(j)) - len(d.replaces) + len(d.slots) > MAX_ACTIVE:
            raise refused(
                "a journey holds at most {most} bookings at once; release one first",
                RefusalCode.PATHWAY_RULE,
                most=MAX_ACTIVE,
            )

    def apply(self, j: Journey, a: Accepted[SlotBookedData], now: datetime) -> None:
        d = a.data
        for booking_id in d.replaces:
            _release(_held(j, booking_id), a.occurred_at, "moved")
        for s in d.slots:
            j.state.bookings.append(
                Booking(
                    booking_id=s.booking_id,
                    site=s.site,
                    resource=s.resource,
                    kind=s.kind,
                    start=s.start,
                    end=s.end,
                    chain=s.chain,
                    booked_by=a.raw.actor.strip(),
                    booked_at=a.occurred_at,
                )
            )
        _trim(j)


@rule
class SlotReleased(CapacityRule[SlotReleasedData]):
    """Bookings given back."""

    kind = K.SLOT_RELEASED
    data = SlotReleasedData

    def check(self, j: Journey, a: Accepted[SlotReleasedData]) -> None:
        super().check(j, a)
        if len(set(a.data.booking_ids)) != len(a.data.booking_ids):
            raise refused("a booking is named twice", RefusalCode.INVALID_DATA)
        for booking_id in a.data.booking_ids:
            _held(j, booking_id)

    def apply(self, j: Journey, a: Accepted[SlotReleasedData], now: datetime) -> None:
        for booking_id in a.data.booking_ids:
            _release(_held(j, booking_id), a.occurred_at, a.data.reason or "released")
        _trim(j)
