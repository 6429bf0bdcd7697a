"""After infusion, on the time-skipping server: a trial patient through neutropenic fever,
grade 3 CRS and the ICU (each reported to the sponsor within 24 hours), low IgG reviewed
monthly, prolonged cytopenia on day 29 in follow-up, progression and its re-referral, and
death closing the journey `died` once reported (`scenarios.drive_complications`; the same
journey is kept in `tests/histories/watched-after-infusion/` for replay)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cellpath.scenarios import drive_complications, start
from cellpath.store import CaseStore
from models.enums import Outcome, Phase
from tests.builders import journey_input
from tests.support import TEST_QUEUE
from workflows import PatientJourney

pytestmark = pytest.mark.usefixtures("worker")


async def test_a_trial_patient_through_the_complications_of_cell_therapy(
    env: WorkflowEnvironment, case_id: str, store: CaseStore
) -> None:
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    done = await drive_complications(handle, env.get_current_time, env.sleep)
    result = await handle.result()
    assert (result.phase, result.outcome) == (Phase.CLOSED, Outcome.DIED)

    rows = store.notifications(case_id)
    alerts = {n.text.split(" on day")[0]: n for n in rows if n.kind == "alert"}
    # Neutropenic fever: the fever first, the ANC an hour later; urgent, to the physician.
    fever = alerts["Neutropenic fever"]
    assert (fever.recipient, fever.severity) == ("on_call_physician", "urgent")
    assert "38.6 °C" in fever.text and "ANC 300/µL" in fever.text
    assert done.acks["neutropenic"].anc_grade == 4

    # The critical CRS alert and the ICU admission: two reports due 24 h after awareness,
    # both made within the hour; the deadline never escalated.
    sae = [n for n in rows if n.deadline == "sae_report"]
    assert sae == [], [n.text for n in sae]  # reported before any reminder was due
    reports = result.sae_reports
    assert [r.what.split(":")[0] for r in reports] == [
        "crs alert",
        "ICU admission",
        "death",
    ]
    assert [r.sponsor_reference for r in reports] == ["SP-0001", "SP-0002", "SP-0003"]
    assert done.icu_admitted_at is not None
    assert abs(reports[1].aware_at - done.icu_admitted_at) < timedelta(seconds=1)
    due = {d.name: d.due_at for d in done.acks["icu"].next_deadlines}  # type: ignore[union-attr]
    assert abs(due["sae_report"] - (done.icu_admitted_at + timedelta(hours=24))) < timedelta(
        seconds=1
    )

    # Low IgG from day 20: reviewed monthly while low (a reminder before day 50, reopened at
    # the next low result for another month).
    assert [a.kind for a in done.acks["igg"].alerts] == ["low_igg"]  # type: ignore[union-attr]
    ivig = sorted(
        (n for n in rows if n.deadline == "ivig_review" and n.kind == "reminder"),
        key=lambda n: n.scheduled_for,
    )
    assert done.igg_low_at is not None and ivig
    first = done.igg_low_at + timedelta(days=30 - 3)
    assert abs(ivig[0].scheduled_for - first) < timedelta(minutes=1)
    assert len(ivig) == 2  # day 47, then day 82 for the month after the day-55 result

    # Prolonged cytopenia on day 29, in follow-up, with its ICAHT grade.
    (cytopenia,) = done.acks["cytopenia"].alerts  # type: ignore[union-attr]
    assert cytopenia.kind == "prolonged_cytopenia" and cytopenia.text.startswith(
        "Prolonged cytopenia on day 29: ANC 420/µL, platelets 18000/µL; ICAHT grade"
    )

    # Progression at month 3: urgent to the physician, 14 days to decide the way back.
    relapse = alerts["Progression (PD)"]
    assert relapse.severity == "urgent"
    due = {d.name: d.due_at for d in done.acks["pd"].next_deadlines}  # type: ignore[union-attr]
    assert done.pd_at is not None
    assert abs(due["re_referral"] - (done.pd_at + timedelta(days=14))) < timedelta(seconds=1)
    assert [r.source for r in result.relapses] == ["Progression (PD)"]
    assert result.re_referral_decision == "referred: car_nk"
    timeline = [e.kind for e in await handle.query(PatientJourney.timeline)]
    assert timeline[-2:] == ["death", "sae_reported"]

    # Nobody is reminded of anything after the death.
    assert done.acks["death"].next_deadlines[0].name == "sae_report"  # type: ignore[union-attr]
    later = [n for n in rows if n.scheduled_for > done.infused_at + timedelta(days=101)]
    assert later == []
