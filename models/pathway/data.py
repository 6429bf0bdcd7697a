"""What milestones and observations carry: one data model per kind, physiological ranges.

The models are strict (`extra="forbid"`): a misspelt field is refused naming it, not
ignored. Rules (`models/pathway/milestones/`) declare which model their kind carries.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum, StrEnum
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from models import bounds
from models.enums import ConsentType, RecordType, SignatureMeaning
from models.grading import CerebralEdema, Consciousness, OxygenDevice, Seizure
from models.messages import FieldHint


class MilestoneData(BaseModel):
    """The data a milestone carries: strict (unknown keys refused), text stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoData(MilestoneData):
    """A milestone that carries no data."""


# A language tag (BCP 47's common shapes: `en`, `zh-Hans`, `pt-BR`).
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
# A file's SHA-256, as a milestone carries it (never the file).
SHA256 = r"^[0-9a-f]{64}$"


class RecordReceivedData(MilestoneData):
    record_type: RecordType
    note: str | None = None
    # From the records store (runs under `RECORDS`): the file's SHA-256 (never the file), the
    # language it is written in, and its pages when known.
    sha256: str | None = Field(
        default=None,
        pattern=SHA256,
        description="64 hex characters: the record file's SHA-256",
    )
    language: str | None = Field(
        default=None, pattern=LANGUAGE, description="language tag, e.g. en, zh, ru"
    )
    pages: int | None = Field(default=None, ge=1, le=10_000, description="whole number")


class RecordsCompleteData(MilestoneData):
    records: list[RecordType]


# A clinical decision's signature (rules version 5): what signing it means; the signer is the
# actor who recorded it, the time the time it was recorded.
SIGNATURE = Field(default=None, description="one of: reviewed, approved, responsible")


class EligibilityAssessedData(MilestoneData):
    outcome: Literal["eligible", "ineligible", "more_info_needed"]
    reviewer: str = Field(min_length=1)
    # The protocol's checklist (rules version 5): `eligible` needs every item, passing.
    prior_lines: int | None = Field(
        default=None, ge=0, le=30, description="whole number: prior lines of therapy"
    )
    ecog: int | None = Field(default=None, ge=0, le=5, description="whole number 0–5")
    organ_function: Literal["adequate", "inadequate"] | None = None
    active_infection: bool | None = None
    active_cns_disease: bool | None = None
    antigen_confirmed: bool | None = None
    age_years: int | None = Field(default=None, ge=0, le=120)
    signature_meaning: SignatureMeaning | None = SIGNATURE


class SiteData(MilestoneData):
    site: str = Field(min_length=1)


