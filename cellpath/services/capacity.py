"""Capacity: a site's scarce resources and the bookings journeys hold on them.

- `set_resource` (administrators): a resource's kind, capacity per day or week, opening days,
  holidays, closed dates.
- `book`, `book_chain`, `move_chain`, `release` (coordinators and physicians of the case's
  care team): the case store grants first — one transaction under the resource's row lock,
  so of two coordinators taking the last place exactly one wins and the other is told which
  booking holds it and the next free slot — then the journey records what was granted
  (`slot_booked`, `slot_released`). A journey that refuses gets the places given back.
- `week` (any staff): a site's use, resource by resource, day by day.

The journey's own write confirms the holds it recorded and frees what it gave back or held
when it closed (`cellpath.store.capacity.reconcile`); a hold never recorded expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from cellpath.services import journeys
from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session, refusing
from cellpath.store import STAFF_AUDIT
from cellpath.store.capacity import Capacity, SlotConflict, SlotRequest, spec_of
from cellpath.store.directory import Directory
from cellpath.store.tables import SiteResource, SlotBooking
from models.capacity import Booking, ResourceKind, ResourceSpec, chain_dates
from models.enums import MilestoneKind, Phase
from models.errors import RefusalCode, Words, words
from models.messages import JourneyStatus, MilestoneAck, MilestoneInput
from models.pathway.data import describe_validation_error
from models.roles import Action

__all__ = [
    "Booked",
    "WeekRow",
    "book",
    "book_chain",
    "move_chain",
    "release",
    "resources",
    "set_resource",
    "week",
]


@lru_cache(maxsize=64)
def _holidays(country: str, years: tuple[int, ...]) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=list(years)).keys())


def public_holidays(country: str | None, years: Any) -> frozenset[date]:
    """A country's public holidays in those years (the `holidays` package)."""
    return _holidays(country, tuple(years)) if country else frozenset()


def capacity(session: Session) -> Capacity:
    """The case store's capacity, with the `holidays` package's public holidays."""
    return Capacity(session.case_store(), public_holidays)


# --- resources ------------------------------------------------------------------------------


def set_resource(session: Session, fields: dict[str, Any]) -> SiteResource:
    """Declare or change a site's resource (administrators); refused (audited, nothing kept)
    naming the field, or the site when it is not in the directory."""
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    try:
        spec = ResourceSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        raise _refused(
            session, fields, "{problems}", problems=describe_validation_error(e, ResourceSpec)
        ) from None
    directory = Directory(session.case_store())
    if directory.site(spec.site) is None:
        known = ", ".join(s.site for s in directory.sites())
        raise _refused(
            session,
            fields,
            "unknown site {site}; expected one of: {known}",
            site=repr(spec.site),
            known=known or words("none (cellpath sites set)"),
        )
    return capacity(session).set_resource(spec, by=session.actor)


def _refused(session: Session, fields: dict[str, Any], template: str, **params: object) -> Refusal:
    refusal = refusing(template, RefusalCode.INVALID_DATA, **params)
    detail = {k: str(fields.get(k)) for k in ("site", "resource")}
    record_refusal(session, STAFF_AUDIT, "resources", None, str(refusal), detail=detail)
    return refusal


def resources(session: Session, site: str) -> list[ResourceSpec]:
    """A site's resources (any staff)."""
    authorise(session, Action.READ, case="list")
    return [spec_of(r) for r in capacity(session).resources(site)]


# --- booking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booked:
    """What a booking did: the bookings granted and recorded, those given back for them."""

    bookings: list[SlotBooking]
    replaced: list[str] = field(default_factory=list)
    ack: MilestoneAck | None = None


async def _journey_site(session: Session, case: str) -> tuple[JourneyStatus, str]:
    status = await journeys.status(session, case)
    if not status.capacity_rules:
        raise refusing(
            "this journey's run does not take bookings yet (it does from its next run)",
            RefusalCode.UNKNOWN_NAME,
        )
    if status.phase is Phase.CLOSED:
        raise refusing(
            "the journey is closed ({outcome}); nothing to book",
            RefusalCode.CLOSED,
            outcome=status.outcome,
        )
    site = status.current_site or status.submitted_site
    if site is None:
        raise refusing(
            "the case has no site yet; expected submitted_to_pi (or the PI's acceptance) first",
            RefusalCode.OUT_OF_ORDER,
        )
    return status, site


