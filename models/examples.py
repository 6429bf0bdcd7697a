"""The synthetic sample case (no PHI) that the demo, the benchmarks and the tests build on.

One place for it, in the pure layer, so a unit test builds a journey without importing Temporal.
"""

from __future__ import annotations

from typing import Any

from models.enums import CellSource, Program, Therapy
from models.journey import JourneyInput
from models.protocol import PRESETS, ProtocolConfig


def journey_input(
    case_id: str,
    *,
    cell_source: CellSource = CellSource.AUTOLOGOUS,
    sites: list[str] | None = None,
    protocol: ProtocolConfig | None = None,
    program: Program = Program.TRIAL,
) -> JourneyInput:
    """A valid journey input for a sample (PHI-free) case."""
    return JourneyInput(
        case_id=case_id,
        patient_ref=f"pt-{case_id.lower()}",
        therapy=Therapy.CAR_T if cell_source is CellSource.AUTOLOGOUS else Therapy.CAR_NK,
        cell_source=cell_source,
        program=program,
        indication="DLBCL",
        target_antigens=["CD19"],
        sites=sites or ["site-a", "site-b"],
        coordinator="coord-1",
        protocol=protocol or PRESETS["default"],
        home_timezone="Europe/London",
    )


def follow_up_protocol(years: int, preset: str = "default") -> ProtocolConfig:
    """A preset whose long-term follow-up ends at year `years`, for journeys driven to their
    end in fewer years (a journey completes only once every scheduled follow-up is recorded)."""
    return PRESETS[preset].model_copy(
        update={"name": f"{preset}-{years}y", "long_term_follow_up_years": years}
    )


def intake_document(patient: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """An intake document (the file `cellpath intake` reads) for `patient`'s details."""
    return {
        "patient": patient,
        "therapy": "car_t",
        "cell_source": "autologous",
        "program": "trial",
        "indication": "DLBCL",
        "target_antigens": ["CD19"],
        "sites": ["site-a", "site-b"],
        "coordinator": "coord-1",
        "protocol": "default",
        "home_timezone": "Europe/London",
    } | overrides