class PiDecisionData(MilestoneData):
    """The principal investigator's decision. The PI signs it (`principal_investigator`
    empty or the recording physician); a decision received in writing is *transcribed*: the
    PI named, the signed document's SHA-256 given, the recorder never its signer."""

    site: str = Field(min_length=1)
    decision: Literal["accepted", "declined", "more_info_needed"]
    signature_meaning: SignatureMeaning | None = SIGNATURE
    principal_investigator: str | None = Field(
        default=None, description="the PI's staff id, e.g. pi-zhang (empty: you, signing)"
    )
    transcribed_from_sha256: str | None = Field(
        default=None,
        description="64 hex characters: the SHA-256 of the PI's signed decision you transcribe",
    )

    @field_validator("principal_investigator")
    @classmethod
    def _pi(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        normal = bounds.actor_id(v.lower())
        if normal is None:
            raise ValueError(
                "expected the PI's staff id: 1–64 lower-case letters, digits or . _ @ -"
            )
        return normal

    @field_validator("transcribed_from_sha256")
    @classmethod
    def _document(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        v = v.lower()
        if not re.fullmatch(r"[0-9a-f]{64}", v):
            raise ValueError("expected the document's SHA-256: 64 hexadecimal characters")
        return v


class IcuAdmittedData(MilestoneData):
    """Why the patient went to intensive care (clinical words, no identifying detail)."""

    reason: str = Field(min_length=1, max_length=200, description="text, e.g. grade 3 CRS")


class DischargeData(MilestoneData):
    signature_meaning: SignatureMeaning | None = SIGNATURE


# A form's version as printed on it (`v3`, `2026-10`, `ICF v3.0`): spaces inside are taken by
# runs under `FORMS_IN_WORDS` only (`Journey.forms_in_words`); earlier runs refused them.
VERSION = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$"


class ConsentData(MilestoneData):
    """A signed consent: the document itself stays outside Temporal, its SHA-256 inside."""

    consent_type: ConsentType
    form_version: str = Field(pattern=VERSION, description="text, e.g. v3 or 2026-10")
    signer: Literal["patient", "legal_representative"]
    document_sha256: str = Field(
        pattern=SHA256, description="64 hex characters: the signed document's SHA-256"
    )
    interpreter_language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="language code when an interpreter was used, e.g. ar, ru",
    )
    witness: str | None = Field(
        default=None, min_length=1, max_length=64, description="the witness's staff id"
    )


class ConsentVersionData(MilestoneData):
    form_version: str = Field(pattern=VERSION, description="text: the trial's new form version")


class ConsentWithdrawnData(MilestoneData):
    consent_type: ConsentType
    reason: str = Field(min_length=1)


class ReadinessData(MilestoneData):
    """Items of the readiness checklist, any of them at a time (rules version 5)."""

    tls_prophylaxis_started_at: datetime | None = Field(
        default=None, description="date and time with offset: tumour-lysis prophylaxis started"
    )
    tocilizumab_doses: int | None = Field(
        default=None, ge=0, le=10, description="whole number: doses on hand for the patient"
    )
    icu_bed_confirmed: bool | None = None
    caregiver_present: bool | None = None


class HandoverData(MilestoneData):
    bundle_sha256: str = Field(pattern=SHA256, description="the sent bundle's SHA-256")
    resources: int = Field(ge=1, le=10_000, description="whole number: resources in the bundle")
    channel: str = Field(min_length=1, max_length=32, description="text, e.g. email")


class CostEstimateData(MilestoneData):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="3-letter code, e.g. USD")
    total: float = Field(ge=0)
    # Runs under `LEDGER`: which version of the quote was accepted (default: the latest).
    version: int | None = Field(default=None, ge=1, le=1000, description="the quote's version")
    items: list[dict[str, Any]] | dict[str, Any] | None = Field(
        default=None,
        description="one row per item: name, amount, payer (the items add up to the total)",
    )


