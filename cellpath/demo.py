"""The demo journeys (`cellpath demo`, `make run`): six synthetic patients, each driven to a
phase the console and the Temporal UI can show, through `cellpath.scenarios`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.client import Client

from cellpath.scenarios import (
    arrive_and_clear,
    record,
    reschedule,
    start,
    to_arrival,
    to_infusion,
    to_logistics,
    to_pi_review,
)
from models.enums import CellSource
from models.examples import journey_input

DEMO_CASES: list[tuple[str, CellSource, str]] = [
    ("DEMO-0001", CellSource.AUTOLOGOUS, "intake, one record on file"),
    ("DEMO-0002", CellSource.AUTOLOGOUS, "PI review, submitted to site-a"),
    ("DEMO-0003", CellSource.ALLOGENEIC, "logistics, cost estimate accepted"),
    ("DEMO-0004", CellSource.AUTOLOGOUS, "manufacturing"),
    ("DEMO-0005", CellSource.AUTOLOGOUS, "infusion window open"),
    ("DEMO-0006", CellSource.AUTOLOGOUS, "intake, records deadline passes within a minute"),
]


async def start_demo(
    client: Client, store: Any, task_queue: str, coordinator: str = "coord-1"
) -> list[tuple[str, str]]:
    """Start the demo journeys that do not exist yet and drive each to its phase; each is
    `coordinator`'s case (the console's worklist shows a coordinator their own cases).

    Idempotent: a demo case already in the case store is left as it is. The demo patients'
    details are synthetic (no real person), stored like any intake.
    """
    from cellpath.store.tables import Patient

    done: list[tuple[str, str]] = []
    for n, (case_id, source, what) in enumerate(DEMO_CASES, start=1):
        if store.case_exists(case_id):
            # Where it is now (a restart may find it moved on, or closed), not where it began.
            row = next((r for r in store.list_journeys() if r.case_id == case_id), None)
            now = (
                f"{row.phase}" + (f", {row.outcome}" if row.outcome else "")
                if row is not None
                else "not in the case store's list"
            )
            done.append((case_id, f"already there (now: {now})"))
            continue
        facts: dict[str, Any] = {
            "patient_ref": store.mint_patient_ref(),
            "coordinator": coordinator,
        }
        if case_id == "DEMO-0002":
            # Under PI review: the options aid has something to say about this one.
            facts |= {"prior_car_t": True, "antigen_negative_relapse": ["CD19"]}
        inp = journey_input(case_id, cell_source=source).model_copy(update=facts)
        with store.session() as session:
            store.add_patient(
                session,
                Patient(
                    patient_ref=inp.patient_ref,
                    full_name=f"Demo Patient {n}",
                    birth_date=date(1960 + n, n, 10 + n),
                    nationality="GB",
                    # Who the hand-over goes to (`cellpath handover`, after discharge).
                    home_oncologist_name=f"Dr Demo Oncologist {n}",
                    home_oncologist_institution="Demo Cancer Centre",
                    home_oncologist_email=f"oncologist-{n}@example.org",
                    created_at=datetime.now(UTC),
                ),
                case_id,
            )
            handle = await start(client, inp, task_queue)
        today = datetime.now(UTC).date()
        match case_id:
            case "DEMO-0001":
                await record(handle, "record_received", record_type="pathology", actor="demo")
            case "DEMO-0002":
                await to_pi_review(handle)
                await record(handle, "submitted_to_pi", site="site-a")
            case "DEMO-0003":
                await to_logistics(handle)
                await record(handle, "cost_estimate_accepted", currency="USD", total=12500)
            case "DEMO-0004":
                await to_arrival(handle, today)
                await arrive_and_clear(handle)
                await record(handle, "apheresis_completed", coi_id="COI-DEMO-4")
                await record(handle, "manufacturing_started")
            case "DEMO-0005":
                await to_infusion(handle, today)
            case "DEMO-0006":
                # A deadline about to pass, so the demo shows an escalation at once.
                await reschedule(
                    handle,
                    "records",
                    datetime.now(UTC) + timedelta(seconds=45),
                    "demo: show an overdue journey",
                    actor="demo",
                )
        done.append((case_id, f"started ({what})"))
    return done
