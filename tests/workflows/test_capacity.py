"""Capacity through the services and a real journey (runs under `CAPACITY`): a chain booked
from the protocol's lead times, the last chair refused to a second journey naming the booking
that holds it, a chain moved whole (or, when a step does not fit, not at all), and a
withdrawn journey's places freed in the case store by its own write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.scenarios import start, to_logistics
from cellpath.services import capacity, journeys
from cellpath.services.base import Refusal, Session
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from cellpath.store.tables import SiteResource, SiteRow, SlotBooking, SlotSeat
from models.directory import SiteInput
from models.errors import RefusalCode
from models.examples import journey_input
from models.messages import MilestoneInput, WithdrawInput
from models.roles import Role
from tests.support import TEST_QUEUE

COORD, ADMIN = "coord-cap", "admin-cap"


@pytest.fixture
def site(store: CaseStore) -> Iterator[str]:
    """A site of this test's own, with a chair a day (weekdays), two beds and one
    manufacturing start a week; gone after the test (once the directory holds a site, intake
    takes only known sites, and other tests of the session's store take in site-a's cases)."""
    store.set_role(COORD, Role.COORDINATOR, by="test")
    store.set_role(ADMIN, Role.ADMINISTRATOR, by="test")
    name = f"cap-{uuid.uuid4().hex[:6]}"
    Directory(store).set_site(
        SiteInput(site=name, name="Test hospital", phone="+861012345678", address="1 Road"),
        by="test",
    )
    admin = Session(actor=ADMIN, store=store)
    for fields in (
        {"resource": "apheresis", "kind": "apheresis", "capacity": 1, "open_days": "mon-fri"},
        {"resource": "beds", "kind": "bed", "capacity": 2},
        {"resource": "gmp", "kind": "manufacturing", "capacity": 1},
    ):
        capacity.set_resource(admin, {"site": name} | fields)
    yield name
    with store.session() as s:
        for table in (SlotSeat, SlotBooking, SiteResource, SiteRow):
            s.execute(sa.delete(table).where(table.site == name))  # type: ignore[arg-type]


async def accepted_at(env: WorkflowEnvironment, site: str) -> str:
    case_id = f"CAP-{uuid.uuid4().hex[:8]}"
    facts = journey_input(case_id, sites=[site]).model_copy(update={"coordinator": COORD})
    handle = await start(env.client, facts, TEST_QUEUE)
    await to_logistics(handle, site)
    return case_id


async def statuses(store: CaseStore, case_id: str, want: dict[str, str]) -> None:
    """Wait until the case store shows the bookings in these states (the journey's write
    follows its answer)."""
    for _ in range(400):
        with store.session() as s:
            found = s.exec(select(SlotBooking).where(SlotBooking.case_id == case_id))
            rows = {b.booking_id: b.status for b in found}
        if all(rows.get(k) == v for k, v in want.items()):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"bookings of {case_id}: {rows}, expected {want}")


def next_monday(today: date, weeks: int) -> date:
    return today + timedelta(days=7 * weeks - today.weekday())


async def test_a_chain_is_booked_moved_whole_or_not_at_all_and_freed_at_withdrawal(
    env: WorkflowEnvironment, worker: Worker, store: CaseStore, site: str
) -> None:
    coordinator = Session(actor=COORD, client=env.client, store=store)
    first, second = await accepted_at(env, site), await accepted_at(env, site)
    arrival = next_monday((await env.get_current_time()).date(), 8)

    chain = await capacity.book_chain(coordinator, first, arrival)
    steps = {b.chain_step: b for b in chain.bookings}
    assert list(steps) == ["bed_at_arrival", "apheresis", "manufacturing", "conditioning"]
    apheresis = steps["apheresis"]
    assert apheresis.first_day == arrival + timedelta(days=7)  # cleared a week after arrival
    await statuses(store, first, {b.booking_id: "booked" for b in chain.bookings})
    status = await journeys.status(coordinator, first)
    assert [b.booking_id for b in status.bookings] == [b.booking_id for b in chain.bookings]

    # The second journey wants the same chair: refused, told which booking holds it.
    with pytest.raises(Refusal) as refused:
        await capacity.book(coordinator, second, "apheresis", apheresis.first_day)
    assert refused.value.code is RefusalCode.OVER_CAPACITY
    assert apheresis.booking_id in str(refused.value)
    assert f"next free: {apheresis.first_day + timedelta(days=1)}" in str(refused.value)
    assert (await journeys.status(coordinator, second)).bookings == []

    # The second journey takes the chair a week later; the first chain cannot move onto it,
    # and nothing of it moves.
    later = apheresis.first_day + timedelta(days=7)
    taken = await capacity.book(coordinator, second, "apheresis", later)
    with pytest.raises(Refusal, match=rf"apheresis at {site} is full on .* {later}"):
        await capacity.move_chain(coordinator, first, arrival + timedelta(days=7))
    assert [
        b.booking_id for b in (await journeys.status(coordinator, first)).bookings if b.active
    ] == [b.booking_id for b in chain.bookings]
    await statuses(store, first, {b.booking_id: "booked" for b in chain.bookings})

    # Once the second gives its chair back, the whole chain moves a week.
    await capacity.release(coordinator, second, [taken.bookings[0].booking_id], "family asked")
    moved = await capacity.move_chain(coordinator, first, arrival + timedelta(days=7))
    assert sorted(moved.replaced) == sorted(b.booking_id for b in chain.bookings)
    assert {b.chain_step: b.first_day - steps[b.chain_step].first_day for b in moved.bookings} == {
        step: timedelta(days=7) for step in steps
    }
    await statuses(
        store,
        first,
        {b.booking_id: "released" for b in chain.bookings}
        | {b.booking_id: "booked" for b in moved.bookings},
    )

    # Withdrawn: the journey gives every booking back, and its write frees the places.
    await journeys.withdraw(
        coordinator, first, WithdrawInput(actor=COORD, reason="the family chose another centre")
    )
    await statuses(store, first, {b.booking_id: "released" for b in moved.bookings})
    again = await capacity.book(coordinator, second, "apheresis", moved.bookings[1].first_day)
    assert again.bookings[0].resource == "apheresis"


async def test_a_booking_typed_as_a_milestone_is_refused_and_a_closed_day_too(
    env: WorkflowEnvironment, worker: Worker, store: CaseStore, site: str
) -> None:
    coordinator = Session(actor=COORD, client=env.client, store=store)
    case_id = await accepted_at(env, site)
    slot = {
        "booking_id": "BK-typed",
        "site": site,
        "resource": "beds",
        "kind": "bed",
        "start": "2030-01-07",
        "end": "2030-01-08",
    }
    with pytest.raises(Refusal, match="recorded by the service that checks it first"):
        await journeys.record_milestone(
            coordinator,
            case_id,
            MilestoneInput(kind="slot_booked", actor=COORD, data={"slots": [slot]}),
        )
    saturday = next_monday((await env.get_current_time()).date(), 6) - timedelta(days=2)
    with pytest.raises(Refusal, match=rf"closed on Sat {saturday}: not an opening day"):
        await capacity.book(coordinator, case_id, "apheresis", saturday)
    with pytest.raises(
        Refusal, match=f"{site} has no resource 'icu'; expected one of: apheresis, beds, gmp"
    ):
        await capacity.book(coordinator, case_id, "icu", saturday)
    assert (await journeys.status(coordinator, case_id)).bookings == []