class CostItem(BaseModel):
    """One line of a cost estimate: what, how much, and who pays it (the trial, the family)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    amount: float = Field(ge=0)
    payer: str | None = Field(default=None, max_length=64)


def cost_items(items: list[dict[str, Any]] | dict[str, Any]) -> list[CostItem]:
    """A cost estimate's items, from rows (`name`/`item`, `amount`, `payer`) or an object of
    name → amount.

    Raises:
        ValueError: naming the row and what it needs.
    """
    rows = (
        [{"name": k, "amount": v} for k, v in items.items()]
        if isinstance(items, dict)
        else [dict(r) for r in items]
    )
    out = []
    for n, row in enumerate(rows, start=1):
        if "item" in row and "name" not in row:
            row["name"] = row.pop("item")
        try:
            out.append(CostItem.model_validate(row))
        except ValidationError as e:
            raise ValueError(
                f"item {n}: expected a name, an amount of 0 or more and maybe a payer "
                f"({describe_validation_error(e, CostItem)})"
            ) from None
    return out


class VisaIssuedData(MilestoneData):
    visa_type: str = Field(min_length=1, description="text, e.g. S2")
    valid_until: date


class TravelBookedData(MilestoneData):
    arrival_date: date


class InterpreterData(MilestoneData):
    language: str | None = None


class ProductData(MilestoneData):
    lot: str = Field(min_length=1)
    coi_id: str = Field(min_length=1)


class PretreatmentData(MilestoneData):
    outcome: Literal["cleared", "not_cleared"]


class CoiData(MilestoneData):
    coi_id: str = Field(min_length=1)


class RegimenData(MilestoneData):
    """Bridging therapy's regimen (runs under `WATCHED`: one of the protocol's, or its
    duration in `days`, which moves conditioning on)."""

    regimen: str | None = None
    days: int | None = Field(
        default=None, ge=0, le=90, description="whole number: days before conditioning may start"
    )


class ReasonData(MilestoneData):
    reason: str = Field(min_length=1)


class LotData(MilestoneData):
    lot: str = Field(min_length=1)


class ValidUntilData(MilestoneData):
    valid_until: date


class TelemedicineData(MilestoneData):
    month: int = Field(ge=1)


class ResponseData(MilestoneData):
    """A disease response (runs under `WATCHED`: with MRD, for a protocol month)."""

    response: Literal["CR", "PR", "SD", "PD"]
    method: str | None = None
    mrd: Literal["negative", "positive", "not_done"] | None = None
    mrd_method: Literal["flow", "ngs", "pcr"] | None = None
    mrd_sensitivity: float | None = Field(
        default=None, gt=0, le=0.01, description="number, e.g. 0.0001 for 10⁻⁴ (flow)"
    )
    month: int | None = Field(
        default=None, ge=1, le=120, description="whole number: the protocol month assessed"
    )


class AdverseEventData(MilestoneData):
    """An adverse event: its CTCAE term and grade, whether serious and related to the
    product, and when the team became aware of it (default: when it occurred)."""

    term: str = Field(min_length=1, max_length=120, description="CTCAE term, e.g. sepsis")
    grade: int = Field(ge=1, le=5, description="CTCAE grade 1–5")
    serious: bool
    related_to_product: bool
    aware_at: datetime | None = Field(
        default=None, description="date and time with offset: when the team became aware"
    )


class SaeReportedData(MilestoneData):
    """A serious adverse event reported to the sponsor: the sponsor's reference."""

    sponsor_reference: str = Field(min_length=1, max_length=64)
    report_id: str | None = Field(
        default=None, max_length=64, description="which pending report (default: the oldest)"
    )


class DeathData(MilestoneData):
    """The patient died: the cause (clinical words) and whether related to the product."""

    cause: str = Field(min_length=1, max_length=200)
    related_to_product: bool


class RelapseData(MilestoneData):
    """A relapse: what the disease shows (antigen status) and how it was found."""

    antigen_status: str | None = Field(
        default=None, max_length=64, description="text, e.g. CD19-negative"
    )
    method: str | None = Field(default=None, max_length=64, description="text, e.g. PET-CT")


class ReReferralData(MilestoneData):
    """The way back after a relapse or progression, decided with the family."""

    decision: Literal["referred", "not_referred"]
    therapy: Literal["car_t", "car_nk", "other"] | None = None
    target_antigen: str | None = Field(default=None, max_length=32, description="e.g. CD22")


class RegistryData(MilestoneData):
    window: str = Field(min_length=1, description="a registry window of the protocol, e.g. day_100")
    form: str | None = Field(
        default=None,
        max_length=64,
        description="the form sent: CIBMTR F4000, F4003, F4006, F4100, or the site's registry",
    )


class CheckInData(MilestoneData):
    year: int = Field(ge=2, le=30)


class Lab(BaseModel):
    """A laboratory value's unit and range, and the unit people type by mistake instead."""

    model_config = ConfigDict(frozen=True)

    unit: str
    low: float
    high: float
    # A value below `low` (or above `high`) that is this other unit's usual range, with how
    # to convert: "looks like …; expected …".
    below_means: str = ""
    above_means: str = ""
    whole: bool = False


