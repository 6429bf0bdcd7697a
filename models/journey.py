"""`JourneyInput`: the single input model of the `PatientJourney` workflow."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.enums import CellSource, Program, Therapy
from models.protocol import ProtocolConfig
from models.state import JourneyState

CASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$"
WORKFLOW_ID_PREFIX = "journey-"


def workflow_id(case_id: str) -> str:
    """A journey's workflow id (the contract: `journey-{case_id}`)."""
    return f"{WORKFLOW_ID_PREFIX}{case_id}"


def case_of(workflow: str) -> str:
    """The case id in a journey's workflow id."""
    return workflow.removeprefix(WORKFLOW_ID_PREFIX)


class JourneyInput(BaseModel):
    """Input of `PatientJourney`: the case's pseudonymous facts and its protocol.

    `state` is empty when a journey starts and carries the journey's whole state across
    continue-as-new (one input model, so the SDK keeps type hints on the new run).
    """

    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(
        pattern=CASE_ID_PATTERN,
        description="3–64 letters, digits and hyphens, starting with a letter or digit",
    )
    patient_ref: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]+$")
    therapy: Therapy
    cell_source: CellSource
    program: Program
    indication: str = Field(min_length=1, max_length=32)
    target_antigens: list[str] = Field(min_length=1)
    sites: list[str] = Field(min_length=1)
    coordinator: str = Field(min_length=1, max_length=64)
    protocol: str | ProtocolConfig = "default"
    home_timezone: str = "UTC"
    # Aged 12 or under at intake: ICANS is assessed with CAPD, not ICE. Computed by the intake
    # from the birth date, which itself stays in the case store.
    paediatric: bool = False
    # Facts for the options aid (seed 001's decision framework): suggestions for the reviewing
    # physician, never a gate. Older than 65 is computed by the intake from the birth date.
    older_adult: bool = False
    prior_car_t: bool = False
    # Antigens the disease lost at relapse, e.g. ["CD19"] after CD19 CAR-T.
    antigen_negative_relapse: list[str] = Field(default_factory=list, max_length=8)
    poor_t_cell_quality: bool = False
    # Whether an approved CAR-T is available and affordable at home (None: not asked).
    local_access: bool | None = None
    state: JourneyState | None = None

    @field_validator("sites")
    @classmethod
    def _distinct_sites(cls, sites: list[str]) -> list[str]:
        if any(not s.strip() for s in sites):
            raise ValueError("site names must not be blank")
        if len(set(sites)) != len(sites):
            raise ValueError("sites must not repeat")
        return sites

    @field_validator("home_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {zone!r}") from None
        return zone

    @field_validator("target_antigens", "antigen_negative_relapse")
    @classmethod
    def _antigens(cls, antigens: list[str]) -> list[str]:
        if any(not re.fullmatch(r"[A-Za-z0-9-]{2,16}", a) for a in antigens):
            raise ValueError("antigens are short codes such as CD19, BCMA")
        return antigens
