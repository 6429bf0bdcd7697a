"""What the console's forms offer and how their text becomes a service's typed request.

The milestone forms come from the pathway's rules: the kinds the journey's phase accepts
(those it waits for first), each with the fields of the milestone's typed data model, each
field's input chosen from what it takes (a date, a number, one of a list, text).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import UploadFile

from cellpath.console.i18n import N_
from models.enums import MilestoneKind, Phase
from models.grading import CerebralEdema, Consciousness, OxygenDevice, Seizure
from models.intake import Caregiver, HomeOncologist, PatientDetails
from models.messages import FieldHint, JourneyStatus, ObservationInput
from models.pathway import RULES
from models.pathway.data import field_hints
from models.pathway.gates import SIGNED_DECISIONS
from models.pathway.observations import asks_what_was_given

OBSERVATION_CHOICES: dict[str, list[str]] = {
    "oxygen_device": [d.value for d in OxygenDevice],
    "consciousness": [c.value for c in Consciousness],
    "seizure": [s.value for s in Seizure],
    "cerebral_edema": [e.value for e in CerebralEdema],
}

PHASES = [p for p in Phase if p is not Phase.CLOSED]

# The bedside form's fields are every finding `ObservationInput` takes (grading reads them
# all): a field added to the model is taken here, and `tests/console/test_actions.py` fails
# while the form lacks its input. Who and when are set by the route; yes/no findings are selects.
OBSERVATION_FIELDS = frozenset(ObservationInput.model_fields) - {
    "actor",
    "observed_at",
    "observation_id",
}
OBSERVATION_FLAGS = frozenset(
    name for name, f in ObservationInput.model_fields.items() if f.annotation in (bool, "bool")
)
# The laboratory results form: each value's label with its unit, and its input's step.
LAB_INPUTS: tuple[tuple[str, str, str], ...] = (
    ("anc_per_ul", "ANC (cells/µL)", "1"),
    ("platelets_per_ul", "Platelets (/µL)", "1"),
    ("hemoglobin_g_dl", "Haemoglobin (g/dL)", "0.1"),
    ("igg_mg_dl", "IgG (mg/dL)", "1"),
    ("creatinine_mg_dl", "Creatinine (mg/dL)", "0.01"),
    ("potassium_mmol_l", "Potassium (mmol/L)", "0.1"),
    ("phosphate_mg_dl", "Phosphate (mg/dL)", "0.1"),
    ("uric_acid_mg_dl", "Uric acid (mg/dL)", "0.1"),
    ("calcium_mg_dl", "Calcium (mg/dL)", "0.1"),
    ("ldh_u_l", "LDH (U/L)", "1"),
)
# Findings with parts (`infection.site`, …) and lists (`transfusion`, comma-separated).
NESTED = ("infection",)
LISTED = ("transfusion",)
# The one yes/no finding the form never takes as "no" by default (`asks_what_was_given`).
GIVEN = "anticytokine_or_antipyretic_given"
ASK_GIVEN = N_(
    "Was anything given for fever or CRS (tocilizumab, steroids, an antipyretic)? With no "
    "fever but low blood pressure or oxygen, the answer decides the CRS grade (0, or 2 to 4): "
    "answer yes or no. Nothing was saved"
)


@dataclass(frozen=True)
class Input:
    """One form field: its name, label, HTML input type, choices and whether required."""

    name: str
    label: str
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    hint: str = ""
    value: str = ""
    # A SHA-256 field: the console also takes the document and computes it (`file.<name>`).
    document: bool = False


@dataclass(frozen=True)
class MilestoneForm:
    """A milestone kind the phase accepts, with its fields; `waited`: the journey waits for
    it now; `after`: what must come first; `signed`: a clinical decision the reader signs
    (their password again); `transcription`: a PI's decision the reader may only record as
    received in writing."""

    kind: str
    inputs: tuple[Input, ...]
    waited: bool
    optional: bool
    after: tuple[str, ...]
    signed: bool = False
    transcription: bool = False


def input_of(hint: FieldHint) -> Input:
    """The HTML input for a milestone data field, from what the field takes."""
    takes = hint.takes
    label = hint.name.replace("_", " ")
    if takes.startswith("one of: "):
        choices = tuple(c.strip() for c in takes.removeprefix("one of: ").split(","))
        return Input(hint.name, label, "select", hint.required, choices)
    kind = {"date": "date", "whole number": "number", "number": "number"}.get(takes, "text")
    if takes == "true/false":
        return Input(hint.name, label, "select", hint.required, ("true", "false"))
    document = hint.name.endswith("_sha256")
    return Input(
        hint.name,
        label,
        kind,
        hint.required,
        hint=takes if kind == "text" else "",
        document=document,
    )


def for_signer(form: MilestoneForm, actor: str, *, signs: bool) -> MilestoneForm:
    """A milestone form as the reader gets it: a clinical decision they sign offers only the
    meanings that can fit it (and names them the reviewer); one they may only transcribe (a
    PI's decision, for a coordinator) asks for the PI and the signed document."""
    if form.kind == MilestoneKind.CUSTODY_TRANSFERRED:
        # Signed by both, in the console: the giver (the reader) and the receiver they name.
        inputs = tuple(
            replace(i, required=True) if i.name == "received_by" else i for i in form.inputs
        )
        return replace(form, inputs=inputs, signed=True)
    meanings = SIGNED_DECISIONS.get(MilestoneKind(form.kind))
    if meanings is None:
        return form
    inputs = []
    for i in form.inputs:
        if i.name == "signature_meaning":
            i = replace(i, choices=tuple(m.value for m in meanings), required=True)
        elif i.name == "reviewer" and signs:
            i = replace(i, value=actor)
        elif i.name in ("principal_investigator", "transcribed_from_sha256") and not signs:
            i = replace(i, required=True)
        elif i.name in ("principal_investigator", "transcribed_from_sha256") and signs:
            continue  # signing it oneself (the PI): nothing is transcribed
        inputs.append(i)
    return replace(form, inputs=tuple(inputs), signed=signs, transcription=not signs)


# Recorded by a service that did the work (`handover_sent`: built, checked and sent the bundle),
# never typed in: the case page offers the action instead.
RECORDED_BY_SERVICES = frozenset(
    {
        MilestoneKind.HANDOVER_SENT,
        # The records section adds the file and records these; the family's page reports.
        MilestoneKind.TRANSLATION_REQUESTED,
        MilestoneKind.RECORD_TRANSLATED,
        MilestoneKind.TRANSLATION_VERIFIED,
        MilestoneKind.SYMPTOM_REPORTED,
        # A quote's items are rows with four fields each: the CLI (`--data-json`) takes them;
        # a form for them on the case page is not built yet (nor for a shipment's lines).
        MilestoneKind.QUOTE_ISSUED,
        # A shipment's manifest and invoice are lines too: the CLI takes them.
        MilestoneKind.SHIPMENT_DISPATCHED,
        # The bookings section: the case store grants the place first (capacity_page).
        MilestoneKind.SLOT_BOOKED,
        MilestoneKind.SLOT_RELEASED,
    }
)
# Fields a service fills from the file it keeps (the records section), never typed in.
FILLED_BY_SERVICES = {MilestoneKind.RECORD_RECEIVED: frozenset({"sha256", "language", "pages"})}


def milestone_forms(status: JourneyStatus) -> list[MilestoneForm]:
    """The milestones the journey's phase accepts: the ones it waits for first, then the rest
    of the phase's kinds (a refusal then says what they need first)."""
    expected = {e.kind: e for e in status.expected}
    forms = []
    for kind, rule in RULES.items():
        if status.phase not in rule.phases or kind in RECORDED_BY_SERVICES:
            continue
        if rule.cell_source is not None and rule.cell_source != status.cell_source:
            continue
        e = expected.get(kind.value)
        forms.append(
            MilestoneForm(
                kind=kind.value,
                # A data field called `note` would be a second note field beside the
                # milestone's own: the form has one.
                inputs=tuple(
                    input_of(h)
                    for h in field_hints(rule.data)
                    if h.name != "note" and h.name not in FILLED_BY_SERVICES.get(kind, ())
                ),
                waited=e is not None and not e.optional,
                optional=e is not None and e.optional,
                after=tuple(e.after) if e else (),
            )
        )
    return sorted(forms, key=lambda f: (not f.waited, f.optional, f.kind))


# A signed document chosen on the case page: its SHA-256 goes in the milestone, the file into
# the records store once the milestone is accepted.
DOCUMENT_LIMIT = 50 * 1024 * 1024


async def read_document(upload: UploadFile, field: str) -> bytes:
    """An uploaded signed document's bytes (the case page keeps it in the records store).

    Raises:
        ValueError: naming the field, when the document is empty or over `DOCUMENT_LIMIT`.
    """
    data = await upload.read(DOCUMENT_LIMIT + 1)
    if len(data) > DOCUMENT_LIMIT:
        raise ValueError(f"{field}: the document is over {DOCUMENT_LIMIT // 2**20} MB")
    if not data:
        raise ValueError(f"{field}: the document chosen is empty")
    return data


def sha256_of(data: bytes) -> str:
    """A document's SHA-256, as the milestone carries it."""
    return hashlib.sha256(data).hexdigest()


def zone(name: str) -> ZoneInfo:
    """A time zone by name (UTC when the name is unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def cost_rows(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The cost estimate's item rows (`item.N.name`, `.amount`, `.payer`) as items; empty
    rows left out, an amount that is a number sent as one (anything else as typed, for the
    journey to refuse in words)."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in pairs:
        _, n, part = key.split(".", 2)
        if n.isdigit() and part in ("name", "amount", "payer"):
            rows.setdefault(int(n), {})[part] = value.strip()
    items: list[dict[str, Any]] = []
    for _, row in sorted(rows.items()):
        if not (row.get("name") or row.get("amount")):
            continue
        amount: Any = row.get("amount", "")
        with contextlib.suppress(ValueError):
            amount = float(amount)
        item = {"name": row.get("name", ""), "amount": amount}
        items.append(item | ({"payer": row["payer"]} if row.get("payer") else {}))
    return items


def local_time(text: str, tz: str, field: str) -> datetime | None:
    """A `datetime-local` input (no offset) read in the person's time zone; empty: None.

    Raises:
        ValueError: naming the field and the format expected.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: expected a date and time like 2026-12-05T09:30") from None
    return value if value.tzinfo else value.replace(tzinfo=zone(tz))


def observation_from_form(
    text: dict[str, str], actor: str, observed_at: datetime | None
) -> ObservationInput:
    """The bedside form's text as an observation: each finding as typed (the model converts
    and bounds it, naming the field of any problem; empty fields are not measured), yes/no
    findings from their selects.

    Raises:
        ValueError: "anything given for fever or CRS" is unanswered while it decides the grade
            (`ASK_GIVEN`), or a finding does not fit its field (pydantic's ValidationError).
    """
    values: dict[str, Any] = {
        key: value.strip()
        for key, value in text.items()
        if key in OBSERVATION_FIELDS and key not in LISTED and value.strip()
    }
    for flag in OBSERVATION_FLAGS:
        values[flag] = text.get(flag) == "true"
    for name in LISTED:
        listed = [v.strip() for v in text.get(name, "").split(",") if v.strip()]
        if listed:
            values[name] = listed
    for name in NESTED:
        # A finding with parts is there when its first part is (an infection's site).
        parts = {k.split(".", 1)[1]: v.strip() for k, v in text.items() if k.startswith(f"{name}.")}
        if parts.get("site"):
            values[name] = {k: v for k, v in parts.items() if v} | {
                "treated": parts.get("treated") == "true"
            }
    # The form's own id (a hidden field): sent twice, it is recorded once.
    form_id = text.get("observation_id", "").strip() or None
    o = ObservationInput.model_validate(
        values | {"actor": actor, "observed_at": observed_at, "observation_id": form_id}
    )
    if text.get(GIVEN, "").strip() == "" and asks_what_was_given(o):
        raise ValueError(ASK_GIVEN)
    return o


def intake_document(form: dict[str, str]) -> dict[str, Any]:
    """The intake form's fields as an intake file's document (empty fields left out, so the
    intake's own validation names what is missing)."""

    def text(name: str) -> str | None:
        value = form.get(name, "").strip()
        return value or None

    def listed(name: str) -> list[str] | None:
        value = text(name)
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    # The fields of the intake's own models: a field added there is taken here too.
    nested = {"caregiver": Caregiver, "home_oncologist": HomeOncologist}
    patient = {
        key: text(f"patient.{key}") for key in PatientDetails.model_fields if key not in nested
    }
    for name, model in nested.items():
        values = {key: text(f"{name}.{key}") for key in model.model_fields}
        if any(values.values()):
            patient[name] = {k: v for k, v in values.items() if v}  # type: ignore[assignment]

    def flag(name: str) -> bool | None:
        return {"true": True, "false": False}.get(text(name) or "")

    document: dict[str, Any] = {
        "case_id": text("case_id"),
        "patient": {k: v for k, v in patient.items() if v},
        "therapy": text("therapy"),
        "cell_source": text("cell_source"),
        "program": text("program"),
        "indication": text("indication"),
        "target_antigens": listed("target_antigens"),
        "sites": listed("sites"),
        "coordinator": text("coordinator"),
        "protocol": text("protocol"),
        "home_timezone": text("home_timezone"),
        # The options aid's facts (a form that leaves them at their defaults sends false).
        "prior_car_t": flag("prior_car_t"),
        "antigen_negative_relapse": listed("antigen_negative_relapse"),
        "poor_t_cell_quality": flag("poor_t_cell_quality"),
        "local_access": flag("local_access"),
    }
    return {k: v for k, v in document.items() if v is not None}
