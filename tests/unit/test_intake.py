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


def protocol(**changes: Any) -> dict[str, Any]:
    """The default preset as a full protocol object, with `changes`."""
    from models.protocol import PRESETS

    return PRESETS["default"].model_dump(mode="json") | changes


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"protocol": protocol(records_sla_days=1e8)}, "protocol.records_sla_days"),
        ({"protocol": protocol(infusion_window_closes_hours=1e9)}, "infusion_window_closes_hours"),
        ({"protocol": protocol(team_timezone="Mars/Olympus")}, "protocol.team_timezone: unknown"),
        ({"protocol": protocol(site_timezone="Mars/Olympus")}, "protocol.site_timezone: unknown"),
        ({"protocol": protocol(business_calendar_country="ZZ")}, "no holiday calendar for 'ZZ'"),
        ({"coordinator": "   "}, "coordinator: must not be blank"),
        ({"indication": " "}, "indication: must not be blank"),
        ({"patient": DOC["patient"] | {"birth_date": 0}}, "patient.birth_date: expected a date"),
    ],
    ids=[
        "sla-1e8-days",
        "window-1e9-hours",
        "team-zone",
        "site-zone",
        "calendar-country",
        "blank-coordinator",
        "blank-indication",
        "birth-date-number",
    ],
)
def test_an_intake_that_would_break_the_journey_is_refused_naming_the_field(changes, problem):
    """Each of these was accepted and then failed the journey (or its calendar) for ever."""
    with pytest.raises(IntakeProblems) as refused:
        parse_intake(DOC | changes, case_id="C-1x", patient_ref="pt-x")
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_every_protocol_number_has_an_upper_bound():
    from models.protocol import ProtocolConfig

    numbers = [
        (name, field)
        for name, field in ProtocolConfig.model_fields.items()
        if field.annotation in (int, int | None, "int", "int | None")
    ]
    assert numbers
    unbounded = [
        name for name, field in numbers if not any(hasattr(m, "le") for m in field.metadata)
    ]
    assert unbounded == []


def test_a_country_code_in_lower_case_is_the_same_country_and_a_wrong_one_is_said_in_words():
    patient, _ = parse_intake(
        DOC | {"patient": DOC["patient"] | {"nationality": "gb"}}, case_id="C-1x", patient_ref="p-x"
    )
    assert patient.nationality == "GB"
    with pytest.raises(IntakeProblems) as refused:
        parse_intake(
            DOC | {"patient": DOC["patient"] | {"nationality": "G B"}, "case_id": "a b"},
            case_id="C-1x",
            patient_ref="pt-x",
        )
    assert refused.value.problems == [
        "patient.nationality: expected a two-letter country code such as GB (ISO 3166-1)",
        "case_id: expected 3–64 letters, digits and hyphens, starting with a letter or digit",
    ]