# Every laboratory finding: its unit (in its name), the range the journey accepts, and the
# unit mistake a value outside it most likely is (docs/clinical-rules.md, "After infusion").
LABS: dict[str, Lab] = {
    "anc_per_ul": Lab(unit="cells/µL", low=0, high=100_000, whole=True),
    "platelets_per_ul": Lab(
        unit="/µL",
        low=1_000,
        high=2_000_000,
        whole=True,
        below_means="×10⁹/L (or ×10³/µL); expected per µL: × 1,000 (20 ×10⁹/L is 20000)",
    ),
    "hemoglobin_g_dl": Lab(
        unit="g/dL",
        low=2,
        high=25,
        above_means="g/L; expected g/dL: ÷ 10 (80 g/L is 8.0)",
    ),
    "igg_mg_dl": Lab(
        unit="mg/dL",
        low=20,
        high=10_000,
        below_means="g/L; expected mg/dL: × 100 (4 g/L is 400)",
    ),
    "creatinine_mg_dl": Lab(
        unit="mg/dL",
        low=0.05,
        high=30,
        above_means="µmol/L; expected mg/dL: ÷ 88.4 (133 µmol/L is 1.5)",
    ),
    "potassium_mmol_l": Lab(unit="mmol/L", low=1, high=12),
    "phosphate_mg_dl": Lab(unit="mg/dL", low=0.3, high=25),
    "uric_acid_mg_dl": Lab(
        unit="mg/dL",
        low=0.1,
        high=40,
        above_means="µmol/L; expected mg/dL: ÷ 59.5 (476 µmol/L is 8.0)",
    ),
    "calcium_mg_dl": Lab(
        unit="mg/dL",
        low=3,
        high=20,
        below_means="mmol/L; expected mg/dL: × 4 (2.2 mmol/L is 8.8)",
    ),
    "ldh_u_l": Lab(unit="U/L", low=10, high=50_000),
}

# The clinical findings that make an observation a laboratory result as much as a value does.
LAB_FINDINGS = (*LABS, "infection", "infusion_reaction_grade", "ivig_given", "transfusion")


def check_lab(name: str, value: float) -> None:
    """A laboratory value in its unit and range (`name`: a key of `LABS`).

    Raises:
        ValueError: saying which unit is expected (and what the value looks like instead),
            without the field's name or value (the refusal adds both).
    """
    lab = LABS[name]
    if lab.whole and value != int(value):
        raise ValueError(
            "is not a whole count: it looks like ×10⁹/L or a percentage; expected "
            f"{lab.unit}, a whole number (0.5 ×10⁹/L is 500)"
        )
    if value < lab.low and lab.below_means:
        raise ValueError(f"looks like {lab.below_means}")
    if value > lab.high and lab.above_means:
        raise ValueError(f"looks like {lab.above_means}")
    if not lab.low <= value <= lab.high:
        raise ValueError(f"is out of range; expected {lab.unit}, {lab.low:g} to {lab.high:g}")


