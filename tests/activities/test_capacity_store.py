"""Capacity in the case store, on SQLite and PostgreSQL: the last slot goes to exactly one of
two coordinators booking at once, a chain is held whole or not at all, a journey's write
confirms and releases, and what does not fit is refused naming the conflict and the next
free slot."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from cellpath.store import CaseStore
from cellpath.store.capacity import HOLD_TTL, Capacity, SlotConflict, SlotRequest
from cellpath.store.tables import SlotBooking, SlotSeat
from models.capacity import ResourceSpec
from models.enums import CellSource, Phase, Program, Therapy
from models.messages import JourneyProjection, JourneyWrite

MONDAY = date(2027, 3, 1)
NEW_YEAR = date(2027, 1, 1)


def no_holidays(country: str | None, years: object) -> frozenset[date]:
    return frozenset({NEW_YEAR}) if country == "CN" else frozenset()


@pytest.fixture
def capacity(fresh_store: CaseStore) -> Capacity:
    cap = Capacity(fresh_store, no_holidays)
    for spec in (
        ResourceSpec(
            site="site-a",
            resource="apheresis",
            kind="apheresis",
            capacity=1,
            open_days="mon-fri",
            holidays="CN",
        ),
        ResourceSpec(site="site-a", resource="gmp", kind="manufacturing", capacity=2),
        ResourceSpec(site="site-a", resource="beds", kind="bed", capacity=2),
    ):
        cap.set_resource(spec, by="admin-1")
    return cap


def chair(day: date = MONDAY, step: str | None = None) -> SlotRequest:
    return SlotRequest("site-a", "apheresis", day, day, step)


def test_two_coordinators_race_for_the_last_chair_and_exactly_one_wins(capacity: Capacity):
    start = threading.Barrier(2)
    won: list[str] = []
    lost: list[SlotConflict] = []

    def book(case_id: str) -> None:
        start.wait()
        try:
            won.append(capacity.hold(case_id, [chair()], by=f"coord-{case_id}")[0].booking_id)
        except SlotConflict as e:
            lost.append(e)

    threads = [threading.Thread(target=book, args=(c,)) for c in ("C1", "C2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].holders == won  # told which booking holds the place
    assert lost[0].next_free == MONDAY + timedelta(days=1)
    assert f"by {won[0]}); next free: 2027-03-02" in str(lost[0])
    with capacity.store.session() as s:
        assert len(list(s.exec(select(SlotSeat)))) == 1


def test_a_chain_is_held_whole_or_not_at_all(capacity: Capacity):
    capacity.hold(
        "C1", [SlotRequest("site-a", "beds", MONDAY, MONDAY + timedelta(days=3))], by="coord-1"
    )
    capacity.hold(
        "C2",
        [SlotRequest("site-a", "beds", MONDAY + timedelta(days=2), MONDAY + timedelta(days=2))],
        by="coord-2",
    )
    chain = [
        chair(MONDAY, "apheresis"),
        SlotRequest(
            "site-a", "beds", MONDAY + timedelta(days=1), MONDAY + timedelta(days=4), "bed"
        ),
    ]
    with pytest.raises(SlotConflict, match=r"beds at site-a is full on Wed 2027-03-03 \(2 of 2"):
        capacity.hold("C3", chain, by="coord-3")
    assert capacity.of_case("C3") == []  # the chair it fitted is not kept either
    capacity.hold("C4", [chair()], by="coord-4")  # and is free for someone else


def test_closed_days_unknown_resources_and_backwards_bookings_are_refused(capacity: Capacity):
    saturday = MONDAY - timedelta(days=2)
    with pytest.raises(SlotConflict, match="closed on Sat 2027-02-27: not an opening day"):
        capacity.hold("C1", [chair(saturday)], by="coord-1")
    with pytest.raises(SlotConflict, match="closed on Fri 2027-01-01: a public holiday"):
        capacity.hold("C1", [chair(NEW_YEAR)], by="coord-1")
    with pytest.raises(
        SlotConflict, match="site-a has no resource 'icu'; expected one of: apheresis, beds, gmp"
    ):
        capacity.hold("C1", [SlotRequest("site-a", "icu", MONDAY, MONDAY)], by="coord-1")
    with pytest.raises(SlotConflict, match=r"ends .2027-02-28. before it starts"):
        capacity.hold(
            "C1", [SlotRequest("site-a", "beds", MONDAY, MONDAY - timedelta(days=1))], by="coord-1"
        )
    assert capacity.of_case("C1") == []


def test_manufacturing_counts_starts_per_week(capacity: Capacity):
    gmp = lambda day: SlotRequest("site-a", "gmp", day, day + timedelta(days=27))  # noqa: E731
    capacity.hold("C1", [gmp(MONDAY)], by="coord-1")
    capacity.hold("C2", [gmp(MONDAY + timedelta(days=3))], by="coord-2")
    full = r"full on the week of 2027-03-01.*next free: 2027-03-08"
    with pytest.raises(SlotConflict, match=full):
        capacity.hold("C3", [gmp(MONDAY + timedelta(days=4))], by="coord-3")


def projection(case_id: str, revision: int, bookings: list[str] | None) -> JourneyWrite:
    return JourneyWrite(
        projection=JourneyProjection(
            case_id=case_id,
            patient_ref="pt-1",
            revision=revision,
            phase=Phase.LOGISTICS,
            therapy=Therapy.CAR_T,
            cell_source=CellSource.AUTOLOGOUS,
            program=Program.TRIAL,
            coordinator="coord-1",
            updated_at=datetime.now(UTC),
            bookings=bookings,
        )
    )


def status(store: CaseStore, booking_id: str) -> str:
    with store.session() as s:
        row = s.get(SlotBooking, booking_id)
        assert row is not None
        return row.status


def test_the_journeys_write_confirms_holds_and_frees_what_it_gave_back(capacity: Capacity):
    store = capacity.store
    a = capacity.hold("C1", [chair()], by="coord-1")[0].booking_id
    store.write_journey(projection("C1", 1, []))  # an older write, before the milestone
    assert status(store, a) == "held"  # a hold the journey has not recorded yet stays
    store.write_journey(projection("C1", 2, [a]))
    assert status(store, a) == "booked"
    store.write_journey(projection("C1", 1, []))  # late and stale: ignored
    assert status(store, a) == "booked"
    store.write_journey(projection("C1", 3, []))  # closed, or released
    assert status(store, a) == "released"
    capacity.hold("C2", [chair()], by="coord-2")  # the chair is free again


def test_a_hold_never_confirmed_expires_and_its_place_is_taken(capacity: Capacity):
    store = capacity.store
    a = capacity.hold("C1", [chair()], by="coord-1")[0].booking_id
    with store.session() as s:
        row = s.get(SlotBooking, a)
        assert row is not None
        row.held_at -= HOLD_TTL + timedelta(minutes=1)
        s.add(row)
    b = capacity.hold("C2", [chair()], by="coord-2")[0].booking_id
    assert status(store, a) == "expired"
    # The first journey's write arrives after all: its place is gone, and it says so.
    store.write_journey(projection("C1", 1, [a]))
    assert status(store, a) == "lost" and status(store, b) == "held"


def test_a_move_may_reuse_its_own_places(capacity: Capacity):
    beds = SlotRequest("site-a", "beds", MONDAY, MONDAY + timedelta(days=5), "bed")
    capacity.hold("C1", [beds], by="coord-1")
    first = capacity.hold("C2", [beds], by="coord-2")[0].booking_id
    later = SlotRequest("site-a", "beds", MONDAY + timedelta(days=2), MONDAY + timedelta(days=7))
    with pytest.raises(SlotConflict):
        capacity.hold("C3", [later], by="coord-3")
    moved = capacity.hold("C2", [later], by="coord-2", replaces=[first])[0]
    assert status(capacity.store, first) == "released"
    assert [b.booking_id for b in capacity.of_case("C2")] == [moved.booking_id]
