"""The program's measures on a fixture store with known answers (SQLite and PostgreSQL):
durations from intake and vein to vein, the share of each deadline met on time, escalations
per 100 journeys by recipient, manufacturing failures, alerts by grade, and the CSV equal to
the figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from cellpath.services.measures import as_csv
from cellpath.store import CaseStore
from cellpath.store.measures import report, rows
from cellpath.store.tables import Patient
from models.enums import CellSource, Phase, Program, Therapy, milestone_action
from models.messages import AuditEntry, JourneyProjection, JourneyWrite, Notification
from models.schedule import ProjectedStep

T0 = datetime(2026, 10, 5, 2, tzinfo=UTC)  # 2026Q4


def journey(
    store: CaseStore,
    case_id: str,
    site: str,
    done: dict[str, float],
    *,
    taken: datetime = T0,
    escalations: list[tuple[str, str]] = (),  # type: ignore[assignment]
    alerts: list[str] = (),  # type: ignore[assignment]
    failed: bool = False,
) -> None:
    with store.session() as s:
        store.add_patient(
            s,
            Patient(
                patient_ref=f"pt-{case_id}",
                full_name="X",
                birth_date=date(1970, 1, 1),
                nationality="CN",
                created_at=taken,
            ),
            case_id,
        )
    from cellpath.store.tables import Case

    with store.session() as s:
        row = s.get(Case, case_id)
        assert row is not None
        row.created_at = taken
        s.add(row)
    steps = [
        ProjectedStep(
            step=k,
            expected=taken + timedelta(days=d),
            earliest=taken,
            latest=taken + timedelta(days=d),
            basis="recorded",
            done_at=taken + timedelta(days=d),
        )
        for k, d in done.items()
    ]
    notes = [
        Notification(
            idempotency_key=f"{case_id}-esc-{n}",
            case_id=case_id,
            kind="escalation",
            recipient=recipient,
            deadline=deadline,
            level=1,
            severity="warning",
            scheduled_for=taken,
            text="late",
        )
        for n, (deadline, recipient) in enumerate(escalations)
    ] + [
        Notification(
            idempotency_key=f"{case_id}-alert-{n}",
            case_id=case_id,
            kind="alert",
            recipient="on_call_physician",
            severity=severity,
            scheduled_for=taken,
            text="alert",
        )
        for n, severity in enumerate(alerts)
    ]
    audit = (
        [
            AuditEntry(
                event_id=f"{case_id}:failed",
                case_id=case_id,
                action=milestone_action("manufacturing_failed"),
                actor="coord-1",
                occurred_at=taken,
                recorded_at=taken,
            )
        ]
        if failed
        else []
    )
    store.write_journey(
        JourneyWrite(
            projection=JourneyProjection(
                case_id=case_id,
                patient_ref=f"pt-{case_id}",
                revision=1,
                phase=Phase.MONITORING,
                therapy=Therapy.CAR_T,
                cell_source=CellSource.AUTOLOGOUS,
                program=Program.TRIAL,
                site=site,
                coordinator="coord-1",
                updated_at=taken,
            ),
            schedule=steps,
            notifications=notes,
            audit=audit,
        )
    )


def test_measures_on_known_journeys(fresh_store: CaseStore) -> None:
    journey(
        fresh_store,
        "M-1",
        "site-a",
        {
            "eligibility_assessed": 4,
            "pi_decision": 20,
            "apheresis_completed": 40,
            "infusion_completed": 60,
        },
        escalations=[("pi_decision", "lead_coordinator")],
        alerts=["critical", "urgent"],
    )
    journey(
        fresh_store,
        "M-2",
        "site-a",
        {
            "eligibility_assessed": 6,
            "pi_decision": 24,
            "apheresis_completed": 41,
            "infusion_completed": 71,
        },
        failed=True,
    )
    journey(fresh_store, "M-3", "site-b", {"eligibility_assessed": 3})
    journey(
        fresh_store, "M-4", "site-b", {"eligibility_assessed": 9}, taken=T0 - timedelta(days=100)
    )  # 2026Q3: outside the quarter
    r = report(fresh_store, by="site", quarter="2026Q4")
    assert r.groups == ["site-a", "site-b"] and r.journeys == {"site-a": 2, "site-b": 1}
    eligibility = r.durations["intake to eligibility"]
    assert (eligibility["site-a"].median, eligibility["site-a"].n) == (5.0, 2)
    assert eligibility["site-b"].median == 3.0
    assert r.durations["vein to vein"]["site-a"].median == 25.0  # 20 and 30 days
    # One of the two site-a journeys had its PI decision escalated.
    assert r.on_time["pi_decision"]["site-a"] == (0.5, 2)
    assert r.escalations == {"site-a": {"lead_coordinator": 50.0}}
    assert r.failures == {"site-a": (1, 2)}
    assert r.alerts == {"site-a": {"critical": 1, "urgent": 1}}
    everything = report(fresh_store, by="site")
    assert everything.journeys == {"site-a": 2, "site-b": 2}

    table = list(csv.DictReader(io.StringIO(as_csv(r))))
    assert len(table) == len(rows(r))
    figures = {(t["site"], t["measure"]): t["value"] for t in table}
    assert figures[("site-a", "intake to eligibility, median days")] == "5.0"
    assert figures[("site-a", "pi_decision on time, share")] == "0.5"
    assert figures[("site-a", "escalations to lead_coordinator per 100 journeys")] == "50.0"
