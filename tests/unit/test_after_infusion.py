"""After infusion, watched (runs under `WATCHED`): laboratory results and the complications
they show, serious adverse events reported to a trial's sponsor, death, response with MRD,
relapse and the way back, bridging that moves conditioning, the registry's track by consent.

Journeys are driven by hand through `Journey` (no Temporal); earlier runs refuse it all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.enums import AlertKind, Outcome, Phase, Program, Severity
from models.errors import Refused
from models.messages import WithdrawInput
from models.protocol import PRESETS
from tests.builders import Case, monitoring_case


def watched(**kw) -> Case:
    """A trial journey under `WATCHED` (rules version 5), just infused."""
    return monitoring_case(watched=True, rules_version=5, **kw)


def kinds(c: Case) -> list[str]:
    return [a.kind for a in c.j.state.alerts if a.open]


# --- laboratory results -----------------------------------------------------------------------


def test_laboratory_results_need_no_vital_signs_and_do_not_meet_the_bedside_deadline() -> None:
    c = watched()
    due = c.deadline("observation").due_at
    c.at(hours=3)
    ack = c.observe(anc_per_ul=800, platelets_per_ul=60_000, hemoglobin_g_dl=9.1)
    assert (ack.anc_grade, ack.platelet_grade, ack.anaemia_grade) == (3, 2, 2)
    assert ack.crs_grade is None and ack.icans_grade is None
    assert c.deadline("observation").due_at == due  # a laboratory result is not a bedside visit
    assert c.j.status().toxicity.last_observed_at is None
    assert [lab.name for lab in c.j.status().labs] == [
        "anc_per_ul",
        "platelets_per_ul",
        "hemoglobin_g_dl",
    ]
    c.observe_refused("go together", temperature_c=38.0, anc_per_ul=300)


@pytest.mark.parametrize(
    ("finding", "words"),
    [
        ({"anc_per_ul": 0.4}, "anc_per_ul: is not a whole count.*×10⁹/L or a percentage"),
        ({"igg_mg_dl": 4.2}, "igg_mg_dl: looks like g/L; expected mg/dL"),
        ({"platelets_per_ul": 20}, r"platelets_per_ul: looks like ×10⁹/L.*expected per µL"),
        ({"hemoglobin_g_dl": 85}, "hemoglobin_g_dl: looks like g/L; expected g/dL"),
        ({"creatinine_mg_dl": 133}, "creatinine_mg_dl: looks like µmol/L"),
        ({"calcium_mg_dl": 2.2}, "calcium_mg_dl: looks like mmol/L"),
        ({"potassium_mmol_l": 40}, "potassium_mmol_l: is out of range; expected mmol/L, 1 to 12"),
        ({"transfusion": ["plasma"]}, "transfusion"),
        ({"infection": {"organism": "E. coli"}}, "infection.site"),
        ({"infusion_reaction_grade": 6}, "infusion_reaction_grade"),
    ],
)
def test_a_value_in_the_wrong_unit_is_refused_naming_the_unit(
    finding: dict[str, object], words: str
) -> None:
    watched().observe_refused(words, **finding)


def test_runs_before_the_patch_refuse_laboratory_results_as_they_always_did() -> None:
    c = monitoring_case(rules_version=5)
    c.observe_refused("taken from this journey's next run", anc_per_ul=300)
    c.observe_refused("temperature_c and systolic_bp are required in every observation$", spo2=97)


def test_laboratory_results_are_taken_in_follow_up_and_nowhere_before_infusion() -> None:
    c = watched()
    c.at(days=29)
    c.record("discharged", actor="dr-li", signature_meaning="responsible")
    assert c.phase is Phase.FOLLOW_UP
    c.observe(igg_mg_dl=650)
    c.observe_refused("required", spo2=96)  # vital signs alone: the bedside is over
    early = Case(watched=True, rules_version=5)
    early.observe_refused(
        "observations are recorded in phase 'monitoring' or 'follow_up'", anc_per_ul=1
    )


# --- complications ----------------------------------------------------------------------------


def test_neutropenic_fever_alerts_once_and_again_when_it_comes_back() -> None:
    c = watched()
    c.at(hours=2)
    c.observe(temperature_c=38.3, systolic_bp=118)
    assert AlertKind.NEUTROPENIC_FEVER not in kinds(c)
    c.at(hours=1)
    ack = c.observe(anc_per_ul=300)  # the ANC within 48 h of the fever
    [alert] = [a for a in ack.alerts if a.kind == AlertKind.NEUTROPENIC_FEVER]
    assert alert.severity is Severity.URGENT and "ANC 300/µL" in alert.text
    c.at(hours=4)
    assert not [a for a in c.observe(anc_per_ul=200).alerts if a.kind == "neutropenic_fever"]
    c.at(hours=6)
    c.observe(temperature_c=37.0, systolic_bp=120)  # afebrile: the episode is over
    assert "neutropenic_fever" not in c.j.state.watching
    c.at(hours=6)
    again = c.observe(temperature_c=38.9, systolic_bp=112)
    assert [a.kind for a in again.alerts if a.kind == "neutropenic_fever"] == ["neutropenic_fever"]


def test_tumour_lysis_laboratory_is_urgent_and_clinical_critical() -> None:
    c = watched()
    c.at(hours=12)
    ack = c.observe(uric_acid_mg_dl=9.1, potassium_mmol_l=6.2, creatinine_mg_dl=1.1)
    assert ack.tumour_lysis == "laboratory"
    [lab] = ack.alerts
    assert (lab.kind, lab.severity) == ("tumour_lysis", Severity.URGENT)
    c.at(hours=2)
    ack = c.observe(creatinine_mg_dl=2.0)  # ≥ 1.5 × the upper limit of normal (1.2)
    assert ack.tumour_lysis == "clinical"
    assert [(a.kind, a.severity) for a in ack.alerts] == [("tumour_lysis", Severity.CRITICAL)]
    # After the watch window (7 days after the infusion) Cairo–Bishop no longer applies.
    c.at(days=8)
    assert c.observe(uric_acid_mg_dl=9.0, potassium_mmol_l=6.5).tumour_lysis is None


def test_an_infusion_reaction_of_grade_3_is_critical_and_later_ones_are_adverse_events() -> None:
    c = watched()
    c.at(hours=1)
    ack = c.observe(temperature_c=37.8, systolic_bp=88, infusion_reaction_grade=3)
    assert ("infusion_reaction", Severity.CRITICAL) in [(a.kind, a.severity) for a in ack.alerts]
    c.at(hours=24)
    c.observe_refused("first 24 h after the infusion.*adverse_event", infusion_reaction_grade=2)


def test_prolonged_cytopenia_from_day_28_with_the_icaht_grade() -> None:
    c = watched()
    c.at(days=10)
    c.observe(anc_per_ul=90)
    c.at(days=16)  # day 27
    assert not c.observe(anc_per_ul=400).alerts
    c.at(days=2)  # day 29
    [alert] = c.observe(platelets_per_ul=15_000).alerts
    assert alert.kind == "prolonged_cytopenia" and alert.severity is Severity.URGENT
    assert "ANC 400/µL, platelets 15000/µL" in alert.text and "ICAHT grade 3" in alert.text
    c.at(days=3)
    assert not c.observe(anc_per_ul=450).alerts  # still present: no second alert
    c.at(days=3)
    c.observe(anc_per_ul=1_200, platelets_per_ul=60_000)
    assert "prolonged_cytopenia" not in c.j.state.watching


def test_low_igg_alerts_and_asks_for_an_ivig_review_monthly_while_low() -> None:
    c = watched()
    c.at(days=20)
    [alert] = c.observe(igg_mg_dl=320).alerts
    assert alert.kind == "low_igg" and "below 400" in alert.text
    first = c.deadline("ivig_review").due_at
    assert first == c.now + timedelta(days=30)
    c.at(days=30)
    assert not c.observe(igg_mg_dl=360, ivig_given=True).alerts
    assert c.deadline("ivig_review").due_at == c.now + timedelta(days=30)
    c.at(days=10)
    c.observe(igg_mg_dl=520)
    assert c.deadline("ivig_review") is None and "low_igg" not in c.j.state.watching


# --- serious adverse events and death ---------------------------------------------------------


def test_a_trial_reports_a_serious_adverse_event_within_24_hours_of_awareness() -> None:
    c = watched()
    c.refused("sae_reported", "no serious adverse event is waiting", sponsor_reference="X")
    c.at(hours=5)
    aware = c.now + timedelta(hours=-1)
    c.record(
        "adverse_event",
        occurred_at=c.now - timedelta(hours=2),
        term="sepsis",
        grade=4,
        serious=True,
        related_to_product=False,
        aware_at=aware.isoformat(),
    )
    d = c.deadline("sae_report")
    assert d.due_at == aware + timedelta(hours=24) and d.clinical
    assert "sepsis grade 4" in d.summary
    assert "serious_adverse_event" in kinds(c)
    c.record("sae_reported", sponsor_reference="SP-0001")
    assert c.deadline("sae_report") is None
    assert c.j.status().sae_reports[0].sponsor_reference == "SP-0001"


def test_critical_alerts_and_icu_admissions_are_reportable_in_a_trial_only() -> None:
    c = watched()
    c.at(hours=8)
    c.observe(temperature_c=39.0, systolic_bp=80, vasopressors=2, oxygen_device="face_mask")
    c.record("icu_admitted", reason="grade 4 CRS")
    assert [r.what.split(":")[0] for r in c.j.status().sae_reports] == [
        "crs alert",
        "ICU admission",
    ]
    assert "(+1 more)" in c.deadline("sae_report").summary
    hospital = watched(program=Program.HOSPITAL)
    hospital.at(hours=8)
    hospital.record("icu_admitted", reason="grade 4 CRS")
    assert hospital.deadline("sae_report") is None and not hospital.j.state.sae_reports


def test_death_in_a_trial_waits_for_its_report_then_closes_died() -> None:
    c = watched()
    c.at(days=3)
    c.record("death", cause="refractory CRS", related_to_product=True)
    assert c.phase is Phase.MONITORING and c.j.state.outcome is None
    assert sorted(c.j.book.deadlines) == ["sae_report"]  # no reminder to anyone else
    assert all(not a.open for a in c.j.state.alerts)
    assert c.j.expected_kinds() == ["sae_reported"]
    c.refused("death", "the patient died")
    c.refused("discharged", "the patient died", actor="dr-li", signature_meaning="responsible")
    c.observe_refused("the patient died", temperature_c=37.0, systolic_bp=120)
    with pytest.raises(Refused, match="closes as died once the death is reported"):
        c.j.check_withdraw(WithdrawInput(reason="family asked", actor="coord-1"))
    c.record("sae_reported", sponsor_reference="SP-9")
    assert c.phase is Phase.CLOSED and c.j.state.outcome is Outcome.DIED


def test_death_outside_a_trial_closes_at_once() -> None:
    c = watched(program=Program.HOSPITAL)
    c.at(days=40)
    c.record("death", cause="disease progression", related_to_product=False)
    assert c.j.state.outcome is Outcome.DIED and not c.j.book.deadlines


def test_runs_before_the_patch_refuse_the_new_kinds() -> None:
    c = monitoring_case(rules_version=5)
    c.refused("death", "unknown milestone kind 'death'", cause="x", related_to_product=False)
    c.refused("relapse_detected", "unknown milestone kind 'relapse_detected'")


# --- response, MRD, relapse -------------------------------------------------------------------


def test_response_months_with_mrd_and_progression_opening_the_way_back() -> None:
    c = watched(target_antigens=["CD19"])
    months = [n for n in c.j.book.deadlines if n.startswith("response_month_")]
    assert sorted(months) == [f"response_month_{m}" for m in (1, 12, 3, 6)]
    c.at(days=30)
    c.refused("response_assessed", "expected mrd_method", response="CR", mrd="negative")
    c.record(
        "response_assessed", response="CR", mrd="negative", mrd_method="flow", mrd_sensitivity=1e-4
    )
    assert c.deadline("response_month_1") is None and c.j.state.response_months_done == [1]
    c.refused("response_assessed", "month-1 response is already recorded", response="CR", month=1)
    c.at(days=60)
    c.record("response_assessed", response="PD", month=3)
    [alert] = [a for a in c.j.state.alerts if a.kind == "relapse"]
    assert alert.severity is Severity.URGENT and "Progression (PD)" in alert.text
    assert c.deadline("re_referral").due_at == c.now + timedelta(days=14)
    c.record("re_referral_decided", decision="referred", therapy="car_nk")
    assert c.deadline("re_referral") is None


def test_a_cd19_negative_relapse_points_to_another_target() -> None:
    c = watched()
    c.at(days=90)
    c.record("relapse_detected", antigen_status="CD19-negative", method="flow")
    assert c.deadline("re_referral") is not None
    [hint] = c.j.status().options
    assert hint.fact.startswith("CD19-negative relapse after this CAR-T")
    assert "CAR NK" in hint.consider and "seed 001" in hint.source
    c.record("re_referral_decided", decision="not_referred")
    assert c.j.status().options == []


def test_a_relapse_before_the_infusion_is_refused() -> None:
    c = Case(watched=True, rules_version=5)
    c.refused("relapse_detected", "not expected in phase 'intake'")
    m = watched()
    c_time = m.j.state.infused_at - timedelta(hours=1)
    m.refused(
        "relapse_detected", "before the previous milestone|after the infusion", occurred_at=c_time
    )


# --- bridging and the registry ----------------------------------------------------------------


def test_bridging_therapy_moves_conditioning_by_its_regimen() -> None:
    c = Case(watched=True, rules_version=5)
    c.to_arrival()
    c.at(days=7)
    c.arrive_and_clear()
    c.record("apheresis_completed", coi_id="COI-1")
    c.record("manufacturing_started")
    c.refused("bridging_therapy_started", "not one of the protocol's", regimen="venetoclax")
    c.record("bridging_therapy_started", regimen="radiotherapy")
    ends = c.now + timedelta(days=14)
    c.at(days=3)
    c.record("product_released", lot="LOT-1", coi_id="COI-1")
    assert c.deadline("conditioning").due_at == ends + timedelta(days=5)
    c.record("bridging_therapy_started", regimen="other", days=20)
    assert c.deadline("conditioning").due_at == c.now + timedelta(days=25)
    old = Case(rules_version=5)
    old.to_arrival()
    old.at(days=7)
    old.arrive_and_clear()
    old.record("apheresis_completed", coi_id="COI-1")
    old.refused("bridging_therapy_started", "days is taken from this journey's next run", days=3)


def test_the_registry_track_follows_consent() -> None:
    c = watched()
    assert c.deadline("registry_pre_infusion") is not None  # opened at conditioning
    assert c.deadline("registry_infusion").due_at == c.j.day(14)
    c.record("registry_reported", window="pre_infusion", form="CIBMTR F4000")
    c.at(days=2)
    c.record("registry_reported", window="infusion", form="CIBMTR F4006")
    c.refused("registry_reported", "day 100 .*opens", window="day_100")
    c.record("consent_withdrawn", consent_type="registry", reason="the patient asked")
    assert not [n for n in c.j.book.deadlines if n.startswith("registry_")]
    minimal = PRESETS["default"].model_copy(update={"registry_minimal_track": ("day_100",)})
    m = watched(protocol=minimal)
    m.record("consent_withdrawn", consent_type="registry", reason="the patient asked")
    m.at(days=29)
    m.record("discharged", actor="dr-li", signature_meaning="responsible")
    assert [n for n in m.j.book.deadlines if n.startswith("registry_")] == ["registry_day_100"]


def test_the_yearly_registry_forms_open_one_at_a_time() -> None:
    c = watched()
    c.at(days=29)
    c.record("discharged", actor="dr-li", signature_meaning="responsible")
    registry = sorted(n for n in c.j.book.deadlines if n.startswith("registry_"))
    assert "registry_year_2" in registry and "registry_year_3" not in registry
    c.at(days=800)
    c.record("registry_reported", window="year_2", form="F4100")
    assert c.deadline("registry_year_3") is not None


def test_a_journey_past_conditioning_when_the_patch_comes_keeps_its_follow_up() -> None:
    """Its next run watches it (labs, alerts, reports, death) but asks nothing it was never
    scheduled for: no response months, no registry forms, the follow-up it started with."""
    c = monitoring_case(rules_version=5)
    c.j.watch()
    assert c.j.watched and not c.j.tracked
    c.at(days=20)
    assert [a.kind for a in c.observe(igg_mg_dl=300).alerts] == ["low_igg"]
    c.at(days=9)
    c.record("discharged", actor="dr-li", signature_meaning="responsible")
    names = set(c.j.book.deadlines)
    assert "response_assessment" in names
    assert not {n for n in names if n.startswith("response_month_")}
    assert not {"registry_pre_infusion", "registry_infusion"} & names
    c.refused("response_assessed", "month taken by journeys", response="CR", month=3)
    c.record("response_assessed", response="CR", mrd="negative", mrd_method="flow")
    assert c.deadline("response_assessment") is None
