"""The console's parts without a server: form fields from the rules, times, the throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cellpath.console.auth import Throttle, safe_next
from cellpath.console.filters import countdown, when
from cellpath.console.forms import input_of, intake_document, local_time, milestone_forms
from models.enums import CellSource, Phase, Program, Therapy
from models.messages import ExpectedMilestone, FieldHint, JourneyStatus


def status(phase: Phase, expected: list[str], source: CellSource) -> JourneyStatus:
    return JourneyStatus(
        case_id="C-1",
        patient_ref="pt-1",
        phase=phase,
        coordinator="c",
        therapy=Therapy.CAR_T,
        cell_source=source,
        program=Program.TRIAL,
        protocol="default",
        expected=[ExpectedMilestone(kind=k) for k in expected],
    )


def test_the_forms_offer_the_phases_milestones_waited_for_first() -> None:
    forms = milestone_forms(status(Phase.LOGISTICS, ["visa_issued"], CellSource.AUTOLOGOUS))
    kinds = [f.kind for f in forms]
    assert kinds[0] == "visa_issued" and forms[0].waited
    assert "product_reserved" not in kinds  # allogeneic only
    assert "infusion_completed" not in kinds  # another phase's
    allogeneic = milestone_forms(status(Phase.LOGISTICS, [], CellSource.ALLOGENEIC))
    assert "product_reserved" in [f.kind for f in allogeneic]


def test_a_milestone_form_has_one_note_and_a_signer_is_offered_only_what_fits() -> None:
    from cellpath.console.forms import for_signer

    (record,) = [
        f
        for f in milestone_forms(status(Phase.INTAKE, [], CellSource.AUTOLOGOUS))
        if f.kind == "record_received"
    ]
    assert "note" not in [i.name for i in record.inputs]  # the milestone's own note is the one
    (eligibility,) = [
        f
        for f in milestone_forms(status(Phase.PRE_ASSESSMENT, [], CellSource.AUTOLOGOUS))
        if f.kind == "eligibility_assessed"
    ]
    signed = {i.name: i for i in for_signer(eligibility, "dr-li", signs=True).inputs}
    assert signed["signature_meaning"].choices == ("approved", "reviewed")
    assert signed["reviewer"].value == "dr-li"


def test_each_field_gets_the_input_its_type_takes() -> None:
    assert input_of(FieldHint(name="valid_until", required=True, takes="date")).type == "date"
    choice = input_of(FieldHint(name="decision", required=True, takes="one of: accepted, no"))
    assert (choice.type, choice.choices) == ("select", ("accepted", "no"))
    assert input_of(FieldHint(name="total", required=False, takes="number")).type == "number"


def test_a_time_typed_without_an_offset_is_read_in_the_readers_zone() -> None:
    at = local_time("2026-07-01T09:30", "Europe/London", "when")
    assert at is not None and at.astimezone(UTC).hour == 8  # BST
    assert local_time("", "UTC", "when") is None
    with pytest.raises(ValueError, match="when: expected a date and time"):
        local_time("yesterday", "UTC", "when")


def test_times_and_countdowns_for_people() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert countdown(now + timedelta(days=2, hours=4, minutes=5), now) == "in 2 d 4 h"
    assert countdown(now - timedelta(hours=3), now) == "overdue 3 h"
    assert countdown(now + timedelta(seconds=20), now) == "in 1 min"
    assert when(now, "Asia/Shanghai") == "2026-12-05 20:00 CST"


def test_data_values_are_shown_for_people_not_as_python_writes_them() -> None:
    """The timeline once showed `False`, `125000.0` and dict reprs."""
    from cellpath.console.filters import shown

    assert shown(False) == "no" and shown(True) == "yes"
    assert shown(125000.0) == "125,000" and shown(12.5) == "12.5" and shown(3) == "3"
    assert (
        shown({"name": "ward, 28 days", "amount": 35000.0}) == "name: ward, 28 days; amount: 35,000"
    )
    assert shown(["pathology", "treatment_history"]) == "pathology, treatment history"
    assert shown(None) == "—" and shown("LOT-1") == "LOT-1"


def test_the_throttle_counts_failures_in_a_window() -> None:
    throttle = Throttle(attempts=2, window_seconds=60)
    throttle.failed("name:a", "address:x")
    assert throttle.wait("name:a", "address:x") == 0
    throttle.failed("name:a", "address:x")
    assert 59 < throttle.wait("name:a") <= 60
    throttle.succeeded("name:a")
    # An address alone takes ten times as many (a ward's shared workstation).
    assert throttle.wait("name:a") == 0 and throttle.wait("address:x") == 0
    for _ in range(18):
        throttle.failed("address:x")
    assert throttle.wait("name:b", "address:x") > 0


@pytest.mark.parametrize(
    ("target", "goes"),
    [("/cases/C-1", "/cases/C-1"), ("//evil", "/"), ("https://evil", "/"), ("/\\evil", "/")],
)
def test_after_sign_in_only_local_paths(target: str, goes: str) -> None:
    assert safe_next(target) == goes


def test_the_intake_form_becomes_an_intake_document() -> None:
    doc = intake_document(
        {
            "patient.full_name": "A B",
            "patient.birth_date": "1961-04-02",
            "caregiver.name": "C",
            "sites": "site-a, site-b",
            "target_antigens": "CD19",
            "case_id": "",
        }
    )
    assert doc["patient"] == {
        "full_name": "A B",
        "birth_date": "1961-04-02",
        "caregiver": {"name": "C"},
    }
    assert doc["sites"] == ["site-a", "site-b"] and "case_id" not in doc
