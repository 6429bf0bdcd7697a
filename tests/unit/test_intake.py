"""The intake file: every problem listed by field, PHI kept out of the journey input."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models.intake import IntakeProblems, parse_intake

DOC: dict[str, Any] = {
    "patient": {"full_name": "Ada Example", "birth_date": "1961-04-02", "nationality": "GB"},
    "therapy": "car_t",
    "cell_source": "autologous",
    "program": "trial",
    "indication": "B-ALL",
    "target_antigens": ["CD19"],
    "sites": ["site-a"],
    "coordinator": "coord-1",
}


def test_the_journey_input_carries_no_identifying_detail():
    patient, journey = parse_intake(DOC, case_id="CN-2026-0001", patient_ref="pt-abc")
    assert patient.full_name == "Ada Example"
    dumped = journey.model_dump_json()
    assert "Ada" not in dumped and "1961" not in dumped
    assert (journey.patient_ref, journey.paediatric) == ("pt-abc", False)


@pytest.mark.parametrize(
    ("born", "paediatric"),
    [("2014-11-22", True), ("2013-11-21", False), ("2013-11-22", True)],
    ids=["aged 11", "13 today", "12, turning 13 tomorrow"],
)
def test_children_aged_12_or_under_are_flagged_for_capd(born: str, paediatric: bool):
    doc = DOC | {"patient": DOC["patient"] | {"birth_date": born}}
    _, journey = parse_intake(doc, case_id="C-1x", patient_ref="pt-x", today=date(2026, 11, 21))
    assert journey.paediatric is paediatric


def test_paediatric_cannot_be_set_in_the_file():
    with pytest.raises(IntakeProblems, match="paediatric: unknown field"):
        parse_intake(DOC | {"paediatric": True}, case_id="C-1x", patient_ref="pt-x")
