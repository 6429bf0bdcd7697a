"""A site's resources as a journey holds them (runs under `CAPACITY`), and the pure arithmetic
the case store books with: units, opening days, the chain a protocol lays out.

Who wins the last slot is the case store's (tests/store/test_capacity.py); here the journey
records what was granted, refuses what it cannot hold, and gives it all back when it closes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from models.capacity import (
    ResourceKind,
    ResourceSpec,
    chain_dates,
    chain_for,
    check_span,
    parse_days,
)
from models.enums import CellSource, Outcome, Phase
from models.protocol import PRESETS
from tests.builders import Case


def slot(booking_id: str = "BK-1", **change: Any) -> dict[str, Any]:
    return {
        "booking_id": booking_id,
        "site": "site-a",
        "resource": "apheresis",
        "kind": "apheresis",
        "start": "2026-12-14",
        "end": "2026-12-14",
    } | change


def held(c: Case) -> list[str]:
    return [b.booking_id for b in c.j.state.bookings if b.active]


def test_a_booking_is_recorded_and_the_projection_names_what_the_journey_holds() -> None:
    c = Case(capacity=True)
    c.to_logistics()
    c.record("slot_booked", slots=[slot()])
    assert held(c) == ["BK-1"]
    assert c.j.projection(c.now).bookings == ["BK-1"]
    status = c.j.status()
    assert status.capacity_rules and status.bookings[0].resource == "apheresis"
    assert status.bookings[0].booked_by == "coord-1"


def test_runs_before_capacity_refuse_slots_as_unknown_and_leave_the_store_alone() -> None:
    c = Case()
    c.to_logistics()
    c.refused("slot_booked", "unknown milestone kind 'slot_booked'", slots=[slot()])
    assert c.j.projection(c.now).bookings is None


def test_a_booking_on_another_site_a_reused_id_or_cells_an_off_the_shelf_product_lacks() -> None:
    c = Case(capacity=True)
    c.to_logistics()
    c.refused("slot_booked", "this journey's site is site-a", slots=[slot(site="site-b")])
    c.record("slot_booked", slots=[slot()])
    c.refused("slot_booked", "BK-1 is already recorded", slots=[slot()])
    nk = Case(capacity=True, cell_source=CellSource.ALLOGENEIC)
    nk.to_logistics()
    nk.refused("slot_booked", "needs no apheresis slot", slots=[slot()])
    nk.record("slot_booked", slots=[slot(resource="beds", kind="bed")])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"end": "2026-12-13"}, "ends .2026-12-13. before it starts"),
        ({"kind": "chair"}, "kind"),
        ({"resource": "Apheresis Unit"}, "resource"),
        ({"booking_id": "bk 1"}, "booking_id"),
    ],
)
def test_bad_slots_are_refused_naming_the_field(change: dict[str, Any], match: str) -> None:
    c = Case(capacity=True)
    c.to_logistics()
    c.refused("slot_booked", match, slots=[slot(**change)])


def test_a_release_names_a_booking_held_and_a_move_replaces_in_one_step() -> None:
    c = Case(capacity=True)
    c.to_logistics()
    c.record("slot_booked", slots=[slot("BK-1"), slot("BK-2", resource="beds", kind="bed")])
    c.refused(
        "slot_released",
        "holds no booking 'BK-9'; expected one of: BK-1, BK-2",
        booking_ids=["BK-9"],
    )
    c.record(
        "slot_booked", slots=[slot("BK-3", start="2026-12-21", end="2026-12-21")], replaces=["BK-1"]
    )
    assert held(c) == ["BK-2", "BK-3"]
    moved = next(b for b in c.j.state.bookings if b.booking_id == "BK-1")
    assert moved.release_reason == "moved" and moved.released_at == c.now
    c.record("slot_released", booking_ids=["BK-2"], reason="ward closed")
    assert held(c) == ["BK-3"]
    c.refused("slot_released", "holds no booking 'BK-2'", booking_ids=["BK-2"])


def test_a_journey_that_closes_gives_back_every_booking_it_holds() -> None:
    c = Case(capacity=True)
    c.to_logistics()
    c.record("slot_booked", slots=[slot("BK-1"), slot("BK-2", resource="beds", kind="bed")])
    c.record("slot_released", booking_ids=["BK-1"])
    c.j.apply_withdraw(*_withdraw(c))
    assert c.phase is Phase.CLOSED and c.j.state.outcome is Outcome.WITHDRAWN
    assert held(c) == []
    assert c.j.projection(c.now).bookings == []
    closed = next(b for b in c.j.state.bookings if b.booking_id == "BK-2")
    assert closed.release_reason == "journey closed (withdrawn)"


def _withdraw(c: Case) -> tuple[Any, Any]:
    from models.messages import WithdrawInput

    w = WithdrawInput(actor="coord-1", reason="family decided to stay home")
    c.j.check_withdraw(w)
    return w, c.now


def test_units_opening_days_and_holidays() -> None:
    chairs = ResourceSpec(
        site="site-a",
        resource="apheresis",
        kind="apheresis",
        capacity=2,
        open_days="mon-fri",
        closed=[date(2026, 12, 24)],
    )
    assert chairs.unit == "day" and chairs.open_days == ("mon", "tue", "wed", "thu", "fri")
    assert chairs.units(date(2026, 12, 14), date(2026, 12, 16)) == [
        date(2026, 12, 14),
        date(2026, 12, 15),
        date(2026, 12, 16),
    ]
    with pytest.raises(ValueError, match="closed on Sat 2026-12-19: not an opening day"):
        chairs.check_open(date(2026, 12, 19), date(2026, 12, 19), frozenset())
    with pytest.raises(ValueError, match="closed on Thu 2026-12-24: closed"):
        chairs.check_open(date(2026, 12, 24), date(2026, 12, 24), frozenset())
    with pytest.raises(ValueError, match="public holiday"):
        chairs.check_open(date(2027, 1, 1), date(2027, 1, 1), frozenset({date(2027, 1, 1)}))
    lab = ResourceSpec(
        site="site-a", resource="gmp-lab", kind=ResourceKind.MANUFACTURING, capacity=3
    )
    # A weekly resource counts starts: one unit, the Monday of the start's week.
    assert lab.unit == "week"
    assert lab.units(date(2026, 12, 17), date(2027, 1, 13)) == [date(2026, 12, 14)]
    with pytest.raises(ValueError, match="unknown day 'someday'"):
        parse_days("mon,someday")
    with pytest.raises(ValueError, match="runs backwards"):
        parse_days("fri-mon")
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        check_span(date(2026, 12, 2), date(2026, 12, 1))


def test_the_chain_follows_the_protocol_lead_times() -> None:
    p = PRESETS["default"]
    steps = chain_dates(chain_for(p, CellSource.AUTOLOGOUS), date(2027, 3, 1))
    by = {s.step: (a, b) for s, a, b in steps}
    assert [s.step for s, _, _ in steps] == [
        "bed_at_arrival",
        "apheresis",
        "manufacturing",
        "conditioning",
    ]
    cleared = p.pretreatment_clearance_days
    assert by["bed_at_arrival"] == (date(2027, 3, 1), date(2027, 3, cleared))
    assert by["apheresis"][0] == date(2027, 3, 1 + cleared)
    # Conditioning ends the day the product is expected: the infusion follows the release.
    made = by["manufacturing"][1]
    assert by["conditioning"][0] == made - timedelta(days=p.conditioning_days)
    nk = chain_for(p, CellSource.ALLOGENEIC)
    assert [s.kind for s in nk] == [ResourceKind.BED, ResourceKind.BED]
