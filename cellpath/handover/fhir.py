"""The hand-over summary: an HL7 FHIR R4 Bundle built with `fhir.resources` (its R4B models).

One `collection` Bundle for the home team: the Patient (identified only when the reader may see
who it is), the follow-up CarePlan, a Task per open deadline, an Observation per bedside
observation (toxicity grades as components, vital signs with their LOINC codes) and one per
laboratory value (LOINC, UCUM), the infusion as a Procedure using its product
(`usedReference` to a BiologicallyDerivedProduct: lot and chain-of-identity id), bridging
therapy as Procedures, an AdverseEvent per graded toxicity and per recorded adverse event, a
Consent per signed consent, and the discharge letter as a DocumentReference. Every resource
carries a narrative.

Ids are derived from the case (uuid5), so the same journey gives the same bundle. A bundle is
checked before it leaves (`check`): it parses with `fhir.resources`, every reference resolves
inside it, and every status code is one its value set allows (`fhir.resources` validates the
shapes, not the codes: DOMAIN §7). A bundle that fails is an error, never sent.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from models.messages import JourneyStatus, MilestoneEvent
from models.state import ObservationRecord

SYSTEM = "https://cellpath.org/fhir"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NAMESPACE = uuid.UUID("6f1c3e3a-6a55-4d1e-9a59-2d0c6a3c1f10")

# The value sets the statuses come from (FHIR R4), checked here because the models do not.
STATUS_CODES: dict[str, set[str]] = {
    "CarePlan": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error"},
    "Task": {"draft", "requested", "received", "accepted", "in-progress", "completed"},
    "Observation": {"registered", "preliminary", "final", "amended"},
    "Procedure": {"preparation", "in-progress", "not-done", "completed"},
    "Consent": {"draft", "proposed", "active", "rejected", "inactive"},
    "DocumentReference": {"current", "superseded", "entered-in-error"},
}
CONSENT_SCOPE = {
    "treatment": "treatment",
    "trial": "research",
    "registry": "research",
    "data_transfer": "patient-privacy",
}


class HandoverInvalid(Exception):
    """The bundle failed its checks: a bug in the build, never sent."""


@dataclass
class Identity:
    """Who the patient and the home oncologist are (case store; only for the care team)."""

    full_name: str | None = None
    birth_date: date | None = None
    oncologist_name: str | None = None
    oncologist_institution: str | None = None
    oncologist_email: str | None = None


@dataclass
class HandoverFacts:
    """What the bundle is built from: the journey's status, timeline and observations."""

    status: JourneyStatus
    timeline: list[MilestoneEvent]
    observations: list[ObservationRecord]
    generated_at: datetime
    identity: Identity | None = None


class _Builder:
    def __init__(self, facts: HandoverFacts) -> None:
        self.f = facts
        self.entries: list[dict[str, Any]] = []

    def uid(self, *parts: object) -> str:
        return str(uuid.uuid5(NAMESPACE, "|".join([self.f.status.case_id, *map(str, parts)])))

    def add(self, resource: dict[str, Any], narrative: str) -> str:
        """Add a resource with its narrative (what a person reads of it: every resource has
        one, FHIR's dom-6) and return its reference."""
        rid = resource["id"]
        resource["text"] = {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(narrative)}</div>',
        }
        self.entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource})
        return f"urn:uuid:{rid}"


def _when(at: datetime) -> str:
    return at.isoformat()


THERAPIES = {"car_t": "CAR-T cell therapy", "car_nk": "CAR-NK cell therapy"}


def _letter(f: HandoverFacts) -> str:
    """The discharge letter in words a home oncologist reads: what was treated, with which
    product, how it went, and what follow-up is still due."""
    s = f.status
    t = s.toxicity
    infusion = next((e for e in f.timeline if e.kind == "infusion_completed"), None)
    lot = infusion.data.get("lot") if infusion is not None else None
    coi = infusion.data.get("coi_id") if infusion is not None else None
    therapy = THERAPIES.get(str(s.therapy), str(s.therapy).replace("_", " "))
    antigens = ", ".join(s.target_antigens)
    lines = [
        f"Discharge letter — case {s.case_id}",
        f"Treatment: {therapy} ({s.cell_source} product), {s.program} program",
        f"Diagnosis: {s.indication}" + (f"; target antigen(s): {antigens}" if antigens else "")
        if s.indication
        else "",
        f"Product: lot {lot}" + (f" (chain of identity {coi})" if coi else "") if lot else "",
        f"Infused: {s.infused_at:%Y-%m-%d %H:%M} UTC" if s.infused_at else "Infused: —",
        f"Discharged: {s.discharged_at:%Y-%m-%d %H:%M} UTC" if s.discharged_at else "",
        f"Worst toxicity (ASTCT): CRS grade {t.crs_worst or 0}, ICANS grade {t.icans_worst or 0}"
        + (f"; GvHD grade {t.gvhd_worst} (MAGIC)" if t.gvhd_worst is not None else ""),
        f"Observations recorded: {s.observation_count}",
        "Follow-up still due:",
        *[
            f"- {d.name.replace('_', ' ')}: due {d.due_at:%Y-%m-%d %H:%M} UTC"
            for d in s.open_deadlines
        ],
    ]
    return "\n".join(line for line in lines if line)


