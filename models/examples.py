"""The synthetic sample case (no PHI) that the demo, the benchmarks and the tests build on.

One place for it, in the pure layer, so a unit test builds a journey without importing Temporal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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


# Rules version 5: what a journey's gates ask for, filled in for the sample case.
ELIGIBLE = {
    "outcome": "eligible",
    "prior_lines": 3,
    "ecog": 1,
    "organ_function": "adequate",
    "active_infection": False,
    "active_cns_disease": False,
    "antigen_confirmed": True,
    "signature_meaning": "approved",
}
PI_ACCEPTED = {"decision": "accepted", "signature_meaning": "approved"}
# A PI's decision received in writing, as a coordinator records it (rule: runs under `SIGNERS`).
TRANSCRIBED = {"principal_investigator": "pi-site-a", "transcribed_from_sha256": "7e" * 32}
DISCHARGE = {"signature_meaning": "responsible"}
SIGNED_DOCUMENT = "5f" * 32  # the SHA-256 of a (synthetic) signed consent form


def consents(program: Program = Program.TRIAL) -> list[dict[str, Any]]:
    """The consents a sample journey signs before treatment (`consent_signed` data)."""
    kinds = ["treatment", "data_transfer", "registry"]
    if program is Program.TRIAL:
        kinds.insert(1, "trial")
    return [
        {
            "consent_type": kind,
            "form_version": "v1",
            "signer": "patient",
            "document_sha256": SIGNED_DOCUMENT,
            "interpreter_language": "ru",
            "witness": "coord-2",
        }
        for kind in kinds
    ]


def readiness(conditioning_at: datetime) -> dict[str, Any]:
    """`readiness_checked` data complete for conditioning at `conditioning_at` (tumour-lysis
    prophylaxis two days before it)."""
    return {
        "tls_prophylaxis_started_at": (conditioning_at - timedelta(days=2)).isoformat(),
        "tocilizumab_doses": 2,
        "icu_bed_confirmed": True,
        "caregiver_present": True,
    }
