"""The program at a glance against a network's case store: the queries behind the worklist's
names, the board and the measures, with N journeys (M of them closed) in the store.

No Temporal and no HTTP: the case store's side only, which is what grows with the network
(the worklist's Temporal side is `benchmarks/console_pages.py`). Each journey gets a patient,
a projection, its schedule (13 steps), a few audit entries and, for some, escalations and
alerts. Timed, one after another after a warm-up:

- **names**: a worklist page of 50 rows — the care team for the page (`in_care_team`) and the
  names (`names`);
- **board**: a month of one coordinator's board, of one site's, and of every case — the
  first 2,000 steps, as many as one board shows (`Board.between`);
- **measures**: the quarter's report by site (`report`).

Beside them, the baseline: reading one page of 50 journey rows.

    .venv/bin/python benchmarks/program_pages.py [--journeys 10000] [--closed 1000] [--postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import select

from cellpath.services.board import LIMIT, ON_THE_BOARD
from cellpath.store import CaseStore
from cellpath.store.access import Board, Identities
from cellpath.store.measures import report
from cellpath.store.tables import Case, JourneyRow, Patient
from models.enums import CellSource, Phase, Program, Therapy, milestone_action
from models.messages import AuditEntry, JourneyProjection, JourneyWrite, Notification
from models.pathway.projection import STEPS
from models.roles import Role
from models.schedule import ProjectedStep

T0 = datetime(2026, 10, 1, 2, tzinfo=UTC)


def fill(store: CaseStore, journeys: int, closed: int) -> None:
    """N journeys over 100 coordinators and 5 sites, each at a step of the pathway."""
    kinds = [s.kind for s in STEPS]
    for n in range(journeys):
        case_id = f"P-{n:05d}"
        taken = T0 + timedelta(hours=n % 2000)
        with store.session() as s:
            store.add_patient(
                s,
                Patient(
                    patient_ref=f"pt-{n}",
                    full_name=f"Patient Number {n}",
                    birth_date=date(1970, 1, 1),
                    nationality="CN",
                    passport_number=f"E{n:08d}",
                    created_at=taken,
                ),
                case_id,
            )
        reached = len(kinds) if n < closed else n % len(kinds)
        schedule = []
        at = taken
        for i, kind in enumerate(kinds):
            at += timedelta(days=3 + (n + i) % 7)
            done = i < reached
            schedule.append(
                ProjectedStep(
                    step=kind,
                    expected=at,
                    earliest=at - timedelta(days=2),
                    latest=at + timedelta(days=4),
                    basis="recorded" if done else "protocol",
                    done_at=at if done else None,
                )
            )
        notes = []
        if n % 7 == 0:
            notes.append(
                Notification(
                    idempotency_key=f"{case_id}-esc",
                    case_id=case_id,
                    kind="escalation",
                    recipient="lead_coordinator",
                    deadline="pi_decision",
                    level=1,
                    severity="warning",
                    scheduled_for=taken,
                    text="late",
                )
            )
        if n % 11 == 0:
            notes.append(
                Notification(
                    idempotency_key=f"{case_id}-alert",
                    case_id=case_id,
                    kind="alert",
                    recipient="on_call_physician",
                    severity="urgent",
                    scheduled_for=taken,
                    text="alert",
                )
            )
        audit = [
            AuditEntry(
                event_id=f"{case_id}:{p.step}",
                case_id=case_id,
                action=milestone_action(p.step),
                actor="bench",
                occurred_at=p.done_at,
                recorded_at=p.done_at,
            )
            for p in schedule
            if p.done_at is not None
        ]
        store.write_journey(
            JourneyWrite(
                projection=JourneyProjection(
                    case_id=case_id,
                    patient_ref=f"pt-{n}",
                    revision=1,
                    phase=Phase.CLOSED if n < closed else Phase.LOGISTICS,
                    therapy=Therapy.CAR_T,
                    cell_source=CellSource.AUTOLOGOUS,
                    program=Program.TRIAL,
                    site=f"site-{n % 5}",
                    coordinator=f"bench-coord-{n % 100:02d}",
                    updated_at=taken,
                ),
                audit=audit,
                notifications=notes,
                schedule=schedule,
            )
        )


def timed(n: int, call: Callable[[], object]) -> tuple[float, float]:
    call()  # warm-up
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=10_000)
    parser.add_argument("--closed", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL (else SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            from cellpath.store import migrations
            from tests.support import create_database, drop_database, postgres_admin_url

            admin = postgres_admin_url()
            url = create_database(admin, "cellpath_program")
            migrations.upgrade(url)
        else:
            url = f"sqlite:///{Path(tmp) / 'program.db'}"
        store = CaseStore.from_url(url)
        began = time.perf_counter()
        fill(store, args.journeys, args.closed)
        print(
            f"{args.journeys} journeys ({args.closed} closed) on "
            f"{'PostgreSQL' if args.postgres else 'SQLite'}, filled in "
            f"{time.perf_counter() - began:.0f} s"
        )
        people, board = Identities(store), Board(store)
        with store.session() as s:
            page = list(
                s.exec(
                    select(JourneyRow).where(JourneyRow.coordinator == "bench-coord-07").limit(50)
                )
            )

        def baseline() -> object:
            with store.session() as s:
                return list(s.exec(select(JourneyRow).limit(50)))

        def names() -> object:
            team = people.in_care_team("bench-coord-07", Role.COORDINATOR, page)
            return people.names([r.case_id for r in page if r.case_id in team])

        shown = ON_THE_BOARD
        month = (T0 + timedelta(days=30), T0 + timedelta(days=61))
        figures = [
            ("baseline: 50 journey rows", timed(args.requests, baseline)),
            ("names for a page of 50", timed(args.requests, names)),
            (
                "board, a coordinator's month",
                timed(
                    args.requests,
                    lambda: board.between(*month, steps=shown, coordinator="bench-coord-07"),
                ),
            ),
            (
                "board, a site's month",
                timed(
                    args.requests,
                    lambda: board.between(*month, steps=shown, site="site-3", limit=LIMIT + 1),
                ),
            ),
            (
                f"board, every case (first {LIMIT})",
                timed(args.requests, lambda: board.between(*month, steps=shown, limit=LIMIT + 1)),
            ),
            (
                "measures, 2026Q4 by site",
                timed(
                    max(3, args.requests // 5), lambda: report(store, by="site", quarter="2026Q4")
                ),
            ),
        ]
        base = figures[0][1][1]
        for label, (p50, p95) in figures:
            print(f"  {label:32} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  ×{p95 / base:6.1f} baseline")
        with store.session() as s:
            assert s.exec(select(Case).limit(1)).first() is not None
        store.engine.dispose()
        if args.postgres:
            drop_database(admin, url)


if __name__ == "__main__":
    main()
