"""The intake file (`cellpath intake FILE.json`): identifying details plus the journey's facts.

Everything under `patient` goes to the case store only; the workflow receives a minted
`patient_ref` in its place. Validation collects *every* problem, so a coordinator fixes the
file once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from models import bounds
from models.directory import check_email, check_phone
from models.journey import JourneyInput
from models.protocol import resolve_protocol


def _upper(value: Any) -> Any:
    """Text upper-cased (a code whose case carries no meaning); anything else as it is."""
    return value.strip().upper() if isinstance(value, str) else value


def _date_text(value: Any) -> Any:
    if not isinstance(value, str | date):
        raise ValueError("expected a date as text, e.g. 1961-04-02")
    return value


class Caregiver(BaseModel):
    """The person with the patient (PHI, case store only): reached besides the patient."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return check_email(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return check_phone(value)


class HomeOncologist(BaseModel):
    """The oncologist who takes the patient back (case store only): the hand-over goes here."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    institution: str | None = Field(default=None, max_length=200)
    email: str = Field(max_length=254)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("email must look like name@example.org")
        return value


class PatientDetails(BaseModel):
    """Identifying details of a patient (PHI): stored in the case store, never sent to Temporal."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    # A date written as text: a number (0, 1e9) would be read as seconds since 1970.
    birth_date: Annotated[date, BeforeValidator(_date_text)]
    # Case does not change a country (`gb` is GB): normalised, then checked.
    nationality: Annotated[str, BeforeValidator(_upper)] = Field(
        pattern=r"^[A-Z]{2}$", description="a two-letter country code such as GB (ISO 3166-1)"
    )
    passport_number: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    # Messages to the family are chosen by it (English when there is no template for it).
    preferred_language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$",
        description="a language code such as en, zh or zh-Hans",
    )
    caregiver: Caregiver | None = None
    home_oncologist: HomeOncologist | None = None

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

    def columns(self) -> dict[str, Any]:
        """The `patients` row's columns (the caregiver flattened)."""
        row = self.model_dump(exclude={"caregiver", "home_oncologist"})
        c, h = self.caregiver, self.home_oncologist
        return row | {
            "caregiver_name": c.name if c else None,
            "caregiver_email": c.email if c else None,
            "caregiver_phone": c.phone if c else None,
            "home_oncologist_name": h.name if h else None,
            "home_oncologist_institution": h.institution if h else None,
            "home_oncologist_email": h.email if h else None,
        }


class IntakeProblems(ValueError):
    """An intake file with problems; `problems` lists each as `field: what is wrong`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


JOURNEY_FIELDS = set(JourneyInput.model_fields) - {
    "patient_ref",
    "state",
    "paediatric",
    "older_adult",
}
PAEDIATRIC_MAX_AGE = 12
# Seed 001's decision framework: "patient age > 65" (an options-aid fact).
OLDER_ADULT_MIN_AGE = 66


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
    # First, and alone: a value the case store cannot hold (a NUL byte, say) would otherwise
    # fail deep in the database driver, whose error can quote the whole row.
    unstorable = list(_unstorable(raw, ""))
    if unstorable:
        raise IntakeProblems(unstorable)
    unknown = sorted(set(raw) - JOURNEY_FIELDS - {"patient"})
    problems += [f"{name}: unknown field" for name in unknown]
    patient: PatientDetails | None = None
    try:
        patient = PatientDetails.model_validate(raw.get("patient"))
    except ValidationError as e:
        problems += _lines(e, prefix="patient", model=PatientDetails)
    fields = {k: v for k, v in raw.items() if k in JOURNEY_FIELDS}
    fields.setdefault("case_id", case_id)
    journey: JourneyInput | None = None
    try:
        journey = JourneyInput.model_validate(fields | {"patient_ref": patient_ref})
    except ValidationError as e:
        problems += _lines(e, model=JourneyInput)
    if journey is not None:
        try:
            journey = journey.model_copy(update={"protocol": resolve_protocol(journey.protocol)})
        except ValueError as e:
            problems.append(f"protocol: {e}")
        else:
            problems += _journey_problems(journey)
    if problems or patient is None or journey is None:
        raise IntakeProblems(problems)
    age = _age(patient.birth_date, today or date.today())
    return patient, journey.model_copy(
        update={"paediatric": age <= PAEDIATRIC_MAX_AGE, "older_adult": age >= OLDER_ADULT_MIN_AGE}
    )


# C0 and C1 control characters other than tab and line breaks, and unpaired surrogates (not
# encodable as UTF-8): PostgreSQL refuses NUL in text, and none of them belongs in a record.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _unstorable(value: Any, where: str) -> list[str]:
    """Every field (by its path, never its value) whose text the case store cannot hold."""
    found: list[str] = []
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            found.append(
                f"{where or 'file'}: contains a control character or an unpaired surrogate; "
                "expected plain text"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if _UNSTORABLE.search(name):
                found.append(f"{where or 'file'}: a field name contains a control character")
                continue
            found += _unstorable(item, f"{where}.{name}" if where else name)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += _unstorable(item, f"{where}[{n}]")
    return found


def _journey_problems(journey: JourneyInput) -> list[str]:
    """What a journey input must also satisfy at intake, against this machine's tables.

    Checked here rather than in the models: the models are decoded inside running journeys,
    and the time-zone database and the `holidays` package change with upgrades.
    """
    import holidays

    problems = []
    for field in ("coordinator", "indication"):
        if not getattr(journey, field).strip():
            problems.append(f"{field}: must not be blank")
    protocol = journey.protocol
    assert not isinstance(protocol, str)  # resolved by the caller
    for field in ("team_timezone", "site_timezone"):
        zone = getattr(protocol, field)
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"protocol.{field}: unknown IANA time zone {zone!r}")
    country = protocol.business_calendar_country
    if country not in holidays.list_supported_countries():
        problems.append(
            f"protocol.business_calendar_country: no holiday calendar for {country!r}; "
            "expected an ISO country code the `holidays` package knows, e.g. CN, GB, US"
        )
    return problems


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# Union branches and validator wrappers pydantic puts in error locations: not field names.
_NOT_FIELDS = re.compile(r"^(str|int|ProtocolConfig|function-\w+\[.*\])$")


def _lines(
    error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """Each problem as `field.path: what is wrong`, field names only (never values).

    `protocol` is a preset name or a whole configuration: only the branch matching what the
    file holds is reported, so a configuration object is not also told "expected a string".
    """
    out = []
    for item in error.errors():
        raw = [str(p) for p in item["loc"]]
        loc = [p for p in raw if not _NOT_FIELDS.match(p)]
        if raw[:2] == ["protocol", "str"] and not isinstance(item.get("input"), str):
            continue
        if raw[:1] == ["protocol"] and len(raw) > 1 and raw[1] != "str":
            if isinstance(item.get("input"), str) and len(loc) == 1:
                continue
        where = ".".join(([prefix] if prefix else []) + loc) or prefix or "file"
        out.append(f"{where}: {bounds.in_words(item, model)}")
    return out
