"""What milestones and observations carry: one data model per kind, physiological ranges.

The models are strict (`extra="forbid"`): a misspelt field is refused naming it, not
ignored. Rules (`models/pathway/milestones/`) declare which model their kind carries.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models import bounds
from models.enums import ConsentType, RecordType, SignatureMeaning
from models.grading import CerebralEdema, Consciousness, OxygenDevice, Seizure
from models.messages import FieldHint


class MilestoneData(BaseModel):
    """The data a milestone carries: strict (unknown keys refused), text stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoData(MilestoneData):
    """A milestone that carries no data."""


class RecordReceivedData(MilestoneData):
    record_type: RecordType
    note: str | None = None


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
SHA256 = r"^[0-9a-f]{64}$"


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
    regimen: str | None = None


class ReasonData(MilestoneData):
    reason: str = Field(min_length=1)


class LotData(MilestoneData):
    lot: str = Field(min_length=1)


class ValidUntilData(MilestoneData):
    valid_until: date


class TelemedicineData(MilestoneData):
    month: int = Field(ge=1)


class ResponseData(MilestoneData):
    response: Literal["CR", "PR", "SD", "PD"]
    method: str | None = None


class RegistryData(MilestoneData):
    window: str = Field(min_length=1, description="a registry window of the protocol, e.g. day_100")


class CheckInData(MilestoneData):
    year: int = Field(ge=2, le=30)


class ValidObservation(BaseModel):
    """Physiological ranges an observation must fall in (a typo is refused, not graded)."""

    model_config = ConfigDict(extra="ignore")

    temperature_c: float = Field(ge=30, le=45)
    systolic_bp: int = Field(ge=30, le=300)
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


class ObservationGrades(BaseModel):
    """What grading found in one observation."""

    crs_grade: int
    icans_grade: int
    gvhd_grade: int | None = None
    flags: list[str] = Field(default_factory=list)


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
