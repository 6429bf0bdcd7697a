"""A milestone's data typed as text (the console's forms, `--data k=v`) becomes typed data."""

from __future__ import annotations

from models.pathway import data_from_text, list_fields, text_value


def test_form_text_becomes_the_milestones_data() -> None:
    data = data_from_text(
        "records_complete", {"records": "pathology, imaging ,labs", "unused": "  "}
    )
    assert data == {"records": ["pathology", "imaging", "labs"]}
    assert data_from_text("cost_estimate_accepted", {"currency": "USD", "total": "9500"}) == {
        "currency": "USD",
        "total": 9500,
    }


def test_a_list_field_takes_json_or_commas_and_other_fields_keep_text() -> None:
    assert list_fields("records_complete") == {"records"}
    assert text_value('["a", "b"]', is_list=True) == ["a", "b"]
    assert text_value("a,b", is_list=True) == ["a", "b"]
    assert text_value("Flu/Cy", is_list=False) == "Flu/Cy"
    assert text_value("true", is_list=False) is True
