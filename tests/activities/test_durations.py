"""A site's own durations from its closed journeys' audit log (on SQLite and PostgreSQL): the
median and 80th percentile of each step after the one before, once enough journeys recorded
both; fewer, and the protocol's durations stand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cellpath.store import CaseStore
from cellpath.store.durations import site_durations
from models.enums import CellSource, Phase, Program, Therapy, milestone_action
from models.messages import AuditEntry, JourneyProjection, JourneyWrite

T0 = datetime(2026, 1, 5, 2, tzinfo=UTC)


def closed_journey(store: CaseStore, case_id: str, site: str, pi_days: float) -> None:
    """A closed journey whose PI decided `pi_days` after submission (and arrival 20 days
    after the decision)."""
    store.write_journey(
        JourneyWrite(
            projection=JourneyProjection(
                case_id=case_id,
                patient_ref=f"pt-{case_id}",
                revision=1,
                phase=Phase.CLOSED,
                therapy=Therapy.CAR_T,
                cell_source=CellSource.AUTOLOGOUS,
                program=Program.TRIAL,
                site=site,
                coordinator="coord-1",
                updated_at=T0,
            )
        )
    )
    steps = [
        ("submitted_to_pi", T0),
        ("pi_decision", T0 + timedelta(days=pi_days)),
        ("patient_arrived", T0 + timedelta(days=pi_days + 20)),
    ]
    store.append_audit(
        [
            AuditEntry(
                event_id=f"{case_id}:{kind}",
                case_id=case_id,
                action=milestone_action(kind),
                actor="coord-1",
                occurred_at=at,
                recorded_at=at,
            )
            for kind, at in steps
        ]
    )


def test_a_sites_median_and_80th_percentile(fresh_store: CaseStore) -> None:
    for n, days in enumerate([5, 6, 7, 8, 20]):
        closed_journey(fresh_store, f"D-{n}", "site-d", days)
    got = site_durations(fresh_store, "site-d", CellSource.AUTOLOGOUS)
    assert got["pi_decision"] == (7.0, 8.0 + (20 - 8) * 0.2)
    assert got["patient_arrived"] == (20.0, 20.0)
    assert "eligibility_assessed" not in got  # never recorded after its step before


def test_too_few_journeys_leave_the_protocol_in_charge(fresh_store: CaseStore) -> None:
    for n in range(4):
        closed_journey(fresh_store, f"E-{n}", "site-e", 9)
    assert site_durations(fresh_store, "site-e", CellSource.AUTOLOGOUS) == {}
    assert site_durations(fresh_store, "site-nowhere", CellSource.AUTOLOGOUS) == {}
