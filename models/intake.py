"""The intake file (`cellpath intake FILE.json`): identifying details plus the journey's facts.

Everything under `patient` goes to the case store only; the workflow receives a minted
`patient_ref` in its place. Validation collects *every* problem, so a coordinator fixes the
file once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.journey import JourneyInput
from models.protocol import resolve_protocol


class PatientDetails(BaseModel):
    """Identifying details of a patient (PHI): stored in the case store, never sent to Temporal."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    birth_date: date
    nationality: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    passport_number: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)

    @field_validator("birth_date")
    @classmethod
    def _in_the_past(cls, value: date) -> date:
        if value >= date.today() or value.year < 1900:
            raise ValueError("birth_date must be a past date after 1900")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("email must look like name@example.org")
        return value


class IntakeProblems(ValueError):
    """An intake file with problems; `problems` lists each as `field: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


JOURNEY_FIELDS = set(JourneyInput.model_fields) - {"patient_ref", "state", "paediatric"}
PAEDIATRIC_MAX_AGE = 12


def parse_intake(
    raw: Any, *, case_id: str, patient_ref: str, today: date | None = None
) -> tuple[PatientDetails, JourneyInput]:
    """Validate an intake document; return the patient's details and the journey input.

    `case_id` is used when the file has none. The journey input gets `patient_ref` and the
    protocol resolved to its full config (so the journey keeps it even if presets change), and
    `paediatric` from the birth date (the date itself never leaves the case store).

    Raises:
        IntakeProblems: every problem found, each naming its field.
    """
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise IntakeProblems(["the file must hold a JSON object"])
    unknown = sorted(set(raw) - JOURNEY_FIELDS - {"patient"})
    problems += [f"{name}: unknown field" for name in unknown]
    patient: PatientDetails | None = None
    try:
        patient = PatientDetails.model_validate(raw.get("patient"))
    except ValidationError as e:
        problems += _lines(e, prefix="patient")
    fields = {k: v for k, v in raw.items() if k in JOURNEY_FIELDS}
    fields.setdefault("case_id", case_id)
    journey: JourneyInput | None = None
    try:
        journey = JourneyInput.model_validate(fields | {"patient_ref": patient_ref})
    except ValidationError as e:
        problems += _lines(e)
    if journey is not None:
        try:
            journey = journey.model_copy(update={"protocol": resolve_protocol(journey.protocol)})
        except ValueError as e:
            problems.append(f"protocol: {e}")
    if problems or patient is None or journey is None:
        raise IntakeProblems(problems)
    age = _age(patient.birth_date, today or date.today())
    return patient, journey.model_copy(update={"paediatric": age <= PAEDIATRIC_MAX_AGE})


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _lines(error: ValidationError, prefix: str = "") -> list[str]:
    out = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if p not in ("str", "ProtocolConfig")]
        where = ".".join(([prefix] if prefix else []) + loc) or prefix or "file"
        out.append(f"{where}: {item['msg'].lower()}")
    return out