class InfectionFinding(BaseModel):
    """An infection: where, the organism if known, whether treated."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str = Field(min_length=1, max_length=64, description="text, e.g. lung, blood, urine")
    organism: str | None = Field(default=None, max_length=100)
    treated: bool = False


class Transfused(StrEnum):
    """What was transfused."""

    RED_CELLS = "red_cells"
    PLATELETS = "platelets"


class ValidObservation(BaseModel):
    """Physiological ranges an observation must fall in (a typo is refused, not graded); the
    laboratory values in their units (`LABS`)."""

    model_config = ConfigDict(extra="ignore")

    temperature_c: float | None = Field(default=None, ge=30, le=45)
    systolic_bp: int | None = Field(default=None, ge=30, le=300)
    heart_rate: int | None = Field(default=None, ge=20, le=300)
    respiratory_rate: int | None = Field(default=None, ge=2, le=80)
    spo2: float | None = Field(default=None, ge=40, le=100)
    oxygen_device: OxygenDevice = OxygenDevice.NONE
    oxygen_flow_l_min: float | None = Field(default=None, ge=0, le=80)
    vasopressors: int = Field(default=0, ge=0, le=10)
    vasopressin: bool = False
    ice_score: int | None = Field(default=None, ge=0, le=10)
    consciousness: Consciousness = Consciousness.AWAKE
    seizure: Seizure = Seizure.NONE
    cerebral_edema: CerebralEdema = CerebralEdema.NONE
    ferritin_ng_ml: float | None = Field(default=None, ge=0, le=1_000_000)
    gvhd_skin_bsa_pct: float | None = Field(default=None, ge=0, le=100)
    bilirubin_mg_dl: float | None = Field(default=None, ge=0, le=100)
    stool_ml_day: float | None = Field(default=None, ge=0, le=20_000)
    anc_per_ul: float | None = None
    platelets_per_ul: float | None = None
    hemoglobin_g_dl: float | None = None
    igg_mg_dl: float | None = None
    creatinine_mg_dl: float | None = None
    potassium_mmol_l: float | None = None
    phosphate_mg_dl: float | None = None
    uric_acid_mg_dl: float | None = None
    calcium_mg_dl: float | None = None
    ldh_u_l: float | None = None
    infection: InfectionFinding | None = None
    infusion_reaction_grade: int | None = Field(
        default=None, ge=0, le=5, description="CTCAE grade 0–5"
    )
    ivig_given: bool = False
    transfusion: list[Transfused] | None = Field(default=None, max_length=2)

    @field_validator(*LABS)
    @classmethod
    def _lab(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is not None:
            check_lab(str(info.field_name), v)
        return v


class ObservationGrades(BaseModel):
    """What grading found in one observation (CRS and ICANS: None for a laboratory result)."""

    crs_grade: int | None = None
    icans_grade: int | None = None
    gvhd_grade: int | None = None
    flags: list[str] = Field(default_factory=list)
    anc_grade: int | None = None
    platelet_grade: int | None = None
    anaemia_grade: int | None = None
    icaht_grade: int | None = None
    tumour_lysis: str | None = None


# Codes whose case carries no meaning (`usd` is USD): the services normalise them before a
# milestone is sent. The journey itself still refuses other spellings, as it always did.
UPPER_CASE_CODES: dict[str, tuple[str, ...]] = {"cost_estimate_accepted": ("currency",)}


def normalised(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A milestone's data with its case-free codes upper-cased (nothing else changed)."""
    fields = UPPER_CASE_CODES.get(kind, ())
    return {
        k: v.strip().upper() if k in fields and isinstance(v, str) else v for k, v in data.items()
    }


def describe_validation_error(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """A pydantic error as one readable sentence: `field: problem (got value)`, values shortened
    (a refusal never echoes a large input back), in words (`model`'s field descriptions say
    what a field takes; never a pattern)."""
    return bounds.describe(error, model)


def _takes(annotation: Any) -> str:
    """What a field takes, in words a coordinator types: `one of: a, b`, `date`, `list of: …`."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of: " + ", ".join(str(m.value) for m in annotation)
    if origin is list:
        inner = _takes(args[0]) if args else "text"
        return "list of: " + inner.removeprefix("one of: ") + " (comma-separated)"
    if origin in (Union, UnionType):
        kinds = [_takes(a) for a in args if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else "JSON (object or list)"
    names = {str: "text", int: "whole number", float: "number", bool: "true/false", date: "date"}
    if annotation is datetime:
        return "date and time with offset"
    if annotation in names:
        return names[annotation]
    if origin is dict or annotation is dict:
        return "JSON object"
    return str(getattr(annotation, "__name__", annotation))


def field_hints(model: type[BaseModel]) -> list[FieldHint]:
    """A data model's fields for people: name, required or not, what each takes."""
    return [
        FieldHint(name=name, required=f.is_required(), takes=f.description or _takes(f.annotation))
        for name, f in model.model_fields.items()
    ]


def expected_fields(model: type[BaseModel]) -> str:
    """The fields a data model expects, optional ones marked with `?`."""
    names = [name if f.is_required() else f"{name}?" for name, f in model.model_fields.items()]
    return ", ".join(names) if names else "no data"