async def _grant(
    session: Session,
    case: str,
    requests: list[SlotRequest],
    *,
    replaces: list[str],
    note: str,
) -> Booked:
    store = capacity(session)
    what = MilestoneKind.SLOT_BOOKED.value
    try:
        held = store.hold(case, requests, by=session.actor, replaces=replaces)
    except SlotConflict as e:
        record_refusal(session, case, what, None, str(e), detail={"kind": what})
        raise Refusal(str(e), RefusalCode.OVER_CAPACITY) from None
    slots = [
        {
            "booking_id": b.booking_id,
            "site": b.site,
            "resource": b.resource,
            "kind": b.kind,
            "start": b.first_day.isoformat(),
            "end": b.last_day.isoformat(),
        }
        | ({"chain": b.chain_step} if b.chain_step else {})
        for b in held
    ]
    m = MilestoneInput(
        kind=what,
        actor=session.actor,
        note=note,
        data={"slots": slots} | ({"replaces": replaces} if replaces else {}),
        milestone_id=f"slots-{held[0].booking_id}",
    )
    try:
        ack = await journeys.record_milestone(session, case, m, by_service=True)
    except Refusal as e:
        # The journey did not take them: the places go back, and a move's old ones return.
        store.release(case, [b.booking_id for b in held], by=session.actor, reason="refused")
        lost = store.restore(case, replaces, by=session.actor)
        if lost:
            reason = Words(e.template, e.params) if e.template and not e.nested else str(e)
            raise refusing(
                "{reason}; and {lost} could not be kept",
                e.code,
                reason=reason,
                lost=", ".join(lost),
            ) from None
        raise
    return Booked(bookings=held, replaced=replaces, ack=ack)


async def book(
    session: Session,
    case: str,
    resource: str,
    start: date,
    end: date | None = None,
    note: str = "",
) -> Booked:
    """Book one resource of the case's site from `start` to `end` (default: that day)."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.SLOT_BOOKED)
    _, site = await _journey_site(session, case)
    request = SlotRequest(site, resource, start, end or start)
    return await _grant(session, case, [request], replaces=[], note=note)


def _chain_requests(
    session: Session, status: JourneyStatus, site: str, first: date
) -> list[SlotRequest]:
    """The chain's bookings from `first` on the site's resources of each kind (a
    manufacturing slot for this product, or for any)."""
    declared = capacity(session).resources(site)
    out = []
    for step, start, end in chain_dates(status.chain, first):
        fits = [
            r
            for r in declared
            if r.kind == step.kind.value
            and (
                step.kind is not ResourceKind.MANUFACTURING
                or r.product in (None, status.therapy.value)
            )
        ]
        if not fits:
            raise refusing(
                "{site} has no {kind} resource for the chain's {step}; "
                "expected one declared (cellpath sites resource)",
                RefusalCode.OVER_CAPACITY,
                site=site,
                kind=step.kind.value,
                step=step.step,
            )
        out.append(SlotRequest(site, fits[0].resource, start, end, step.step))
    return out


async def book_chain(session: Session, case: str, first: date, note: str = "") -> Booked:
    """Book the protocol's chain from `first` (the arrival day), all or nothing."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.SLOT_BOOKED)
    status, site = await _journey_site(session, case)
    if _chain(status):
        raise refusing(
            "a chain is already booked; expected `move` to change its dates",
            RefusalCode.ALREADY_DONE,
        )
    return await _grant(
        session, case, _chain_requests(session, status, site, first), replaces=[], note=note
    )


def _chain(status: JourneyStatus) -> list[Booking]:
    return [b for b in status.bookings if b.active and b.chain]


async def move_chain(session: Session, case: str, first: date, note: str = "") -> Booked:
    """Move the booked chain so it starts on `first`: every booking moves, or none (the
    refusal names the step that does not fit and its next free day)."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.SLOT_BOOKED)
    status, site = await _journey_site(session, case)
    old = _chain(status)
    if not old:
        raise refusing("no chain is booked; expected `chain` first", RefusalCode.OUT_OF_ORDER)
    requests = _chain_requests(session, status, site, first)
    return await _grant(
        session, case, requests, replaces=[b.booking_id for b in old], note=note or "chain moved"
    )


async def release(
    session: Session, case: str, booking_ids: list[str], reason: str = ""
) -> MilestoneAck:
    """Give bookings back: the journey records it, then the places are free at once."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.SLOT_RELEASED)
    m = MilestoneInput(
        kind=MilestoneKind.SLOT_RELEASED.value,
        actor=session.actor,
        note=reason,
        data={"booking_ids": booking_ids} | ({"reason": reason} if reason else {}),
    )
    ack = await journeys.record_milestone(session, case, m, by_service=True)
    capacity(session).release(case, booking_ids, by=session.actor, reason=reason or "released")
    return ack


# --- use ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekRow:
    """One resource's use over some days: (day, places used, closed that day) per day."""

    resource: ResourceSpec
    days: list[tuple[date, int, bool]]

    @property
    def full(self) -> list[date]:
        """The days it has no place left."""
        return [d for d, used, closed in self.days if not closed and used >= self.resource.capacity]


def week(session: Session, site: str, first: date, days: int = 7) -> list[WeekRow]:
    """A site's use from `first` for `days`, resource by resource (any staff). A weekly
    resource shows its week's starts on every day of it."""
    authorise(session, Action.READ, case="list")
    cap = capacity(session)
    use = cap.use(site, first, days)
    out = []
    for row in cap.resources(site):
        spec = spec_of(row)
        last = first + timedelta(days=days - 1)
        closed = public_holidays(spec.holidays, range(first.year, last.year + 1))
        cells = []
        for i in range(days):
            day = first + timedelta(days=i)
            unit = spec.units(day, day)[0]
            used = len(use.get(spec.resource, {}).get(unit, []))
            cells.append((day, used, spec.closed_on(day, closed) and spec.unit == "day"))
        out.append(WeekRow(resource=spec, days=cells))
    return out