def build(facts: HandoverFacts) -> dict[str, Any]:
    """The hand-over Bundle as FHIR JSON (a dict), checked (`HandoverInvalid` if it fails)."""
    b, s = _Builder(facts), facts.status
    ident = facts.identity
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": b.uid("patient"),
        "identifier": [{"system": f"{SYSTEM}/patient-ref", "value": s.patient_ref}],
    }
    if ident is not None and ident.full_name:
        patient["name"] = [{"text": ident.full_name}]
    if ident is not None and ident.birth_date:
        patient["birthDate"] = ident.birth_date.isoformat()
    subject = {"reference": b.add(patient, f"Patient {s.patient_ref}")}

    practitioner = None
    if ident is not None and ident.oncologist_name:
        doc: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": b.uid("home-oncologist"),
            "name": [{"text": ident.oncologist_name}],
        }
        if ident.oncologist_email:
            doc["telecom"] = [{"system": "email", "value": ident.oncologist_email}]
        if ident.oncologist_institution:
            doc["qualification"] = [
                {
                    "code": {"text": "oncologist"},
                    "issuer": {"display": ident.oncologist_institution},
                }
            ]
        practitioner = {"reference": b.add(doc, f"Home oncologist: {ident.oncologist_name}")}

    plan_id = b.uid("careplan")
    tasks = []
    for d in s.open_deadlines:
        task: dict[str, Any] = {
            "resourceType": "Task",
            "id": b.uid("task", d.name),
            "status": "requested",
            "intent": "plan",
            "code": {"coding": [{"system": f"{SYSTEM}/deadline", "code": d.name}]},
            "description": d.name.replace("_", " "),
            "for": subject,
            "basedOn": [{"reference": f"urn:uuid:{plan_id}"}],
            "authoredOn": _when(facts.generated_at),
            "restriction": {"period": {"end": _when(d.due_at)}},
        }
        if d.overdue:
            task["businessStatus"] = {"text": f"overdue (escalation level {d.escalation_level})"}
        if practitioner is not None:
            task["owner"] = practitioner
        tasks.append(b.add(task, f"{d.name.replace('_', ' ')}: due {d.due_at:%Y-%m-%d %H:%M} UTC"))
    closed = s.phase.value == "closed"
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "completed" if closed else "active",
        "intent": "plan",
        "title": f"Follow-up after {s.therapy} ({s.protocol} protocol)",
        "subject": subject,
        "created": _when(facts.generated_at),
        "activity": [{"reference": {"reference": t}} for t in tasks],
    }
    if s.infused_at is not None:
        plan["period"] = {"start": _when(s.infused_at)}
    b.add(plan, f"{plan['title']}: {len(tasks)} follow-up task(s) open")

    for i, o in enumerate(facts.observations):
        if o.observation.temperature_c is None or o.observation.systolic_bp is None:
            continue  # a laboratory result: its values are Observations of their own below
        components = [
            _grade("crs-grade", "CRS grade (ASTCT)", o.crs_grade),
            _grade("icans-grade", "ICANS grade (ASTCT)", o.icans_grade),
            _grade("gvhd-grade", "acute GvHD grade (MAGIC)", o.gvhd_grade),
            _vital("8310-5", "Body temperature", o.observation.temperature_c, "Cel"),
            _vital("8480-6", "Systolic blood pressure", o.observation.systolic_bp, "mm[Hg]"),
        ]
        b.add(
            {
                "resourceType": "Observation",
                "id": b.uid("observation", i),
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "observation-category",
                                "code": "exam",
                            }
                        ]
                    }
                ],
                "code": {
                    "coding": [{"system": f"{SYSTEM}/observation", "code": "cart-toxicity"}],
                    "text": "CAR-T/NK toxicity assessment",
                },
                "subject": subject,
                "effectiveDateTime": _when(o.observed_at),
                "component": [c for c in components if c is not None],
            },
            f"Toxicity assessment {o.observed_at:%Y-%m-%d %H:%M} UTC: CRS grade {o.crs_grade}, "
            f"ICANS grade {o.icans_grade}"
            + (f", GvHD grade {o.gvhd_grade}" if o.gvhd_grade is not None else ""),
        )
    _laboratory(b, facts, subject)

    infusion = next((e for e in facts.timeline if e.kind == "infusion_completed"), None)
    if infusion is not None:
        product = b.add(
            {
                "resourceType": "BiologicallyDerivedProduct",
                "id": b.uid("product"),
                "productCategory": "cells",
                "identifier": [
                    {"system": f"{SYSTEM}/chain-of-identity", "value": infusion.data["coi_id"]},
                    {"system": f"{SYSTEM}/lot", "value": infusion.data["lot"]},
                ],
                # How it travelled (runs under `CUSTODY`): each shipment, its range and log.
                **({"processing": _shipments(s)} if s.shipments else {}),
            },
            f"Cell product lot {infusion.data['lot']}, chain of identity {infusion.data['coi_id']}",
        )
        _custody(b, s, product)
        b.add(
            {
                "resourceType": "Procedure",
                "id": b.uid("infusion"),
                "status": "completed",
                "code": {"text": f"{s.therapy} cell infusion ({s.cell_source})"},
                "subject": subject,
                "performedDateTime": _when(infusion.occurred_at),
                "note": [
                    {
                        "text": f"Product lot {infusion.data['lot']}, chain-of-identity id "
                        f"{infusion.data['coi_id']} (verified at the bedside)"
                    }
                ],
                # The product infused, as FHIR links it (R5's `used`; in R4 `usedReference`).
                "usedReference": [{"reference": product}],
            },
            f"{s.therapy} cell infusion {infusion.occurred_at:%Y-%m-%d %H:%M} UTC, lot "
            f"{infusion.data['lot']}",
        )
        infusion_ref: str | None = f"urn:uuid:{b.uid('infusion')}"
    else:
        infusion_ref = None
    _bridging(b, facts, subject)
    _adverse_events(b, facts, subject, infusion_ref)

    for i, c in enumerate(s.consents):
        b.add(
            {
                "resourceType": "Consent",
                "id": b.uid("consent", i),
                "status": "active" if c.withdrawn_at is None else "inactive",
                "scope": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                            "code": CONSENT_SCOPE[c.consent_type],
                        }
                    ]
                },
                "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
                "patient": subject,
                "dateTime": _when(c.signed_at),
                "identifier": [{"system": f"{SYSTEM}/document-sha256", "value": c.document_sha256}],
                "policyRule": {"text": f"{c.consent_type} consent, form version {c.form_version}"},
            },
            f"{c.consent_type} consent, form version {c.form_version}, signed "
            f"{c.signed_at:%Y-%m-%d} by the {c.signer}",
        )

    if s.discharged_at is not None:
        letter = _letter(facts).encode()
        b.add(
            {
                "resourceType": "DocumentReference",
                "id": b.uid("discharge-letter"),
                "status": "current",
                "type": {
                    "coding": [{"system": LOINC, "code": "18842-5"}],
                    "text": "Discharge summary",
                },
                "subject": subject,
                "date": _when(s.discharged_at),
                "content": [
                    {"attachment": {
                        "contentType": "text/plain; charset=utf-8",
                        "data": base64.b64encode(letter).decode(),
                        "title": "Discharge letter",
                    }}
                ],
            },
            f"Discharge letter, {s.discharged_at:%Y-%m-%d}",
        )  # fmt: skip

    bundle = {
        "resourceType": "Bundle",
        "id": b.uid("bundle", facts.generated_at.isoformat()),
        "type": "collection",
        "timestamp": _when(facts.generated_at),
        "entry": b.entries,
    }
    check(bundle)
    return bundle


