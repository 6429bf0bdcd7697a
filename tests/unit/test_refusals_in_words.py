"""Refusals speak words: no pattern (`^…$`), no pydantic type names (`list[dict[…]]`), for
every field of every form a person fills in — each milestone's data, an observation, contacts,
assignments and the intake file."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from models.directory import AssignmentInput, ContactInput
from models.intake import PatientDetails
from models.journey import JourneyInput
from models.messages import ObservationInput
from models.pathway import RULES
from models.pathway.data import describe_validation_error

# Wrong in every way a person types wrong, and free of the characters checked for (the value
# typed is echoed back, shortened: that part is theirs, not ours).
BAD = ["", "zz", "usd", "ICF v3.0", "x" * 70, 123, -5, 1e12, True, "2026-13-45", {"a": 1}, [1]]
MODELS: list[type[BaseModel]] = [
    *(r.data for r in RULES.values()),
    ObservationInput,
    ContactInput,
    AssignmentInput,
    PatientDetails,
    JourneyInput,
]
CODE = re.compile(r"\^|\$|\[|list\[|dict\[|constrained-|function-")


def _messages(model: type[BaseModel]) -> list[str]:
    out = []
    for name in model.model_fields:
        for value in BAD:
            try:
                model.model_validate({name: value})
            except ValidationError as e:
                out.append(describe_validation_error(e, model))
    return out


def _ours(message: str) -> str:
    """The message without the values echoed back (`(got …)`)."""
    return re.sub(r" \(got .*?\)(?=;|$)", "", message)


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_no_refusal_shows_a_pattern_or_a_type_name(model: type[BaseModel]) -> None:
    found: dict[str, Any] = {m: CODE.search(_ours(m)) for m in _messages(model)}
    assert [m for m, hit in found.items() if hit] == []


def test_a_pattern_refusal_says_what_the_field_takes() -> None:
    from models.pathway.data import CostEstimateData

    with pytest.raises(ValidationError) as e:
        CostEstimateData.model_validate({"currency": "us dollars", "total": 1})
    assert describe_validation_error(e.value, CostEstimateData) == (
        "currency: expected 3-letter code, e.g. USD (got 'us dollars')"
    )
