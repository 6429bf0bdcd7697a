"""The board's rows in the case store (SQLite and PostgreSQL): each journey's newest write
replaces its schedule whole (a stale one does not), and a span of days is read for a
coordinator's cases, a site's, or every case, soonest first — on a fixture with known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cellpath.services.board import ON_THE_BOARD
from cellpath.store import CaseStore
from cellpath.store.access import Board
from models.enums import CellSource, Phase, Program, Therapy
from models.messages import JourneyProjection, JourneyWrite
from models.schedule import ProjectedStep

MONDAY = datetime(2027, 3, 1, 2, tzinfo=UTC)


def write(
    store: CaseStore,
    case_id: str,
    revision: int,
    site: str,
    coordinator: str,
    steps: dict[str, tuple[int, bool]],
) -> None:
    """A journey's write: `steps` are (days after MONDAY, done)."""
    schedule = []
    for step, (days, done) in steps.items():
        at = MONDAY + timedelta(days=days)
        schedule.append(
            ProjectedStep(
                step=step,
                expected=at,
                earliest=at,
                latest=at,
                basis="recorded" if done else "protocol",
                done_at=at if done else None,
            )
        )
    store.write_journey(
        JourneyWrite(
            projection=JourneyProjection(
                case_id=case_id,
                patient_ref=f"pt-{case_id}",
                revision=revision,
                phase=Phase.ARRIVAL,
                therapy=Therapy.CAR_T,
                cell_source=CellSource.AUTOLOGOUS,
                program=Program.TRIAL,
                site=site,
                coordinator=coordinator,
                updated_at=MONDAY,
            ),
            schedule=schedule,
        )
    )


def test_a_week_for_a_coordinator_a_site_or_everyone(fresh_store: CaseStore) -> None:
    write(
        fresh_store,
        "B-1",
        1,
        "site-a",
        "coord-1",
        {"patient_arrived": (0, True), "apheresis_completed": (3, False)},
    )
    write(
        fresh_store,
        "B-2",
        1,
        "site-b",
        "coord-2",
        {"patient_arrived": (2, False), "infusion_completed": (20, False)},
    )
    write(fresh_store, "B-3", 1, "site-a", "coord-2", {"discharged": (6, False)})
    board = Board(fresh_store)
    week = MONDAY, MONDAY + timedelta(days=7)
    got = [(s.case_id, s.step) for s, _ in board.between(*week, steps=ON_THE_BOARD)]
    assert got == [
        ("B-1", "patient_arrived"),
        ("B-2", "patient_arrived"),
        ("B-1", "apheresis_completed"),
        ("B-3", "discharged"),
    ]
    assert [
        s.case_id for s, _ in board.between(*week, steps=ON_THE_BOARD, coordinator="coord-2")
    ] == ["B-2", "B-3"]
    assert [s.case_id for s, _ in board.between(*week, steps=ON_THE_BOARD, sites=["site-a"])] == [
        "B-1",
        "B-1",
        "B-3",
    ]
    # A newer write replaces the schedule whole; a stale one changes nothing.
    write(fresh_store, "B-1", 3, "site-a", "coord-1", {"patient_arrived": (0, True)})
    write(fresh_store, "B-1", 2, "site-a", "coord-1", {"apheresis_completed": (4, False)})
    assert [
        (s.case_id, s.step)
        for s, _ in board.between(*week, steps=ON_THE_BOARD, coordinator="coord-1")
    ] == [("B-1", "patient_arrived")]


def test_only_the_board_steps_soonest_first_and_no_more_than_asked(fresh_store: CaseStore):
    # A done step is on the board on the day it was done, not the day it was expected.
    write(
        fresh_store,
        "C-1",
        1,
        "site-a",
        "coord-1",
        {"records_complete": (1, True), "patient_arrived": (2, False)},
    )
    write(fresh_store, "C-2", 1, "site-a", "coord-1", {"patient_arrived": (1, False)})
    write(fresh_store, "C-3", 1, "site-a", "coord-1", {"discharged": (3, False)})
    board = Board(fresh_store)
    week = MONDAY, MONDAY + timedelta(days=7)
    got = [(s.case_id, s.step) for s, _ in board.between(*week, steps=ON_THE_BOARD)]
    assert got == [("C-2", "patient_arrived"), ("C-1", "patient_arrived"), ("C-3", "discharged")]
    cut = board.between(*week, steps=ON_THE_BOARD, limit=2)
    assert [s.case_id for s, _ in cut] == ["C-2", "C-1"], "the soonest, when cut short"
    assert board.between(*week, steps=["records_complete"])[0][0].at == MONDAY + timedelta(days=1)