# Laboratory values as LOINC-coded Observations with UCUM units: finding → (LOINC code, name,
# UCUM unit). Ferritin is taken at the bedside, the rest as laboratory results.
LABORATORY: dict[str, tuple[str, str, str]] = {
    "anc_per_ul": ("751-8", "Neutrophils [#/volume] in Blood", "/uL"),
    "platelets_per_ul": ("777-3", "Platelets [#/volume] in Blood", "/uL"),
    "hemoglobin_g_dl": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL"),
    "igg_mg_dl": ("2465-3", "IgG [Mass/volume] in Serum or Plasma", "mg/dL"),
    "creatinine_mg_dl": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"),
    "potassium_mmol_l": ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L"),
    "phosphate_mg_dl": ("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL"),
    "uric_acid_mg_dl": ("3084-1", "Urate [Mass/volume] in Serum or Plasma", "mg/dL"),
    "calcium_mg_dl": ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL"),
    "ldh_u_l": (
        "2532-0",
        "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
    ),
    "ferritin_ng_ml": ("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "ng/mL"),
}
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _laboratory(b: _Builder, facts: HandoverFacts, subject: dict[str, str]) -> None:
    """One Observation per laboratory value recorded."""
    for i, o in enumerate(facts.observations):
        for name, (code, text, unit) in LABORATORY.items():
            value = getattr(o.observation, name)
            if value is None:
                continue
            b.add(
                {
                    "resourceType": "Observation",
                    "id": b.uid("lab", i, name),
                    "status": "final",
                    "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
                    "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
                    "subject": subject,
                    "effectiveDateTime": _when(o.observed_at),
                    "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
                },
                f"{text}: {value:g} {unit} ({o.observed_at:%Y-%m-%d %H:%M} UTC)",
            )


def _shipments(s: JourneyStatus) -> list[dict[str, Any]]:
    """The product's shipments as `BiologicallyDerivedProduct.processing` (R4B)."""
    out = []
    for sh in s.shipments:
        log = f"; on arrival: {sh.excursion}" if sh.excursion else ""
        qa = f"; QA: {sh.disposition}" if sh.disposition else ""
        out.append(
            {
                "description": f"Shipment {sh.shipment_id} by {sh.courier} (waybill "
                f"{sh.waybill}), kept between {sh.temp_min_c:g} and {sh.temp_max_c:g} °C"
                + log
                + qa,
                "timeDateTime": _when(sh.dispatched_at),
            }
        )
    return out


def _custody(b: _Builder, s: JourneyStatus, product: str) -> None:
    """Each link of the product's chain of custody as a Provenance of the product: who
    handed it on, who took it, where, and who signed."""
    for i, link in enumerate(s.custody):
        agents = [
            {"type": {"text": "from"}, "who": {"display": link.from_party}},
            {"type": {"text": "to"}, "who": {"display": link.to_party}},
            {"type": {"text": "recorded and signed by"}, "who": {"display": link.recorded_by}},
        ]
        if link.received_by:
            agents.append(
                {"type": {"text": "received and signed by"}, "who": {"display": link.received_by}}
            )
        where = f" at {link.location}" if link.location else ""
        b.add(
            {
                "resourceType": "Provenance",
                "id": b.uid("custody", i),
                "target": [{"reference": product}],
                "occurredDateTime": _when(link.at),
                "recorded": _when(link.at),
                "activity": {"text": link.kind.replace("_", " ")},
                "agent": agents,
            },
            f"Custody {link.from_party} → {link.to_party}{where}, {link.at:%Y-%m-%d %H:%M} UTC"
            + (f" ({link.condition})" if link.condition else ""),
        )


def _bridging(b: _Builder, facts: HandoverFacts, subject: dict[str, str]) -> None:
    """Bridging therapy while the product was made, as Procedures."""
    for i, e in enumerate(x for x in facts.timeline if x.kind == "bridging_therapy_started"):
        regimen = str(e.data.get("regimen") or "unnamed regimen")
        b.add(
            {
                "resourceType": "Procedure",
                "id": b.uid("bridging", i),
                "status": "completed",
                "code": {"text": f"Bridging therapy: {regimen}"},
                "subject": subject,
                "performedDateTime": _when(e.occurred_at),
            },
            f"Bridging therapy ({regimen}) from {e.occurred_at:%Y-%m-%d}",
        )


SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
# Each graded toxicity: the grade on the stored observation, what it is, by which grading.
TOXICITIES: tuple[tuple[str, str, str], ...] = (
    ("crs_grade", "Cytokine release syndrome", "ASTCT"),
    ("icans_grade", "Immune effector cell-associated neurotoxicity syndrome", "ASTCT"),
    ("gvhd_grade", "Acute graft-versus-host disease", "MAGIC"),
    ("anc_grade", "Neutrophil count decreased", "CTCAE v5"),
    ("platelet_grade", "Platelet count decreased", "CTCAE v5"),
    ("anaemia_grade", "Anemia", "CTCAE v5"),
)


def _adverse_events(
    b: _Builder, facts: HandoverFacts, subject: dict[str, str], infusion: str | None
) -> None:
    """Each graded toxicity (its worst grade, from the first observation that reached it),
    tumour lysis and infusion reactions, and each recorded adverse event, as AdverseEvents."""
    found: list[tuple[str, str, int | None, datetime, bool | None]] = []
    for field, term, grading in TOXICITIES:
        graded = [(getattr(o, field), o.observed_at) for o in facts.observations]
        graded = [(g, at) for g, at in graded if g]
        if graded:
            worst = max(g for g, _ in graded)
            first = min(at for g, at in graded if g == worst)
            found.append((field, f"{term} ({grading})", worst, first, None))
    lysis = [o for o in facts.observations if o.tumour_lysis]
    if lysis:
        o = max(lysis, key=lambda x: x.tumour_lysis == "clinical")
        found.append(("tumour_lysis", f"Tumor lysis syndrome ({o.tumour_lysis}, Cairo-Bishop)",
                      None, o.observed_at, None))  # fmt: skip
    for o in facts.observations:
        g = o.observation.infusion_reaction_grade
        if g:
            found.append(("infusion_reaction", "Infusion related reaction (CTCAE v5)", g,
                          o.observed_at, None))  # fmt: skip
    for e in facts.status.adverse_events:
        found.append(("adverse_event", f"{e.term} (CTCAE v5)", e.grade, e.occurred_at, e.serious))
    for n, (key, term, grade, at, serious) in enumerate(found):
        if serious is None:
            serious = grade is not None and grade >= 3
        event: dict[str, Any] = {
            "resourceType": "AdverseEvent",
            "id": b.uid("adverse-event", n, key),
            "actuality": "actual",
            "event": {
                "coding": [{"system": f"{SYSTEM}/toxicity", "code": key}],
                "text": term + (f", grade {grade}" if grade is not None else ""),
            },
            "subject": subject,
            "date": _when(at),
            "seriousness": {
                "coding": [{"system": SERIOUSNESS, "code": "serious" if serious else "non-serious"}]
            },
        }
        if grade is not None:
            level = "mild" if grade <= 1 else "moderate" if grade == 2 else "severe"
            event["severity"] = {"coding": [{"system": SEVERITY, "code": level}]}
        if infusion is not None:
            event["suspectEntity"] = [{"instance": {"reference": infusion}}]
        b.add(event, f"{event['event']['text']}, {at:%Y-%m-%d}" + (", serious" if serious else ""))


def _grade(code: str, text: str, value: int | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "code": {"coding": [{"system": f"{SYSTEM}/observation", "code": code}], "text": text},
        "valueInteger": value,
    }


def _vital(code: str, text: str, value: float | None, unit: str) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def check(bundle: dict[str, Any]) -> Bundle:
    """Parse the bundle with `fhir.resources` and check references and status codes."""
    try:
        parsed = Bundle.model_validate(bundle)
    except ValueError as e:
        raise HandoverInvalid(f"the bundle does not validate: {e}") from None
    urls = {e["fullUrl"] for e in bundle["entry"]}
    dangling = sorted(set(_references(bundle)) - urls)
    if dangling:
        raise HandoverInvalid(f"references that do not resolve in the bundle: {dangling}")
    for entry in parsed.entry or []:
        resource: Resource = entry.resource  # type: ignore[assignment]
        kind = resource.get_resource_type()
        status = getattr(resource, "status", None)
        if kind in STATUS_CODES and status not in STATUS_CODES[kind]:
            raise HandoverInvalid(f"{kind}.status {status!r} is not a code of its value set")
    return parsed


def check_json(data: bytes) -> dict[str, Any]:
    """Sent bytes parsed back and checked again (what the receiver will read)."""
    bundle = json.loads(data)
    check(bundle)
    return bundle


def counts(bundle: dict[str, Any]) -> dict[str, int]:
    """Resources in the bundle by type."""
    out: dict[str, int] = {}
    for e in bundle["entry"]:
        kind = e["resource"]["resourceType"]
        out[kind] = out.get(kind, 0) + 1
    return dict(sorted(out.items()))


def encode(bundle: dict[str, Any]) -> bytes:
    """The bundle as the bytes sent and exported (stable: its SHA-256 is recorded)."""
    return json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False).encode()


def sha256(data: bytes) -> str:
    """The SHA-256 of the sent bytes (`handover_sent` records it)."""
    return hashlib.sha256(data).hexdigest()
