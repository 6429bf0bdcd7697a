"""A site's resources and their bookings in the case store (revision 0010).

Who gets the last slot is decided here, in one transaction per request:

1. every resource the request touches is locked, in a fixed order (an `UPDATE` of its row:
   the row's lock on PostgreSQL, the database's write lock on SQLite), so two bookings of the
   same resource are decided one after the other, and a chain across resources never
   deadlocks with another;
2. its use on each unit (a day, or a week's Monday) is counted, holds that expired first set
   free;
3. a free seat is taken on each unit. Seats are numbered below the capacity and are the
   primary key, so even a wrong count could never put two bookings on one place.

A request over capacity raises `SlotConflict` naming the booking that holds the last place and
the next free slot; the transaction rolls back, so a chain is booked whole or not at all.

A booking is `held` until the journey's write (`write_journey` → `reconcile`) shows the
journey holds it (`booked`); a `booked` one the journey no longer holds is `released` there.
A hold the journey never confirmed (the service died between the two steps) expires after
`HOLD_TTL`. `docs/architecture.md` ("Capacity") says why the case store and not a workflow.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from cellpath.store.rows import _audit_row
from cellpath.store.tables import SiteResource, SlotBooking, SlotSeat
from models.capacity import HORIZON_DAYS, ResourceKind, ResourceSpec, check_span
from models.enums import AuditAction
from models.errors import CaseStoreError

if TYPE_CHECKING:
    from cellpath.store import CaseStore

# How long a hold waits for its journey's write before its place may be taken.
HOLD_TTL = timedelta(minutes=30)
TAKING = ("held", "booked")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlotRequest:
    """One booking asked for: a resource of a site, from one day to another (both included)."""

    site: str
    resource: str
    first_day: date
    last_day: date
    chain_step: str | None = None


@dataclass
class _Full(Exception):
    """A unit had no place left (inside the hold's transaction, which it rolls back)."""

    request: SlotRequest
    spec: ResourceSpec
    unit: date
    holders: list[str]


class SlotConflict(CaseStoreError):
    """A booking the resource cannot take: over capacity (naming the booking holding the
    last place and the next free slot), closed that day, or unknown at the site."""

    def __init__(
        self,
        message: str,
        *,
        request: SlotRequest,
        holders: Sequence[str] = (),
        next_free: date | None = None,
    ) -> None:
        super().__init__(message)
        self.request = request
        self.holders = list(holders)
        self.next_free = next_free


def spec_of(row: SiteResource) -> ResourceSpec:
    """The resource as the pure model knows it."""
    return ResourceSpec(
        site=row.site,
        resource=row.resource,
        kind=ResourceKind(row.kind),
        capacity=row.capacity,
        per="week" if row.per == "week" else "day",
        open_days=tuple(row.open_days.split(",")),
        holidays=row.holidays,
        closed=[date.fromisoformat(d) for d in row.closed],
        product=row.product,
    )


HolidaysFor = Any  # Callable[[str | None, Iterable[int]], frozenset[date]]


class Capacity:
    """The case store's side of capacity: resources, holds, releases, use."""

    def __init__(self, store: CaseStore, holidays: HolidaysFor) -> None:
        self.store = store
        # country, years -> the public holidays (the service reads the `holidays` package)
        self.holidays = holidays

    # --- resources -----------------------------------------------------------------------

    def set_resource(self, spec: ResourceSpec, *, by: str) -> SiteResource:
        """Declare or change a resource (audited `resource_set` under `site:<site>`)."""
        now = _now()
        with self.store.session() as s:
            row = s.get(SiteResource, (spec.site, spec.resource))
            if row is None:
                row = SiteResource(
                    site=spec.site,
                    resource=spec.resource,
                    kind=spec.kind.value,
                    capacity=spec.capacity,
                    per=spec.unit,
                    open_days="",
                    updated_by=by,
                    updated_at=now,
                )
            row.kind, row.capacity, row.per = spec.kind.value, spec.capacity, spec.unit
            row.open_days = ",".join(spec.open_days)
            row.holidays, row.product = spec.holidays, spec.product
            row.closed = [d.isoformat() for d in sorted(set(spec.closed))]
            row.updated_by, row.updated_at = by, now
            s.add(row)
            detail = spec.model_dump(mode="json")
            s.add(_audit_row(f"site:{spec.site}", AuditAction.RESOURCE_SET, by, now, detail))
        return row

    def resources(self, site: str) -> list[SiteResource]:
        """A site's resources, by id."""
        with self.store.session() as s:
            return list(
                s.exec(
                    select(SiteResource)
                    .where(SiteResource.site == site)
                    .order_by(col(SiteResource.resource))
                )
            )

    def resource(self, site: str, resource: str) -> SiteResource | None:
        """One resource of a site."""
        with self.store.session() as s:
            return s.get(SiteResource, (site, resource))

    # --- holding -------------------------------------------------------------------------

    def hold(
        self,
        case_id: str,
        requests: Sequence[SlotRequest],
        *,
        by: str,
        replaces: Sequence[str] = (),
    ) -> list[SlotBooking]:
        """Hold every request for `case_id`, or none: raises `SlotConflict` for the first that
        does not fit. `replaces` (bookings of the same case) are freed in the same
        transaction, so a moved chain may reuse its own places."""
        now = _now()
        try:
            with self.store.session() as s:
                resources = self._lock(s, {(r.site, r.resource) for r in requests}, requests)
                for booking_id in replaces:
                    self._free(s, case_id, booking_id, now, "moved", by)
                made = []
                for r in requests:
                    spec = spec_of(resources[(r.site, r.resource)])
                    made.append(self._take(s, case_id, r, spec, by, now))
                detail = {"bookings": [b.booking_id for b in made], "replaces": list(replaces)}
                s.add(_audit_row(case_id, AuditAction.SLOT_HELD, by, now, detail))
                return made
        except _Full as full:
            # Rolled back, the locks released: the next free day is looked for after, so
            # the losers of a race never hold the resource while they search.
            raise self._conflict(full) from None

    def _conflict(self, full: _Full) -> SlotConflict:
        r, spec = full.request, full.spec
        with self.store.session() as s:
            free = self.next_free(s, spec, r, after=r.first_day)
        where = f"the week of {full.unit}" if spec.unit == "week" else f"{full.unit:%a %Y-%m-%d}"
        named = ", ".join(full.holders[:3]) + (", …" if len(full.holders) > 3 else "")
        return SlotConflict(
            f"{r.resource} at {r.site} is full on {where} ({len(full.holders)} of "
            f"{spec.capacity} taken, by {named}); next free: "
            + (f"{free}" if free else f"none within {HORIZON_DAYS} days"),
            request=r,
            holders=full.holders,
            next_free=free,
        )

    def _lock(
        self, s: Session, keys: set[tuple[str, str]], requests: Sequence[SlotRequest]
    ) -> dict[tuple[str, str], SiteResource]:
        out = {}
        for site, resource in sorted(keys):
            t = SiteResource.__table__  # type: ignore[attr-defined]
            bumped = s.execute(
                sa.update(t)
                .where(t.c.site == site, t.c.resource == resource)
                .values(lock_version=t.c.lock_version + 1)
            )
            if bumped.rowcount == 0:  # type: ignore[attr-defined]
                request = next(r for r in requests if (r.site, r.resource) == (site, resource))
                known = [r.resource for r in self._resources(s, site)]
                raise SlotConflict(
                    f"{site} has no resource {resource!r}; expected one of: "
                    + (", ".join(known) or "none declared (cellpath sites resource)"),
                    request=request,
                )
            row = s.get(SiteResource, (site, resource), populate_existing=True)
            assert row is not None
            out[(site, resource)] = row
        return out

    @staticmethod
    def _resources(s: Session, site: str) -> list[SiteResource]:
        return list(s.exec(select(SiteResource).where(SiteResource.site == site)))

    def _closed_days(self, spec: ResourceSpec, first: date, last: date) -> frozenset[date]:
        if not spec.holidays:
            return frozenset()
        return frozenset(self.holidays(spec.holidays, range(first.year, last.year + 2)))

    def _take(
        self, s: Session, case_id: str, r: SlotRequest, spec: ResourceSpec, by: str, now: datetime
    ) -> SlotBooking:
        try:
            check_span(r.first_day, r.last_day)
            spec.check_open(
                r.first_day, r.last_day, self._closed_days(spec, r.first_day, r.last_day)
            )
        except ValueError as e:
            raise SlotConflict(str(e), request=r) from None
        units = spec.units(r.first_day, r.last_day)
        taken_by = self._taken(s, spec, units)
        if any(len(taken_by.get(u, [])) >= spec.capacity for u in units):
            # Full somewhere: holds never confirmed may be keeping places (rarely); only then
            # are they looked for, and the use counted again.
            if self._expire(s, spec, units, now):
                taken_by = self._taken(s, spec, units)
        booking = SlotBooking(
            booking_id=f"BK-{uuid.uuid4().hex[:12]}",
            case_id=case_id,
            site=r.site,
            resource=r.resource,
            kind=spec.kind.value,
            first_day=r.first_day,
            last_day=r.last_day,
            chain_step=r.chain_step,
            status="held",
            booked_by=by,
            held_at=now,
        )
        s.add(booking)
        s.flush()
        for unit in units:
            used = taken_by.get(unit, [])
            if len(used) >= spec.capacity:
                raise _Full(r, spec, unit, sorted({b for _, b in used}))
            seat = min(set(range(spec.capacity)) - {n for n, _ in used})
            s.add(
                SlotSeat(
                    site=r.site,
                    resource=r.resource,
                    unit=unit,
                    seat=seat,
                    booking_id=booking.booking_id,
                )
            )
        s.flush()
        return booking

    def _taken(
        self, s: Session, spec: ResourceSpec, units: list[date]
    ) -> dict[date, list[tuple[int, str]]]:
        taken_by: dict[date, list[tuple[int, str]]] = {}
        for unit, seat, booking_id in self._seats(s, spec, units[0], units[-1]):
            taken_by.setdefault(unit, []).append((seat, booking_id))
        return taken_by

    @staticmethod
    def _seats(s: Session, spec: ResourceSpec, first: date, last: date) -> list[Any]:
        return list(
            s.execute(
                sa.select(SlotSeat.unit, SlotSeat.seat, SlotSeat.booking_id).where(  # type: ignore[arg-type]
                    SlotSeat.site == spec.site,
                    SlotSeat.resource == spec.resource,
                    col(SlotSeat.unit) >= first,
                    col(SlotSeat.unit) <= last,
                )
            )
        )

    def _expire(self, s: Session, spec: ResourceSpec, units: list[date], now: datetime) -> int:
        """Free the seats of holds on these units that waited longer than `HOLD_TTL`; returns
        how many."""
        stale = list(
            s.exec(
                select(SlotBooking)
                .join(SlotSeat, col(SlotSeat.booking_id) == col(SlotBooking.booking_id))
                .where(
                    SlotSeat.site == spec.site,
                    SlotSeat.resource == spec.resource,
                    col(SlotSeat.unit).in_(units),
                    SlotBooking.status == "held",
                    col(SlotBooking.held_at) < now - HOLD_TTL,
                )
            ).unique()
        )
        for b in stale:
            self._drop_seats(s, b.booking_id)
            b.status, b.released_at, b.release_reason = "expired", now, "never confirmed"
            s.add(b)
        return len(stale)

    def next_free(
        self, s: Session, spec: ResourceSpec, r: SlotRequest, *, after: date
    ) -> date | None:
        """The first day after `after` the same booking would fit (its length kept)."""
        length = (r.last_day - r.first_day).days
        first, last = after, after + timedelta(days=HORIZON_DAYS + length + 7)
        closed = self._closed_days(spec, first, last)
        used = Counter(u for u, _, _ in self._seats(s, spec, first - timedelta(days=7), last))
        for i in range(1, HORIZON_DAYS + 1):
            day = after + timedelta(days=i)
            end = day + timedelta(days=length)
            days = [day] if spec.unit == "week" else spec.units(day, end)
            if any(spec.closed_on(d, closed) for d in days):
                continue
            if all(used[u] < spec.capacity for u in spec.units(day, end)):
                return day
        return None

    # --- releasing -----------------------------------------------------------------------

    @staticmethod
    def _drop_seats(s: Session, booking_id: str) -> None:
        s.execute(sa.delete(SlotSeat).where(col(SlotSeat.booking_id) == booking_id))

    def _free(
        self, s: Session, case_id: str, booking_id: str, now: datetime, reason: str, by: str
    ) -> None:
        b = s.get(SlotBooking, booking_id)
        if b is None or b.case_id != case_id or b.status not in TAKING:
            raise CaseStoreError(f"case {case_id} holds no booking {booking_id!r}")
        self._drop_seats(s, booking_id)
        b.status, b.released_at, b.release_reason = "released", now, reason
        s.add(b)
        s.add(_audit_row(case_id, AuditAction.SLOT_FREED, by, now, {"booking": booking_id}, reason))

    def release(self, case_id: str, booking_ids: Iterable[str], *, by: str, reason: str) -> None:
        """Free bookings of a case now (a refused journey update, a release the journey took)."""
        now = _now()
        with self.store.session() as s:
            for booking_id in booking_ids:
                b = s.get(SlotBooking, booking_id)
                if b is not None and b.case_id == case_id and b.status in TAKING:
                    self._free(s, case_id, booking_id, now, reason, by)

    def restore(self, case_id: str, booking_ids: Iterable[str], *, by: str) -> list[str]:
        """Take back the places of bookings a refused move had freed; returns those lost."""
        lost = []
        now = _now()
        for booking_id in booking_ids:
            try:
                with self.store.session() as s:
                    b = s.get(SlotBooking, booking_id)
                    if b is None or b.case_id != case_id or b.status != "released":
                        continue
                    _retake(s, b, now)
            except (SlotConflict, sa.exc.IntegrityError):
                lost.append(booking_id)
        return lost

    # --- reading -------------------------------------------------------------------------

    def of_case(self, case_id: str, *, live: bool = True) -> list[SlotBooking]:
        """A case's bookings (live ones only by default), by first day."""
        with self.store.session() as s:
            q = select(SlotBooking).where(SlotBooking.case_id == case_id)
            if live:
                q = q.where(col(SlotBooking.status).in_(TAKING))
            return list(s.exec(q.order_by(col(SlotBooking.first_day))))

    def use(self, site: str, first: date, days: int) -> dict[str, dict[date, list[SlotBooking]]]:
        """Per resource, per unit from `first` for `days`: the live bookings taking it."""
        last = first + timedelta(days=days - 1)
        out: dict[str, dict[date, list[SlotBooking]]] = {}
        with self.store.session() as s:
            rows = s.execute(
                sa.select(SlotSeat.resource, SlotSeat.unit, SlotBooking)  # type: ignore[arg-type]
                .join(SlotBooking, col(SlotSeat.booking_id) == col(SlotBooking.booking_id))
                .where(
                    SlotSeat.site == site,
                    col(SlotSeat.unit) >= first - timedelta(days=6),
                    col(SlotSeat.unit) <= last,
                )
            )
            for resource, unit, booking in rows:
                out.setdefault(resource, {}).setdefault(unit, []).append(booking)
        return out


def _retake(s: Session, b: SlotBooking, now: datetime) -> None:
    """Give a booking its places again (each unit's lowest free seat), or raise."""
    row = s.get(SiteResource, (b.site, b.resource))
    if row is None:
        raise SlotConflict("resource gone", request=_request_of(b))
    spec = spec_of(row)
    for unit in spec.units(b.first_day, b.last_day):
        used = {
            n
            for (n,) in s.execute(
                sa.select(SlotSeat.seat).where(  # type: ignore[arg-type]
                    SlotSeat.site == b.site, SlotSeat.resource == b.resource, SlotSeat.unit == unit
                )
            )
        }
        free = sorted(set(range(spec.capacity)) - used)
        if not free:
            raise SlotConflict("taken", request=_request_of(b))
        s.add(
            SlotSeat(
                site=b.site, resource=b.resource, unit=unit, seat=free[0], booking_id=b.booking_id
            )
        )
    b.status, b.released_at, b.release_reason, b.confirmed_at = "booked", None, None, now
    s.add(b)
    s.flush()


def _request_of(b: SlotBooking) -> SlotRequest:
    return SlotRequest(b.site, b.resource, b.first_day, b.last_day, b.chain_step)


def reconcile(s: Session, case_id: str, held: Sequence[str], now: datetime) -> None:
    """Make the case store's bookings of a case what its journey holds (inside the journey's
    write, for its newest revision): holds it shows are confirmed, confirmed bookings it no
    longer shows are released (it gave them back, or closed). Holds it does not show yet
    are left alone: the journey may not have recorded them yet. A hold that had expired is
    taken again if its places are free, else it is `lost` (audited)."""
    rows = list(
        s.exec(
            select(SlotBooking).where(
                SlotBooking.case_id == case_id,
                col(SlotBooking.status).in_(("held", "booked", "expired")),
            )
        )
    )
    wanted = set(held)
    for b in rows:
        if b.booking_id in wanted and b.status == "held":
            b.status, b.confirmed_at = "booked", now
            s.add(b)
        elif b.booking_id in wanted and b.status == "expired":
            try:
                with s.begin_nested():
                    _retake(s, b, now)
            except (SlotConflict, sa.exc.IntegrityError):
                b.status, b.release_reason = "lost", "its place was taken after its hold expired"
                s.add(b)
                detail = {"booking": b.booking_id}
                s.add(_audit_row(case_id, AuditAction.SLOT_LOST, "cellpath", now, detail))
        elif b.booking_id not in wanted and b.status == "booked":
            Capacity._drop_seats(s, b.booking_id)
            b.status, b.released_at = "released", now
            b.release_reason = b.release_reason or "given back by the journey"
            s.add(b)
            s.add(
                _audit_row(
                    case_id, AuditAction.SLOT_FREED, "cellpath", now, {"booking": b.booking_id}
                )
            )
