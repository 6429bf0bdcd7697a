"""Rules version 5: each gate refuses (naming what is missing) and then accepts.

Consent before conditioning and registry reporting, the eligibility checklist, readiness
before conditioning, signed clinical decisions, the hand-over deadline, and the options aid.
A refusal changes nothing (`Case.refused` compares the whole state before and after).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from models.enums import AlertKind, AuditAction, CellSource, Outcome, Phase, Program, Severity
from models.examples import DISCHARGE, ELIGIBLE, PI_ACCEPTED, SIGNED_DOCUMENT, consents, readiness
from models.messages import AcknowledgeAlertInput, ObservationInput
from models.protocol import PRESETS, ProtocolConfig
from tests.builders import Case


def protocol_with(**changes: Any) -> ProtocolConfig:
    """The default preset with settings changed, validated as a protocol file would be."""
    return ProtocolConfig.model_validate(PRESETS["default"].model_dump() | changes)


def v5(**kw: Any) -> Case:
    return Case(rules_version=5, **kw)


def consent(kind: str, version: str = "v1", **kw: Any) -> dict[str, Any]:
    return {
        "consent_type": kind,
        "form_version": version,
        "signer": "patient",
        "document_sha256": SIGNED_DOCUMENT,
    } | kw


def at_conditioning(
    c: Case, *, consents_signed: bool, ready: bool, only: tuple[str, ...] | None = None
) -> None:
    """An autologous v5 journey whose product was just released (phase conditioning), with
    every consent signed (or `only` those types)."""
    c.to_arrival()
    c.at(days=7)
    c.record("patient_arrived")
    if consents_signed:
        for data in consents(c.j.facts.program):
            if only is None or data["consent_type"] in only:
                c.record("consent_signed", **data)
    c.record("accommodation_registered")
    c.record("pretreatment_cleared", outcome="cleared")
    c.record("apheresis_completed", coi_id="COI-1")
    c.record("manufacturing_started")
    c.at(days=21)
    c.record("product_released", lot="LOT-1", coi_id="COI-1")
    if ready:
        c.record("readiness_checked", **readiness(c.now))
    assert c.phase is Phase.CONDITIONING


def signed(c: Case) -> list[tuple[str, str, str]]:
    return [(s.decision, s.signer, s.meaning.value) for s in c.j.state.signatures]


# --- eligibility ------------------------------------------------------------------------------


def pre_assessment() -> Case:
    c = v5()
    c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    return c


def test_eligible_needs_every_checklist_item_and_names_the_missing_ones():
    c = pre_assessment()
    msg = c.refused(
        "eligibility_assessed",
        "checklist is incomplete",
        outcome="eligible",
        reviewer="dr-li",
        signature_meaning="approved",
        ecog=1,
    )
    for item in ("prior_lines", "organ_function", "active_infection", "antigen_confirmed"):
        assert item in msg
    assert "ecog" not in msg.split("missing", 1)[1].split(";")[0]  # given, so not missing
    assert c.record("eligibility_assessed", reviewer="dr-li", **ELIGIBLE).phase is Phase.PI_REVIEW
    assert signed(c) == [("eligibility_assessed", "coord-1", "approved")]
    assert AuditAction.SIGNED in [e.action for e in c.j.audit]


def test_a_failing_item_is_named_with_the_protocols_threshold():
    c = pre_assessment()
    msg = c.refused(
        "eligibility_assessed",
        "failing",
        reviewer="dr-li",
        **(ELIGIBLE | {"ecog": 2, "prior_lines": 1}),
    )
    assert "ecog 2 (at most 1 expected)" in msg
    assert "prior_lines 1 (at least 2 expected)" in msg


def test_ineligible_records_the_failing_items():
    c = pre_assessment()
    c.record(
        "eligibility_assessed",
        reviewer="dr-li",
        **(
            ELIGIBLE
            | {"outcome": "ineligible", "active_cns_disease": True, "signature_meaning": "reviewed"}
        ),
    )
    assert c.j.state.outcome is Outcome.INELIGIBLE
    assert c.j.state.eligibility_failing == ["active CNS disease"]


def test_an_item_the_protocol_does_not_define_is_refused():
    c = pre_assessment()
    c.refused(
        "eligibility_assessed",
        r"age_years: not an item of protocol default's eligibility checklist",
        reviewer="dr-li",
        **(ELIGIBLE | {"age_years": 50}),
    )


def test_a_protocol_with_age_bounds_checks_age():
    protocol = protocol_with(
        name="adults",
        eligibility_checklist=[*PRESETS["default"].eligibility_checklist, "age"],
        min_age_years=18,
        max_age_years=75,
    )
    c = Case(rules_version=5, protocol=protocol)
    c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    c.refused("eligibility_assessed", "missing age_years", reviewer="dr-li", **ELIGIBLE)
    c.refused(
        "eligibility_assessed", r"age 80 \(expected 18–75\)", reviewer="dr-li",
        **(ELIGIBLE | {"age_years": 80}),
    )  # fmt: skip
    c.record("eligibility_assessed", reviewer="dr-li", **(ELIGIBLE | {"age_years": 60}))


def test_age_in_a_checklist_needs_a_bound():
    with pytest.raises(ValueError, match="age"):
        ProtocolConfig(eligibility_checklist=("age",))


# --- signatures -------------------------------------------------------------------------------


def test_a_signed_decision_needs_a_meaning_that_fits_it():
    c = pre_assessment()
    data = {k: v for k, v in ELIGIBLE.items() if k != "signature_meaning"}
    c.refused("eligibility_assessed", "expected signature_meaning", reviewer="dr-li", **data)
    c.refused(
        "eligibility_assessed",
        "'responsible' does not fit eligibility_assessed outcome=eligible; expected one of: "
        "approved, reviewed",
        reviewer="dr-li",
        **(data | {"signature_meaning": "responsible"}),
    )
    c.refused(
        "eligibility_assessed",
        "does not fit",
        reviewer="dr-li",
        **(data | {"outcome": "more_info_needed", "signature_meaning": "approved"}),
    )
    c.record("eligibility_assessed", reviewer="dr-li", **ELIGIBLE)
    c.record("submitted_to_pi", site="site-a")
    c.refused(
        "pi_decision",
        "'reviewed' does not fit pi_decision decision=accepted",
        site="site-a",
        decision="accepted",
        signature_meaning="reviewed",
    )
    c.refused(
        "pi_decision",
        "input should be 'reviewed', 'approved' or 'responsible'",
        site="site-a",
        decision="accepted",
        signature_meaning="witnessed",
    )
    c.record("pi_decision", site="site-a", **PI_ACCEPTED)
    assert [s[0] for s in signed(c)] == ["eligibility_assessed", "pi_decision"]


def at_pi_decision(*, signers: bool = True) -> Case:
    c = pre_assessment()
    c.j.signers = signers
    c.record("eligibility_assessed", reviewer="dr-li", actor="dr-li", **ELIGIBLE)
    c.record("submitted_to_pi", site="site-a")
    return c


DOCUMENT = "ab" * 32


def test_a_pi_decision_received_in_writing_is_a_transcription_never_the_recorders_signature():
    c = at_pi_decision()
    c.refused(
        "pi_decision",
        "names the PI who signed it",
        site="site-a",
        transcribed_from_sha256=DOCUMENT,
        **PI_ACCEPTED,
    )
    c.refused(
        "pi_decision",
        "only pi-zhang signs their decision",
        site="site-a",
        principal_investigator="pi-zhang",
        **PI_ACCEPTED,
    )
    c.refused(
        "pi_decision",
        "64 hexadecimal characters",
        site="site-a",
        principal_investigator="pi-zhang",
        transcribed_from_sha256="abc",
        **PI_ACCEPTED,
    )
    c.record(
        "pi_decision",
        site="site-a",
        principal_investigator="PI-Zhang",  # staff ids are lower case
        transcribed_from_sha256=DOCUMENT.upper(),
        actor="coord-1",
        **PI_ACCEPTED,
    )
    (*_, pi) = c.j.state.signatures
    assert (pi.signer, pi.transcribed_by, pi.document_sha256) == ("pi-zhang", "coord-1", DOCUMENT)
    (entry,) = [a for a in c.j.audit if a.action == AuditAction.TRANSCRIBED]
    assert entry.actor == "coord-1" and entry.detail["signer"] == "pi-zhang"
    assert not [a for a in c.j.audit if a.action == AuditAction.SIGNED and a.actor == "coord-1"]


def test_the_pi_signs_their_own_decision():
    c = at_pi_decision()
    c.record(
        "pi_decision",
        site="site-a",
        principal_investigator="pi-zhang",
        actor="pi-zhang",
        **PI_ACCEPTED,
    )
    assert signed(c)[-1] == ("pi_decision", "pi-zhang", "approved")
    assert c.j.state.signatures[-1].transcribed_by is None


def test_runs_before_the_signers_patch_refuse_the_new_fields_as_they_did():
    c = at_pi_decision(signers=False)
    c.refused(
        "pi_decision",
        "not taken by this journey until its next run",
        site="site-a",
        principal_investigator="pi-zhang",
        transcribed_from_sha256=DOCUMENT,
        **PI_ACCEPTED,
    )
    c.record("pi_decision", site="site-a", **PI_ACCEPTED)  # as before


# --- consent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (consent("treatment", document_sha256="abc123"), "document_sha256"),
        (consent("treatment", document_sha256="G" * 64), "document_sha256"),
        (consent("surgery"), "consent_type"),
        (consent("treatment", version="v 1!"), "form_version"),
        (consent("treatment", signer="neighbour"), "signer"),
    ],
)
def test_a_malformed_consent_is_refused_naming_the_field(data: dict[str, Any], match: str):
    c = v5()
    c.refused("consent_signed", match, **data)


def test_a_trial_consent_on_a_hospital_journey_is_refused():
    c = v5(program=Program.HOSPITAL)
    c.refused("consent_signed", "program is hospital", **consent("trial"))
    c.record("consent_signed", **consent("treatment"))


def test_conditioning_is_refused_without_consent_and_readiness_naming_each_item():
    c = v5()
    at_conditioning(c, consents_signed=False, ready=False)
    msg = c.refused("conditioning_started", "conditioning_started refused: not ready")
    for item in (
        "treatment consent",
        "trial consent",
        "tls_prophylaxis",
        "tocilizumab: 0 of 2",
        "icu_bed",
        "caregiver",
    ):
        assert item in msg, item
    c.record("consent_signed", **consent("treatment"))
    c.record("consent_signed", **consent("trial"))
    # Prophylaxis started only 10 h before: the protocol asks for 24 h.
    c.record(
        "readiness_checked",
        **(readiness(c.now) | {"tls_prophylaxis_started_at": (c.now - timedelta(hours=10))}),
    )
    msg = c.refused("conditioning_started", "tls_prophylaxis")
    assert "consent" not in msg and "tocilizumab" not in msg
    c.at(hours=14)
    c.record("conditioning_started", regimen="Flu/Cy")


def test_a_journey_started_before_version_5_keeps_its_rules():
    c = Case(rules_version=4)
    at_conditioning(c, consents_signed=False, ready=False)
    c.record("conditioning_started")
    assert c.deadline("readiness") is None


def test_a_new_trial_consent_version_stops_the_next_treatment_step_until_re_consent():
    c = v5()
    at_conditioning(c, consents_signed=True, ready=True)
    c.record("conditioning_started")
    c.record("consent_version_changed", form_version="v2")
    assert any(a.kind == AlertKind.PROTOCOL_DEVIATION for a in c.j.state.alerts)
    c.at(days=3)
    c.refused("conditioning_completed", "current version v2 \\(re-consent\\)")
    c.refused(
        "consent_signed", "is not the trial's current version; expected v2", **consent("trial")
    )
    c.record("consent_signed", **consent("trial", version="v2"))
    c.record("conditioning_completed")
    assert c.j.status().consent_missing == []


def test_withdrawing_treatment_consent_closes_the_journey_as_withdrawn():
    c = v5()
    c.refused("consent_withdrawn", "no treatment consent is held", consent_type="treatment",
              reason="changed her mind")  # fmt: skip
    c.record("consent_signed", **consent("treatment"))
    c.record("consent_withdrawn", consent_type="treatment", reason="changed her mind")
    assert c.j.state.outcome is Outcome.WITHDRAWN
    assert c.j.state.book.deadlines == {}


def test_a_protocol_may_turn_the_consent_gate_off_and_status_says_so():
    protocol = protocol_with(name="no-consent", consent_gate=False)
    c = Case(rules_version=5, protocol=protocol)
    at_conditioning(c, consents_signed=False, ready=True)
    assert c.j.status().gates_off == ["consent before conditioning and registry"]
    c.record("conditioning_started")


# --- readiness --------------------------------------------------------------------------------


def test_the_readiness_deadline_opens_with_the_product_and_closes_when_ready():
    c = v5()
    at_conditioning(c, consents_signed=True, ready=False)
    deadline = c.deadline("readiness")
    assert deadline is not None
    assert deadline.due_at == c.now + timedelta(days=3)
    status = c.j.status()
    assert [g.item for g in status.readiness if not g.done] == [
        "tls_prophylaxis",
        "tocilizumab",
        "icu_bed",
        "caregiver",
    ]
    assert [e.kind for e in status.expected][:1] == ["readiness_checked"]
    c.record("readiness_checked", tocilizumab_doses=2, icu_bed_confirmed=True)
    assert c.deadline("readiness") is not None
    c.record(
        "readiness_checked",
        tls_prophylaxis_started_at=c.now - timedelta(days=1),
        caregiver_present=True,
    )
    assert c.deadline("readiness") is None


def test_readiness_refuses_an_empty_record_and_an_item_the_protocol_does_not_define():
    protocol = protocol_with(name="no-icu", readiness_checklist=["tls_prophylaxis", "tocilizumab"])
    c = Case(rules_version=5, protocol=protocol)
    at_conditioning(c, consents_signed=True, ready=False)
    c.refused("readiness_checked", "expected at least one readiness item")
    c.refused("readiness_checked", "icu_bed_confirmed: not an item", icu_bed_confirmed=True)
    c.refused("readiness_checked", "tocilizumab_doses", tocilizumab_doses=-1)
    c.refused("readiness_checked", "in the future",
              tls_prophylaxis_started_at=c.now + timedelta(days=1))  # fmt: skip


def test_the_allogeneic_readiness_deadline_opens_when_the_patient_is_cleared():
    c = v5(cell_source=CellSource.ALLOGENEIC)
    c.to_arrival()
    c.at(days=7)
    c.arrive_and_clear()
    assert c.phase is Phase.CONDITIONING
    # Every item was recorded? No: arrive_and_clear signs consents only; readiness is open.
    assert c.deadline("readiness") is not None


# --- discharge, hand-over, registry ------------------------------------------------------------


def followed_up(**kw: Any) -> Case:
    c = v5(**kw)
    c.to_infusion()
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    c.at(days=29)
    return c


def test_discharge_is_signed_and_opens_the_handover_deadline():
    c = followed_up()
    c.refused("discharged", "expected signature_meaning")
    c.refused("discharged", "does not fit", signature_meaning="reviewed")
    c.record("discharged", **DISCHARGE)
    assert c.phase is Phase.FOLLOW_UP
    handover = c.deadline("handover_summary")
    assert handover is not None and handover.due_at == c.now + timedelta(days=3)
    assert ("discharged", "coord-1", "responsible") in signed(c)


def test_returning_home_before_the_handover_records_a_deviation():
    c = followed_up()
    c.record("discharged", **DISCHARGE)
    c.at(days=14)
    c.record("returned_home")
    texts = [a.text for a in c.j.state.alerts if a.kind == AlertKind.PROTOCOL_DEVIATION]
    assert any("before the hand-over summary was sent" in t for t in texts)


def test_the_handover_meets_its_deadline_and_then_home_is_no_deviation():
    c = followed_up()
    c.record("discharged", **DISCHARGE)
    c.refused("handover_sent", "bundle_sha256", bundle_sha256="xyz", resources=9, channel="email")
    c.record("handover_sent", bundle_sha256="ab" * 32, resources=9, channel="email")
    assert c.deadline("handover_summary") is None
    c.at(days=14)
    c.record("returned_home")
    texts = [a.text for a in c.j.state.alerts]
    assert not any("hand-over" in t for t in texts)


def test_registry_deadlines_open_only_with_registry_consent():
    c = v5()
    at_conditioning(c, consents_signed=True, ready=True, only=("treatment", "trial"))
    c.record("conditioning_started")
    c.at(days=3)
    c.record("conditioning_completed")
    c.at(hours=30)
    c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    c.at(days=29)
    c.record("discharged", **DISCHARGE)
    assert not [n for n in c.j.state.book.deadlines if n.startswith("registry_")]
    c.at(days=80)
    c.refused("registry_reported", "needs the patient's registry consent", window="day_100")
    c.record("consent_signed", **consent("registry"))
    assert "registry_day_100" in c.j.state.book.deadlines
    c.record("registry_reported", window="day_100")
    c.record("consent_withdrawn", consent_type="registry", reason="no more registry")
    assert not [n for n in c.j.state.book.deadlines if n.startswith("registry_")]
    assert c.phase is Phase.FOLLOW_UP


# --- a critical acknowledgement is signed ------------------------------------------------------


def test_acknowledging_a_critical_alert_is_a_signed_decision():
    c = followed_up()
    c.at(days=-28)
    o = ObservationInput(
        observed_at=c.now, actor="nurse-1", temperature_c=39.5, systolic_bp=80, vasopressors=2
    )
    c.j.apply_observation(o, c.j.check_observation(o, c.now), c.now)
    alert = next(a for a in c.j.state.alerts if a.severity is Severity.CRITICAL)
    from models.errors import Refused

    with pytest.raises(Refused, match="expected signature_meaning"):
        c.j.check_acknowledge(AcknowledgeAlertInput(alert_id=alert.id, actor="dr-wang"))
    ack = AcknowledgeAlertInput(alert_id=alert.id, actor="dr-wang", signature_meaning="responsible")
    c.j.apply_acknowledge(ack, c.now)
    assert ("alert_acknowledged", "dr-wang", "responsible") in signed(c)


# --- the options aid --------------------------------------------------------------------------


def test_the_options_aid_suggests_from_the_facts_with_its_source():
    c = v5(prior_car_t=True, antigen_negative_relapse=["CD19"], older_adult=True)
    hints = c.j.status().options
    assert hints[0].fact == "CD19-negative relapse after CAR-T (antigen escape)"
    assert "different target" in hints[0].consider
    assert all(h.source.startswith("seed 001") for h in hints)
    assert any(h.fact == "age over 65" for h in hints)
    plain = v5()
    assert plain.j.status().options == []
    aml = v5(indication="AML (relapsed)")
    assert [h.fact for h in aml.j.status().options] == ["AML"]
    her2 = v5(indication="breast cancer", target_antigens=["HER2"], local_access=False)
    assert [h.fact for h in her2.j.status().options] == [
        "HER2+ solid tumour",
        "no approved CAR-T available or affordable at home",
    ]


def test_the_options_aid_never_gates_and_leaves_once_treatment_starts():
    c = v5(poor_t_cell_quality=True)
    assert [h.fact for h in c.j.status().options] == ["poor T-cell quality"]
    at_conditioning(c, consents_signed=True, ready=True)
    assert c.j.status().options == []


def test_a_journey_carried_into_a_new_run_keeps_version_4_and_a_new_one_gets_5():
    carried = Case(rules_version=4)
    carried.j.upgrade_rules(carried.now, carried=True, to=5)
    assert carried.j.state.rules_version == 4 and not carried.j.v5
    new = Case(rules_version=4)
    new.j.upgrade_rules(new.now, carried=False, to=5)
    assert new.j.state.rules_version == 5 and new.j.v5


def test_the_meanings_a_form_offers_are_every_one_that_can_fit_and_no_other():
    """`SIGNED_DECISIONS` (what the console offers) may not drift from `fitting_meanings`."""
    from types import SimpleNamespace

    from models.enums import MilestoneKind
    from models.pathway import gates

    outcomes = {
        MilestoneKind.ELIGIBILITY_ASSESSED: [{"outcome": o} for o in ("eligible", "ineligible")],
        MilestoneKind.PI_DECISION: [{"decision": d} for d in ("accepted", "declined")],
        MilestoneKind.DISCHARGED: [{}],
    }
    for kind, variants in outcomes.items():
        fitting = {m for v in variants for m in gates.fitting_meanings(kind, SimpleNamespace(**v))}
        assert fitting == set(gates.SIGNED_DECISIONS[kind]), kind
